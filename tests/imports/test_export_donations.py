"""The donations export tells drafts, posted gifts and reversals apart, with what an accountant
reads beside them; its export-only columns are ignored when the file is imported back."""

import csv
import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from donors.models import Donation
from donors.services import donation_post, donation_reverse
from tests.factories import BatchFactory, DonationFactory, role_user

from .conftest import counts

EXPORT_ONLY = [
    "status",
    "posted_on",
    "rate_date",
    "rate_source",
    "base_amount",
    "base_currency",
    "donor_name",
    "batch",
    "reverses",
    "reversed_by",
    "reversal_reason",
]


@pytest.fixture
def ledger_entries(ledger, finance_user):
    batch = BatchFactory(reference="MARCH-BANK")
    DonationFactory(reference="DRAFT-1", donor=ledger["first"], amount=Decimal("50.00"), batch=batch)
    kept = DonationFactory(reference="GIFT-1", donor=ledger["first"], amount=Decimal("100.00"))
    usd = DonationFactory(
        reference="GIFT-2", donor=ledger["second"], currency="USD", amount=Decimal("1234.56"), received_on="2025-03-02"
    )
    donation_post(donation=kept, by=finance_user)
    donation_post(donation=usd, by=finance_user)
    donation_reverse(donation=usd, by=finance_user, reason="bank recall", on=dt.date(2025, 3, 5))
    return ledger


def exported(tmp_path) -> dict[str, dict]:
    path = tmp_path / "donations.csv"
    call_command("export_data", "donations", "--out", str(path), stderr=StringIO())
    with path.open(encoding="utf-8", newline="") as stream:
        return {row["reference"]: row for row in csv.DictReader(stream)}


def test_the_export_tells_drafts_posted_gifts_and_reversals_apart(ledger_entries, tmp_path):
    rows = exported(tmp_path)
    today = timezone.localdate().isoformat()
    assert list(rows["GIFT-1"])[-len(EXPORT_ONLY) :] == EXPORT_ONLY
    only = {ref: [row[c] for c in EXPORT_ONLY] for ref, row in rows.items()}
    assert only == {
        "DRAFT-1": ["draft", "", "", "", "", "", "Oakridge Foundation", "MARCH-BANK", "", "", ""],
        "GIFT-1": [
            "posted", today, "2025-03-01", "base currency", "100.00", "GBP", "Oakridge Foundation", "", "", "", "",
        ],
        "GIFT-2": [
            "posted", today, "2025-03-01", "test", "975.30", "GBP", "Northstar Cloud", "", "", "GIFT-2-REV", "",
        ],
        "GIFT-2-REV": [
            "posted", today, "2025-03-01", "test", "-975.30", "GBP", "Northstar Cloud", "", "GIFT-2", "", "bank recall",
        ],
    }  # fmt: skip
    assert rows["GIFT-2-REV"]["amount"] == "-1234.56" and rows["GIFT-2-REV"]["rate"] == "0.79000000"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_export_imports_back_unchanged_and_its_export_only_columns_are_not_read(ledger_entries, tmp_path, fmt):
    path = tmp_path / f"donations.{fmt}"
    call_command("export_data", "donations", "--format", fmt, "--out", str(path), stderr=StringIO())
    before = counts()
    out = StringIO()
    call_command("import_data", "donations", str(path), stdout=out)
    assert counts() == before
    assert "The columns status, posted_on, rate_date, rate_source, base_amount, base_currency, donor_name, " in (
        out.getvalue()
    )
    assert "4 row(s): 0 new imported, 4 unchanged" in out.getvalue()


def test_an_edited_export_only_cell_changes_nothing(ledger_entries, tmp_path):
    """`status` says posted on a new row: it still comes in as a draft, as without --post it always does."""
    text = (
        "reference,donor_ref,received_on,amount,currency,status,base_amount\n"
        "NEW-1,DON-0001,2025-03-03,10.00,GBP,posted,1\n"
    )
    path = tmp_path / "edited.csv"
    path.write_text(text, encoding="utf-8")
    call_command("import_data", "donations", str(path), stdout=StringIO())
    new = Donation.objects.get(reference="NEW-1")
    assert (new.status, new.base_amount) == ("draft", None)


def test_the_admin_export_offers_and_writes_the_new_columns(ledger_entries, client):
    client.force_login(role_user("Auditor"))
    page = client.get(reverse("admin:donors_donation_export")).content.decode()
    assert all(f'name="donationresource_{c}"' in page for c in EXPORT_ONLY)
    response = client.post(
        reverse("admin:donors_donation_export"),
        {"format": "0", "export_items": [], **{f"donationresource_{c}": "on" for c in ["reference", *EXPORT_ONLY]}},
    )
    body = b"".join(response.streaming_content) if response.streaming else response.content
    lines = body.decode().splitlines()
    assert lines[0] == "reference," + ",".join(EXPORT_ONLY)
    assert any(line.startswith("GIFT-2-REV,posted,") and line.endswith(",GIFT-2,,bank recall") for line in lines)
