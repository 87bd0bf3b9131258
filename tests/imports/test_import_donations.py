import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from donors.models import Donation, DonationBatch
from donors.services import donation_amounts

from .conftest import HEADER, counts, write_file

GOOD = HEADER + (
    "BANK-1,DON-0001,2025-03-02,100.50,GBP,bank_transfer,PLG-0001,,March gift\n"
    "BANK-2,DON-0002,2025-03-05,200,USD,card,PLG-0002,,\n"
    "BANK-3,DON-0002,2025-02-10,10.01,USD,,,0.81234567,rate given\n"
)


def run(path, *args, **kwargs):
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("import_data", "donations", path, *args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def test_it_imports_a_file_as_one_open_batch_of_drafts_per_currency(ledger, tmp_path):
    out, _ = run(write_file(tmp_path, "march.csv", GOOD))
    gbp, usd = DonationBatch.objects.order_by("currency")
    assert gbp.reference.startswith("IMP-march.csv-") and gbp.reference.endswith("-GBP")
    assert usd.reference == gbp.reference.removesuffix("-GBP") + "-USD"
    assert (gbp.currency, gbp.expected_count, gbp.expected_total, gbp.status) == ("GBP", 1, Decimal("100.50"), "open")
    assert (usd.currency, usd.expected_count, usd.expected_total, usd.status) == ("USD", 2, Decimal("210.01"), "open")
    assert set(usd.donations.values_list("reference", flat=True)) == {"BANK-2", "BANK-3"}
    assert set(Donation.objects.values_list("status", flat=True)) == {"draft"}
    assert "3 new imported, 0 unchanged" in out
    assert f"Batch {usd.reference}: 2 donation(s), control total USD 210.01, open" in out


def test_it_posts_with_the_same_rate_rule_as_donation_post(ledger, tmp_path, finance_user):
    run(write_file(tmp_path, "march.csv", GOOD), "--post", "--user", finance_user.username)
    for batch in DonationBatch.objects.all():
        assert batch.status == "posted" and batch.posted_by == finance_user
    usd = Donation.objects.get(reference="BANK-2")
    assert (usd.status, usd.rate, usd.rate_date, usd.base_amount) == (
        "posted",
        Decimal("0.79000000"),
        dt.date(2025, 3, 1),
        Decimal("158.00"),
    )
    assert usd.pledge_amount == Decimal("200.00")
    given = Donation.objects.get(reference="BANK-3")
    assert (given.rate, given.rate_source, given.base_amount) == (Decimal("0.81234567"), "entered", Decimal("8.13"))
    for donation in Donation.objects.all():
        fresh = Donation(**{f.attname: getattr(donation, f.attname) for f in Donation._meta.concrete_fields})
        fresh.rate = None if donation.rate_source != "entered" else donation.rate
        assert donation_amounts(fresh)["base_amount"] == donation.base_amount
    assert usd.history.count() == 1


def test_reimporting_the_same_file_changes_nothing_and_says_so_row_by_row(ledger, tmp_path):
    path = write_file(tmp_path, "march.csv", GOOD)
    run(path, "--post")
    before = counts()
    out, _ = run(path, "--post")
    assert counts() == before
    assert "Line 2: BANK-1 unchanged" in out and "Line 4: BANK-3 unchanged" in out
    assert "imported before as batch IMP-march.csv-" in out
    assert "0 new imported, 3 unchanged" in out


def test_a_recorded_reference_with_different_content_is_an_error(ledger, tmp_path):
    run(write_file(tmp_path, "march.csv", GOOD))
    before = counts()
    changed = GOOD.replace("100.50", "100.51")
    with pytest.raises(CommandError, match="1 error"):
        _, err = run(write_file(tmp_path, "march2.csv", changed))
    assert counts() == before


def test_dry_run_writes_nothing(ledger, tmp_path):
    before = counts()
    out, _ = run(write_file(tmp_path, "march.csv", GOOD), "--dry-run")
    assert counts() == before
    assert "Dry run: 3 row(s): 3 new would be imported" in out


def test_a_pledge_without_a_rate_in_its_currency_is_reported_in_the_pledge_ref_column(ledger, tmp_path):
    """The file has no column named pledge: the error names the column the pledge came from."""
    from tests.factories import PledgeFactory

    PledgeFactory(ref="PLG-EUR", donor=ledger["first"], currency="EUR")
    content = HEADER + "BANK-1,DON-0001,2025-03-02,100.50,GBP,,PLG-EUR,,\n"
    before = counts()
    err = StringIO()
    with pytest.raises(CommandError, match="1 error"):
        call_command("import_data", "donations", write_file(tmp_path, "eur.csv", content), "--post", stderr=err)
    assert err.getvalue().strip() == (
        "Line 2, column pledge_ref: The pledge is in EUR but the donation is in GBP, "
        "and there is no EUR rate on or before 2025-03-02."
    )
    assert counts() == before


def test_posting_a_future_dated_row_is_refused_with_its_line_and_column(ledger, tmp_path):
    later = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    content = HEADER + "BANK-1,DON-0001,2025-03-02,100.50,GBP,,,,\n" + f"BANK-2,DON-0001,{later},5.00,GBP,,,,\n"
    path = write_file(tmp_path, "later.csv", content)
    before = counts()
    err = StringIO()
    with pytest.raises(CommandError, match="1 error"):
        call_command("import_data", "donations", path, "--post", stderr=err)
    assert err.getvalue().strip() == (
        f"Line 3, column received_on: The date received, {later}, is in the future (today is "
        f"{timezone.localdate().isoformat()}); a donation is posted on or after the day it is received."
    )
    assert counts() == before
    run(path)  # as drafts, to post on the day
    assert Donation.objects.get(reference="BANK-2").status == "draft"


def test_an_instalment_file_whose_schedule_does_not_add_up_to_the_pledge_is_refused(ledger, tmp_path):
    from donors.models import Instalment

    content = "pledge_ref,due_date,amount\n" + "".join(
        f"PLG-0001,2025-0{month}-01,100.00\n" for month in (1, 4, 7)
    )  # the factory's pledge is for 1000.00
    err = StringIO()
    with pytest.raises(CommandError, match="1 error"):
        call_command("import_data", "instalments", write_file(tmp_path, "schedule.csv", content), stderr=err)
    assert err.getvalue().strip() == (
        "Line 2, column amount: Pledge PLG-0001: The instalments add up to 300.00 GBP, "
        "but the pledge total is 1000.00 GBP."
    )
    assert not Instalment.objects.exists()


def test_references_with_array_punctuation_are_found_again(ledger, tmp_path):
    """A chunk's references go to the database as one array: quotes, commas, braces and
    backslashes in them still match exactly."""
    references = ['A,"B"', "{C}", "D\\E", "NULL", "F G"]
    content = HEADER + "".join('"' + r.replace('"', '""') + '",DON-0001,2025-03-02,1.00,GBP,,,,\n' for r in references)
    path = write_file(tmp_path, "odd.csv", content)
    run(path)
    assert sorted(Donation.objects.values_list("reference", flat=True)) == sorted(references)
    out, _ = run(path)
    assert f"{len(references)} row(s): 0 new imported, {len(references)} unchanged" in out
