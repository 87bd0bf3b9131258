"""Reads of money out: the budget in force, how a revision moved it, and budget against actual spend.

Actual spend is summed in SQL over the posted charges (reversals included, so that a reversed expense
nets to nothing); only the budget lines, a few dozen per agreement, are phased in Python.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, Sum

from backoffice.money import RATE_PLACES, format_money, money_round
from donors.models import Donation

from .models import Agreement, BudgetLine, BudgetVersion, ExpenseCharge, VarianceExplanation
from .services import conversion_method, current_budget

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


def original_budget(agreement: Agreement) -> BudgetVersion | None:
    return agreement.budget_versions.approved().order_by("number").first()


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if whole == 0 else (part * HUNDRED / whole).quantize(Decimal("0.01"))


def _passes(move: Decimal, whole: Decimal, threshold: Decimal) -> bool:
    """A move passes the threshold when it is more than `threshold`% of `whole` (any move of a zero line)."""
    if whole == 0:
        return move != 0
    return abs(move) * HUNDRED > threshold * abs(whole)


def _by_code(version: BudgetVersion | None) -> dict[str, Decimal]:
    if version is None:
        return {}
    rows = version.lines.order_by().values("code").annotate(total=Sum("amount"))
    return {row["code"]: row["total"] for row in rows}


# Revisions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineMove:
    code: str
    before: Decimal
    after: Decimal
    move: Decimal
    pct: Decimal | None
    flagged: bool


def revision_moves(version: BudgetVersion) -> list[LineMove]:
    """How `version` moves each line's total (over its years) from the approved version before it,
    flagged where a move passes the agreement's variance threshold: funders want those approved first."""
    agreement = version.agreement
    previous = agreement.budget_versions.approved().filter(number__lt=version.number).order_by("-number").first()
    before, after = _by_code(previous), _by_code(version)
    moves = []
    for code in sorted(before.keys() | after.keys()):
        old, new = before.get(code, ZERO), after.get(code, ZERO)
        moves.append(
            LineMove(
                code, old, new, new - old, _pct(new - old, old), _passes(new - old, old, agreement.variance_threshold)
            )
        )
    return moves


def revision_flagged(version: BudgetVersion) -> list[LineMove]:
    return [m for m in revision_moves(version) if m.flagged]


# Phasing -------------------------------------------------------------------------------


