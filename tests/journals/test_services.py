"""Journal export: entries per batch, day and reversal; where each line goes; exported exactly once;
a posting the account map cannot place is refused by name."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice.errors import LedgerError
from donors import services as donor_services
from donors.models import ImmutableRecordError
from journals.models import AccountMap, JournalEntry, JournalExport, JournalItem
from journals.services import journal_export
from journals.writers import GENERIC_COLUMNS, QUICKBOOKS_COLUMNS, XERO_COLUMNS
from tests.factories import OutputFactory, PledgeFactory, ProgrammeFactory, RateFactory, role_user
from tests.spending.helpers import agreement_with_budget, line

from .helpers import account_map, posted_batch, posted_donation, posted_expense, rows, tomorrow


@pytest.fixture
def finance(db):
    return role_user("Finance")


def by_entry(content: bytes, key="entry") -> dict[str, list[dict]]:
    entries: dict[str, list[dict]] = {}
    for row in rows(content):
        entries.setdefault(row[key], []).append(row)
    return entries


def test_a_posted_batch_is_one_balanced_entry_in_base_currency_with_its_original_amounts(finance):
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.79000000"))
    account_map(currencies=("USD",))
    posted_batch(amounts=[Decimal("100.01"), Decimal("200.02"), Decimal("0.03")], currency="USD",
                 reference="B-12", method="cheque", by=finance)  # fmt: skip

    export = journal_export(format="generic", by=finance, today=tomorrow())

    [entry] = by_entry(bytes(export.content)).values()
    # 100.01 × 0.79 = 79.0079 → 79.01; 200.02 × 0.79 = 158.0158 → 158.02; 0.03 × 0.79 = 0.0237 → 0.02
    assert [(r["account_code"], r["debit"], r["credit"]) for r in entry] == [
        ("4002", "", "237.05"),  # unrestricted donations by cheque
        ("1200", "237.05", ""),  # the USD bank account
    ]
    assert {r["narration"] for r in entry} == {"Donation batch B-12"}
    assert [(r["original_currency"], r["original_amount"], r["records"]) for r in entry] == [
        ("USD", "-300.06", "3"),
        ("USD", "300.06", "3"),
    ]
    assert entry[0]["description"] == "Unrestricted donations by cheque: 3 records, USD -300.06"
    assert export.entry_count == 1 and export.total_debits == Decimal("237.05") and export.currency == "GBP"


def test_restricted_donations_carry_their_programme_and_expenses_their_cost_centres(finance):
    programme = ProgrammeFactory(code="MNR", name="Model National Response")
    output = OutputFactory(programme=programme)
    account_map(programmes=[programme])
    pledge = PledgeFactory(restricted_output=output)
    posted_donation(donor=pledge.donor, pledge=pledge, amount=Decimal("500.00"), method="bank_transfer", by=finance)
    agreement = agreement_with_budget()
    posted_expense(
        reference="INV-1", amount="100.00", charges=[(line(agreement, "A1"), "60.00"), (line(agreement, "A2"), "30.00")]
    )

    export = journal_export(format="xero", by=finance, today=tomorrow())

    content = rows(bytes(export.content))
    donation_lines = [r for r in content if "Donations posted outside a batch" in r["Narration"]]
    assert [(r["AccountCode"], r["Amount"], r["TrackingName1"], r["TrackingOption1"]) for r in donation_lines] == [
        ("4004", "-500.00", "Programme", "Model National Response"),  # restricted, bank transfer
        ("1200", "500.00", "", ""),
    ]
    expense_lines = [r for r in content if "Expenses posted on" in r["Narration"]]
    assert [(r["AccountCode"], r["Amount"], r["Description"]) for r in expense_lines] == [
        ("5000", "60.00", "Cost, budget category “Personnel”: 1 record, GBP 60.00"),
        ("5001", "30.00", "Cost, budget category “Travel”: 1 record, GBP 30.00"),
        ("5008", "10.00", "Cost, budget category “Not charged to a budget line”: 1 record, GBP 10.00"),
        ("1200", "-100.00", "Paid from the GBP bank account: 1 record, GBP -100.00"),
    ]
    assert all(r["TaxRate"] == "No VAT" for r in content)


def test_a_reversal_is_its_own_entry_with_the_sides_swapped(finance):
    account_map()
    donation = posted_donation(reference="BANK-9", amount=Decimal("80.00"), by=finance)
    journal_export(format="generic", by=finance, today=tomorrow())
    donor_services.donation_reverse(donation=donation, by=finance, reason="Bounced")

    export = journal_export(format="generic", by=finance, today=tomorrow())

    [entry] = by_entry(bytes(export.content)).values()
    assert [(r["account_code"], r["debit"], r["credit"], r["kind"]) for r in entry] == [
        ("4000", "80.00", "", "donation_reversal"),
        ("1200", "", "80.00", "donation_reversal"),
    ]
    assert entry[0]["narration"] == "Reversal BANK-9-REV of donation BANK-9"


def test_every_posting_is_exported_once_and_a_second_export_holds_only_the_new_ones(finance):
    account_map()
    posted_batch(amounts=[Decimal("10.00"), Decimal("20.00")], reference="B-1", by=finance)
    first = journal_export(format="quickbooks", by=finance, since=dt.date(2025, 1, 1), today=tomorrow())
    posted_batch(amounts=[Decimal("5.00")], reference="B-2", by=finance)

    second = journal_export(format="quickbooks", by=finance, since=dt.date(2025, 1, 1), today=tomorrow())

    assert [e.narration for e in first.entries.all()] == ["Donation batch B-1"]
    assert [e.narration for e in second.entries.all()] == ["Donation batch B-2"]
    assert {r["Journal No"] for r in rows(bytes(first.content))}.isdisjoint(
        {r["Journal No"] for r in rows(bytes(second.content))}
    )
    assert JournalItem.objects.filter(entry__export=first).count() == 2
    with pytest.raises(LedgerError, match="Nothing to export since 2025-01-01"):
        journal_export(format="quickbooks", by=finance, since=dt.date(2025, 1, 1), today=tomorrow())


def test_postings_outside_a_batch_wait_until_their_day_is_over(finance):
    account_map()
    posted_donation(amount=Decimal("12.00"), by=finance)
    with pytest.raises(LedgerError, match="a day is exported once it is over"):
        journal_export(format="generic", by=finance)
    export = journal_export(format="generic", by=finance, today=tomorrow())
    assert export.entries.get().kind == JournalEntry.Kind.DONATION_DAY


def test_a_donation_without_an_income_account_is_refused_by_name_and_nothing_is_logged(finance):
    programme = ProgrammeFactory()
    account_map(programmes=[programme])
    AccountMap.objects.filter(kind="income", restriction="restricted", method="cheque").delete()
    AccountMap.objects.filter(kind="bank").delete()
    pledge = PledgeFactory(restricted_programme=programme)
    posted_batch(amounts=[Decimal("40.00")], reference="B-12", method="cheque", donor=pledge.donor, pledge=pledge)

    with pytest.raises(LedgerError) as refused:
        journal_export(format="xero", by=finance, today=tomorrow())

    assert refused.value.messages == [
        "No bank account for the GBP bank account (donation batch B-12); add it to the account map.",
        "No income account for restricted donations by cheque (donation batch B-12); add it to the account map.",
    ]
    assert not JournalExport.objects.exists() and not JournalItem.objects.exists()


def test_a_programme_without_a_tracking_option_is_refused_by_name(finance):
    account_map(programmes=[])
    programme = ProgrammeFactory(code="CAP", name="Capacity building")
    pledge = PledgeFactory(restricted_programme=programme)
    posted_donation(donor=pledge.donor, pledge=pledge, by=finance)
    with pytest.raises(LedgerError, match="No tracking category or cost centre for programme CAP Capacity building"):
        journal_export(format="generic", by=finance, today=tomorrow())


@pytest.mark.parametrize(
    ("format", "header"),
    [
        ("xero", "Narration,Date,Description,AccountCode,TaxRate,Amount,TrackingName1,TrackingOption1,"
                 "TrackingName2,TrackingOption2"),
        ("quickbooks", "Journal No,Journal Date,Currency,Account Name,Debits,Credits,Description,Name,Location,Class"),
        ("generic", ",".join(GENERIC_COLUMNS)),
    ],
)  # fmt: skip
def test_each_format_starts_with_its_vendors_header_row(finance, format, header):
    account_map()
    posted_batch(amounts=[Decimal("10.00")], by=finance)
    content = bytes(journal_export(format=format, by=finance, today=tomorrow()).content)
    assert content.split(b"\r\n")[0].decode() == header
    assert header.split(",") in (XERO_COLUMNS, QUICKBOOKS_COLUMNS, GENERIC_COLUMNS)


def test_quickbooks_lines_put_debits_and_credits_in_their_columns_by_account_name(finance):
    account_map()
    posted_batch(amounts=[Decimal("10.00"), Decimal("2.50")], reference="B-7", method="card", by=finance)
    [income, bank] = rows(bytes(journal_export(format="quickbooks", by=finance).content))
    assert income["Journal No"] == bank["Journal No"] != ""
    assert (income["Account Name"], income["Debits"], income["Credits"]) == ("Income unrestricted card", "", "12.50")
    assert (bank["Account Name"], bank["Debits"], bank["Credits"]) == ("Bank GBP", "12.50", "")
    assert income["Currency"] == "GBP"
    assert income["Journal Date"] == timezone.localdate().strftime("%d/%m/%Y")


def test_text_that_a_spreadsheet_would_run_is_escaped_but_amounts_stay_numbers(finance):
    account_map()
    AccountMap.objects.filter(kind="bank").update(account_name="=HYPERLINK(1)")
    first = posted_batch(amounts=[Decimal("10.00")], reference="B-8", by=finance)
    second = posted_batch(amounts=[Decimal("20.00")], reference="B-9", by=finance)
    quickbooks = rows(bytes(journal_export(format="quickbooks", by=finance, batch_ids=[first.pk]).content))
    xero = rows(bytes(journal_export(format="xero", by=finance, batch_ids=[second.pk]).content))
    assert quickbooks[1]["Account Name"] == "'=HYPERLINK(1)"
    assert [r["Amount"] for r in xero] == ["-20.00", "20.00"]


def test_the_log_is_immutable(finance):
    account_map()
    posted_batch(amounts=[Decimal("10.00")], by=finance)
    export = journal_export(format="generic", by=finance)
    export.filename = "other.csv"
    with pytest.raises(ImmutableRecordError):
        export.save()
    with pytest.raises(ImmutableRecordError):
        JournalItem.objects.all().delete()
