"""A funder's agreement with spend and income, for the financial report tests."""

import datetime as dt
import subprocess
from decimal import Decimal

from donors import services as ledger
from reports.models import ReportRun
from reports.services import report_run_request
from spending import services
from spending.services import NewCharge
from tests.factories import DonationFactory
from tests.spending.helpers import agreement_with_budget, line

YEAR = {"start": dt.date(2025, 1, 1), "end": dt.date(2025, 12, 31)}


def spend(by, ref, amount, code_amounts, agreement, *, on=dt.date(2025, 3, 1), currency="GBP"):
    draft = services.expense_create(
        reference=ref, incurred_on=on, paid_on=on, payee="Payee", description="Spend",
        amount=Decimal(amount), currency=currency,
        charges=[NewCharge(line(agreement, code, on.year), amount=Decimal(part)) for code, part in code_amounts],
    )  # fmt: skip
    return services.expense_post(expense=draft, by=by)


def receive(by, agreement, amount, *, on=dt.date(2025, 1, 10), ref=None):
    pledge = agreement.pledge
    draft = DonationFactory(
        donor=pledge.donor, pledge=pledge, amount=Decimal(amount), currency=pledge.currency, received_on=on,
        **({"reference": ref} if ref else {}),
    )  # fmt: skip
    return ledger.donation_post(donation=draft, by=by)


def worked_agreement(by):
    """UK-1 over 2025-2026, 10% indirect: A1 personnel and A2 travel both pass the 10% threshold in 2025 (A1
    underspent 16.67%, A2 overspent 16.67%), and so does the indirect line IND (170 against 100)."""
    uk = agreement_with_budget(indirect_rate=Decimal("10"))
    receive(by, uk, "3000.00")
    spend(by, "S1", "1000.00", [("A1", "1000.00")], uk)
    spend(by, "S2", "700.00", [("A2", "700.00")], uk)
    spend(by, "S3", "50.00", [("A2", "50.00")], uk, on=dt.date(2026, 2, 1))
    return uk


def explain(agreement, by, codes=("A1", "A2", "IND"), **period):
    period = period or YEAR
    for code in codes:
        services.variance_explanation_save(
            agreement=agreement, start=period["start"], end=period["end"], line_code=code,
            text=f"Why {code} moved: the {code} work was rescheduled.", by=by,
        )  # fmt: skip


def financial_run(agreement, by, capture, sign_off=None, **period) -> ReportRun:
    period = period or YEAR
    with capture(execute=True):
        run = report_run_request(kind="financial_report", agreement=agreement, by=by, sign_off=sign_off, **period)
    run.refresh_from_db()
    assert run.status == ReportRun.Status.DONE, run.error
    return run


def pdftotext(pdf: bytes) -> str:
    """The PDF's text as poppler's pdftotext lays it out (-layout keeps a table's row on one line)."""
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
