"""Every column of the demo's reports reconciles, in each pledge currency, in base and in the donor's currency
(the checks: reconciliation_checks.py)."""

import datetime as dt
from decimal import Decimal

from backoffice.money import format_rate
from donors.models import Donor
from reports.figures import donor_summary_snapshot, portfolio_snapshot
from reports.renderers import render

from .conftest import END, START
from .helpers import pdf_text, shown
from .reconciliation_checks import (
    FIELDS,
    assert_headline_is_the_reconciliation,
    assert_rows_match_ledger,
    assert_summary_states_every_conversion,
)

# The demo ----------------------------------------------------------------------------------------


def test_every_demo_donor_summary_reconciles_in_every_currency(demo):
    converted_somewhere = exchange_difference_somewhere = False
    for donor in Donor.objects.order_by("ref"):
        for currency in ("", "USD"):  # the donor's own currency, and one a user picked
            snap = donor_summary_snapshot(donor=donor, start=START, end=END, currency=currency)
            assert_rows_match_ledger(snap["reconciliation"], END, snap["currency"], donor=donor)
            assert_headline_is_the_reconciliation(snap)
            assert_summary_states_every_conversion(snap, donor, START, END)
            rows = snap["reconciliation"]
            converted_somewhere |= any(r["basis"] == "converted" for r in rows)
            exchange_difference_somewhere |= any(
                r["basis"] == "base" and Decimal(r["exchange_difference"]["amount"]) for r in rows
            )
    assert converted_somewhere and exchange_difference_somewhere  # the demo exercises both


def test_portfolio_reconciles_in_every_currency(demo):
    for start, end in ((START, END), (dt.date(2023, 7, 1), dt.date(2024, 6, 30))):
        snap = portfolio_snapshot(start=start, end=end)
        rows = snap["reconciliation"]
        assert len([r for r in rows if r["basis"] == "pledge"]) > 1
        assert_rows_match_ledger(rows, end)


def test_the_pdfs_print_each_column_and_its_exchange_difference(demo):
    donor = next(
        d
        for d in Donor.objects.order_by("ref")
        if any(
            r["basis"] == "base" and Decimal(r["exchange_difference"]["amount"])
            for r in donor_summary_snapshot(donor=d, start=START, end=END)["reconciliation"]
        )
    )
    for snap in (donor_summary_snapshot(donor=donor, start=START, end=END), portfolio_snapshot(start=START, end=END)):
        text = pdf_text(render(snap))
        assert "less received on pledges" in text and "plus exchange difference" in text
        for row in snap["reconciliation"]:
            for f in FIELDS:
                if not (f == "exchange_difference" and row["basis"] == "pledge") and (
                    f != "overpaid" or any(Decimal(r["overpaid"]["amount"]) for r in snap["reconciliation"])
                ):
                    assert shown(row[f]) in text, (snap["kind"], row["label"], f)
        words = " ".join(text.split())  # the note wraps where the page needs it
        for rate in snap["rates"]:
            assert f"1 {rate['currency']} = {format_rate(Decimal(rate['rate']))} GBP" in words
