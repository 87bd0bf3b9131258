"""The funder's financial report: its snapshot, built from `spending.selectors.budget_vs_actual` alone (the one
home of budget-against-actual figures), the explanations finance wrote for its flagged lines, and the sign-off.

A report of a period with a flagged line that has no explanation is refused (`financial_report_check`), when it
is asked for and again when it is generated. The totals row adds up the lines shown, and equals the spend
(direct and indirect) that `budget_vs_actual` gives, since the indirect line carries the computed indirect costs.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings

from spending.models import Agreement
from spending.selectors import (
    BudgetVsActual,
    budget_vs_actual,
    explanations_for,
    variance_text,
    variances_unexplained,
)
from spending.services import current_budget

from .figures import report_voice
from .snapshot import SNAPSHOT_VERSION, day, money

# The money columns of a line, in the order the PDF and the workbook show them.
LINE_COLUMNS = (
    ("original", "Original budget"),
    ("current", "Current budget"),
    ("period_budget", "Budget for the period"),
    ("actual_period", "Actual in the period"),
    ("actual_to_date", "Actual to date"),
    ("remaining", "Remaining"),
    ("variance", "Variance"),
    ("forecast", "Forecast to the end"),
)
SIGNERS = (("prepared_by", "Prepared by"), ("approved_by", "Approved by"))


class FinancialReportRefused(ValueError):
    """The period cannot be reported yet; `messages` says what each line lacks."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


def financial_report_check(agreement: Agreement, *, start: dt.date, end: dt.date) -> BudgetVsActual:
    """The period's figures, or FinancialReportRefused naming what stops the report: a period outside
    the agreement's, or each flagged line without an explanation."""
    if end < start:
        raise FinancialReportRefused([f"The period ends ({end}) before it starts ({start})."])
    if start < agreement.start_date or end > agreement.end_date:
        raise FinancialReportRefused(
            [
                f"The period {start} to {end} is not inside the agreement {agreement.funder_ref}'s period, "
                f"{agreement.start_date} to {agreement.end_date}."
            ]
        )
    figures = budget_vs_actual(agreement, start=start, end=end)
    if missing := variances_unexplained(figures):
        raise FinancialReportRefused(missing)
    return figures


def sign_off_clean(sign_off: dict | None) -> dict:
    """Names and roles of who prepared and who approved the report; blank ones stay blank (lines to sign)."""
    sign_off = sign_off or {}
    return {
        key: {
            "name": str((sign_off.get(key) or {}).get("name") or "").strip(),
            "role": str((sign_off.get(key) or {}).get("role") or "").strip(),
        }
        for key, _ in SIGNERS
    }


def _person(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def financial_report_snapshot(*, agreement: Agreement, start: dt.date, end: dt.date, sign_off: dict | None) -> dict:
    figures = financial_report_check(agreement, start=start, end=end)
    agreement = Agreement.objects.select_related("pledge__donor").get(pk=agreement.pk)
    pledge, currency = agreement.pledge, agreement.currency
    version = current_budget(agreement)
    explained = explanations_for(agreement, start=start, end=end)

    lines = []
    totals = dict.fromkeys((key for key, _ in LINE_COLUMNS), Decimal("0"))
    for line in figures.lines:
        row = {key: money(getattr(line, key), currency) for key, _ in LINE_COLUMNS}
        for key in totals:
            totals[key] += getattr(line, key)
        lines.append(
            {
                "code": line.code,
                "description": line.description,
                "category": line.category,
                "indirect": line.is_indirect,
                **row,
                "variance_pct": _pct(line.variance_pct),
                "flagged": line.flagged,
            }
        )
    explanations = [
        {
            "code": line.code,
            "description": line.description,
            "variance": variance_text(line, currency),
            "text": explained[line.code].text,
            "written_by": _person(explained[line.code].written_by),
            "written_on": day(explained[line.code].written_at.date()),
        }
        for line in figures.flagged
    ]
    return {
        "version": SNAPSHOT_VERSION,
        "kind": "financial_report",
        "title": "Financial report",
        "base_currency": settings.BASE_CURRENCY,
        "currency": currency,
        "period": {"start": day(start), "end": day(end)},
        "agreement": {
            "funder": pledge.donor.name,
            "funder_ref": agreement.funder_ref,
            "pledge_ref": pledge.ref,
            "pledge_title": pledge.title,
            "pledge": money(pledge.total, currency),
            "start": day(agreement.start_date),
            "end": day(agreement.end_date),
            "variance_threshold": str(agreement.variance_threshold),
            "indirect_rate": str(agreement.indirect_rate),
            "indirect_base": agreement.get_indirect_base_display(),
        },
        "budget_version": {
            "number": version.number if version else None,
            "approved_on": day(version.approved_on) if version else None,
        },
        "conversion": {
            "method": figures.method,
            "text": figures.method_text,
            "average_rate": None if figures.average_rate is None else str(figures.average_rate),
        },
        "income": {
            "received_period": money(figures.received_period, currency),
            "received_to_date": money(figures.received_to_date, currency),
        },
        "lines": lines,
        "totals": {key: money(value, currency) for key, value in totals.items()},
        "indirect": {
            "rate": str(agreement.indirect_rate),
            "base_period": money(figures.indirect_base_period, currency),
            "base_to_date": money(figures.indirect_base_to_date, currency),
            "period": money(figures.indirect_period, currency),
            "to_date": money(figures.indirect_to_date, currency),
        },
        "spend": {
            "direct_period": money(figures.direct_period, currency),
            "direct_to_date": money(figures.direct_to_date, currency),
            "indirect_period": money(figures.indirect_period, currency),
            "indirect_to_date": money(figures.indirect_to_date, currency),
            "total_period": money(figures.spent_period, currency),
            "total_to_date": money(figures.spent_to_date, currency),
        },
        "balance": money(figures.balance, currency),
        "explanations": explanations,
        "sign_off": sign_off_clean(sign_off),
        **report_voice(internal=False),
    }