def _month(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _phased(line_year: int, amount: Decimal, agreement: Agreement, first: int, last: int) -> Decimal:
    """The part of a line's amount for the months first..last (month numbers): the line's year's
    amount spread evenly over the agreement's months in that year, half up to the cent."""
    start = max(_month(agreement.start_date), line_year * 12)
    end = min(_month(agreement.end_date), line_year * 12 + 11)
    months = end - start + 1
    inside = min(end, last) - max(start, first) + 1
    if months <= 0 or inside <= 0:
        return ZERO
    return money_round(amount * inside / months, agreement.currency)


# Budget against actual -----------------------------------------------------------------


@dataclass
class LineFigures:
    code: str
    description: str
    category: str
    original: Decimal
    current: Decimal
    period_budget: Decimal
    actual_period: Decimal
    actual_to_date: Decimal
    remaining: Decimal
    variance: Decimal
    variance_pct: Decimal | None
    flagged: bool
    forecast: Decimal

    @property
    def is_indirect(self) -> bool:
        return self.category == BudgetLine.Category.INDIRECT


@dataclass
class BudgetVsActual:
    agreement: Agreement
    start: dt.date
    end: dt.date
    currency: str
    method: str  # "average" or "spot"
    method_text: str
    average_rate: Decimal | None  # agreement currency per unit of base currency
    lines: list[LineFigures] = field(default_factory=list)
    direct_period: Decimal = ZERO
    direct_to_date: Decimal = ZERO
    indirect_base_period: Decimal = ZERO
    indirect_base_to_date: Decimal = ZERO
    indirect_period: Decimal = ZERO
    indirect_to_date: Decimal = ZERO
    received_period: Decimal = ZERO
    received_to_date: Decimal = ZERO

    @property
    def spent_period(self) -> Decimal:
        return self.direct_period + self.indirect_period

    @property
    def spent_to_date(self) -> Decimal:
        return self.direct_to_date + self.indirect_to_date

    @property
    def balance(self) -> Decimal:
        """Received less spent to the period's end: what is held, and owed back if left unspent."""
        return self.received_to_date - self.spent_to_date

    @property
    def flagged(self) -> list[LineFigures]:
        return [line for line in self.lines if line.flagged]


def received_under(agreement: Agreement, *, end: dt.date, start: dt.date | None = None) -> dict:
    """Posted money from the funder under the agreement's pledge (reversals included), received by
    `end` (and from `start`): in the agreement's currency (`pledge_amount`) and in base currency."""
    rows = Donation.objects.posted().filter(pledge_id=agreement.pledge_id, received_on__lte=end)
    if start is not None:
        rows = rows.filter(received_on__gte=start)
    sums = rows.aggregate(amount=Sum("pledge_amount"), base=Sum("base_amount"))
    return {"amount": sums["amount"] or ZERO, "base": sums["base"] or ZERO}


def average_rate(agreement: Agreement, *, end: dt.date) -> Decimal | None:
    """The weighted average rate at which the funder's money arrived by `end`: agreement currency per
    unit of base currency (8 places, half up); None before any money arrived."""
    received = received_under(agreement, end=end)
    if received["base"] <= 0:
        return None
    return (received["amount"] / received["base"]).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def actual_rows(agreement: Agreement, *, start: dt.date, end: dt.date) -> list[dict]:
    """Posted charges to the agreement incurred by `end`, summed in SQL per line code and eligibility
    for the indirect base: in the period and to date, each split into the part already in the
    agreement's currency (`same_*`), the base-currency amounts of the rest (`base_*`), and the spot
    amounts frozen at posting (`spot_*`)."""
    same = Q(expense__currency=agreement.currency)
    period = Q(expense__incurred_on__gte=start)
    return list(
        ExpenseCharge.objects.filter(agreement=agreement, expense__status="posted", expense__incurred_on__lte=end)
        .order_by()
        .values("line__code", "line__indirect_eligible")
        .annotate(
            same_period=Sum("amount", filter=same & period, default=ZERO),
            base_period=Sum("base_amount", filter=~same & period, default=ZERO),
            spot_period=Sum("spot_amount", filter=period, default=ZERO),
            same_to_date=Sum("amount", filter=same, default=ZERO),
            base_to_date=Sum("base_amount", filter=~same, default=ZERO),
            spot_to_date=Sum("spot_amount", default=ZERO),
        )
    )


def converted(row: dict, when: str, rate: Decimal | None, currency: str) -> Decimal:
    """A row of `actual_rows` in the agreement's currency: at the spot amounts when `rate` is None,
    else the part in that currency plus the rest's base amount at `rate`, half up to the cent."""
    if rate is None:
        return row[f"spot_{when}"]
    return row[f"same_{when}"] + money_round(row[f"base_{when}"] * rate, currency)


def budget_vs_actual(agreement: Agreement, *, start: dt.date, end: dt.date) -> BudgetVsActual:
    """Per budget line code: original and current budget, the current budget phased over the period,
    actual in the period and to date, remaining, variance (period budget less period actual, in money
    and %), a flag where the variance passes the threshold, and the forecast (actual to date plus the
    current budget phased over the months after the period). Then income, spend with indirect costs
    and the balance held. In the agreement's currency (docs/spending.md says how spend converts)."""
    method = conversion_method()
    rate = average_rate(agreement, end=end) if method == "average" else None
    if method == "average" and rate is None:
        method_text = "spot rate of the day paid (no money received from the funder yet to average)"
        method = "spot"
    elif method == "average":
        method_text = f"weighted average rate of the funder's money received: 1 base = {rate} {agreement.currency}"
    else:
        method_text = "spot rate of the day each expense was paid"
    figures = BudgetVsActual(
        agreement=agreement, start=start, end=end, currency=agreement.currency, method=method,
        method_text=method_text, average_rate=rate,
    )  # fmt: skip

    actual_period: dict[str, Decimal] = {}
    actual_to_date: dict[str, Decimal] = {}
    eligible_all = agreement.indirect_base == Agreement.IndirectBase.DIRECT
    for row in actual_rows(agreement, start=start, end=end):
        code = row["line__code"]
        period = converted(row, "period", rate, agreement.currency)
        to_date = converted(row, "to_date", rate, agreement.currency)
        actual_period[code] = actual_period.get(code, ZERO) + period
        actual_to_date[code] = actual_to_date.get(code, ZERO) + to_date
        figures.direct_period += period
        figures.direct_to_date += to_date
        if eligible_all or row["line__indirect_eligible"]:
            figures.indirect_base_period += period
            figures.indirect_base_to_date += to_date
    share = agreement.indirect_rate / HUNDRED
    figures.indirect_period = money_round(figures.indirect_base_period * share, agreement.currency)
    figures.indirect_to_date = money_round(figures.indirect_base_to_date * share, agreement.currency)

    current = current_budget(agreement)
    original = _by_code(original_budget(agreement))
    lines = list(current.lines.all()) if current else []
    described: dict[str, BudgetLine] = {}
    current_total: dict[str, Decimal] = {}
    period_budget: dict[str, Decimal] = {}
    after: dict[str, Decimal] = {}
    first, last, final = _month(start), _month(end), _month(agreement.end_date)
    for line in lines:
        described.setdefault(line.code, line)
        current_total[line.code] = current_total.get(line.code, ZERO) + line.amount
        period_budget[line.code] = period_budget.get(line.code, ZERO) + _phased(
            line.year, line.amount, agreement, first, last
        )
        after[line.code] = after.get(line.code, ZERO) + _phased(line.year, line.amount, agreement, last + 1, final)

    indirect_codes = [code for code, line in described.items() if line.category == BudgetLine.Category.INDIRECT]
    if indirect_codes:  # the computed indirect costs are the actuals of the budget's indirect line
        actual_period[indirect_codes[0]] = figures.indirect_period
        actual_to_date[indirect_codes[0]] = figures.indirect_to_date
    elif agreement.indirect_rate:
        described["INDIRECT"] = BudgetLine(
            code="INDIRECT", category=BudgetLine.Category.INDIRECT, description="Indirect costs"
        )
        actual_period["INDIRECT"], actual_to_date["INDIRECT"] = figures.indirect_period, figures.indirect_to_date

    codes = sorted(described.keys() | original.keys() | actual_to_date.keys())
    threshold = agreement.variance_threshold
    for code in codes:
        line = described.get(code)
        budget = period_budget.get(code, ZERO)
        spent = actual_period.get(code, ZERO)
        to_date = actual_to_date.get(code, ZERO)
        variance = budget - spent
        figures.lines.append(
            LineFigures(
                code=code,
                description=(line.description if line else "") or (line.get_category_display() if line else ""),
                category=line.category if line else "",
                original=original.get(code, ZERO),
                current=current_total.get(code, ZERO),
                period_budget=budget,
                actual_period=spent,
                actual_to_date=to_date,
                remaining=current_total.get(code, ZERO) - to_date,
                variance=variance,
                variance_pct=_pct(variance, budget),
                flagged=_passes(variance, budget, threshold),
                forecast=to_date + after.get(code, ZERO),
            )
        )

    figures.received_period = received_under(agreement, start=start, end=end)["amount"]
    figures.received_to_date = received_under(agreement, end=end)["amount"]
    return figures


# Variance explanations -----------------------------------------------------------------


def explanations_for(agreement: Agreement, *, start: dt.date, end: dt.date) -> dict[str, VarianceExplanation]:
    """The explanations finance wrote for the period exactly, by budget line code."""
    rows = VarianceExplanation.objects.filter(agreement=agreement, period_start=start, period_end=end)
    return {row.line_code: row for row in rows.select_related("written_by")}


def variance_text(line: LineFigures, currency: str) -> str:
    """A line's variance as the funder reads it: "+18.4%", or the money where the period had no budget."""
    if line.variance_pct is None:
        return f"{format_money(line.variance, currency)} against no budget in the period"
    return f"{line.variance_pct:+.1f}%"


def variances_unexplained(figures: BudgetVsActual) -> list[str]:
    """One message per flagged line of `figures` that has no explanation for its period, naming the line:
    a financial report is not made until each has one."""
    explained = explanations_for(figures.agreement, start=figures.start, end=figures.end)
    threshold = f"{figures.agreement.variance_threshold.normalize():f}"
    return [
        f"Line {line.code} {line.description}: variance {variance_text(line, figures.currency)} passes the "
        f"{threshold}% threshold and has no explanation"
        for line in figures.flagged
        if line.code not in explained
    ]
