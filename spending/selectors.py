"""Reads of money out: the budget in force, how a revision moved it, and budget against actual spend.

Actual spend is summed in SQL over the posted charges (reversals included, so that a reversed expense
nets to nothing); only the budget lines, a few dozen per agreement, are phased in Python.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce

from backoffice.money import RATE_PLACES, format_money, money_round
from donors.models import Donation

from .models import Agreement, BudgetLine, BudgetVersion, ExpenseCharge, PostedChargeDayTotal, VarianceExplanation
from .services import conversion_method

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


# Indirect costs ------------------------------------------------------------------------


def in_indirect_base(indirect_base: str, line_eligible: bool) -> bool:
    """Spend on a line counts towards its agreement's indirect cost base: every direct cost when the
    agreement's base is all direct costs, else the lines marked eligible (never an indirect line)."""
    return indirect_base == Agreement.IndirectBase.DIRECT or line_eligible


def indirect_cost(base: Decimal, rate: Decimal, currency: str) -> Decimal:
    """The agreement's rate (a percentage) times its eligible direct costs, half up in `currency`."""
    return money_round(base * (rate / HUNDRED), currency)


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


def received_by_pledge(pledge_ids, *, end: dt.date, start: dt.date | None = None) -> dict[int, dict]:
    """Posted money under each pledge (reversals included) received by `end` (and from `start`): in the
    pledge's currency (`amount`) and in base currency (`base`), one SQL sum per pledge."""
    rows = Donation.objects.posted().filter(pledge_id__in=list(pledge_ids), received_on__lte=end)
    if start is not None:
        rows = rows.filter(received_on__gte=start)
    sums = rows.order_by().values("pledge_id").annotate(amount=Sum("pledge_amount"), base=Sum("base_amount"))
    found = {row["pledge_id"]: {"amount": row["amount"] or ZERO, "base": row["base"] or ZERO} for row in sums}
    return {pk: found.get(pk, {"amount": ZERO, "base": ZERO}) for pk in pledge_ids}


def received_under(agreement: Agreement, *, end: dt.date, start: dt.date | None = None) -> dict:
    """Posted money from the funder under the agreement's pledge (reversals included), received by
    `end` (and from `start`): in the agreement's currency (`amount`) and in base currency (`base`)."""
    return received_by_pledge([agreement.pledge_id], end=end, start=start)[agreement.pledge_id]


def _average(received: dict) -> Decimal | None:
    if received["base"] <= 0:
        return None
    return (received["amount"] / received["base"]).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def average_rate(agreement: Agreement, *, end: dt.date) -> Decimal | None:
    """The weighted average rate at which the funder's money arrived by `end`: agreement currency per
    unit of base currency (8 places, half up); None before any money arrived."""
    return _average(received_under(agreement, end=end))


def _actual_rows(agreement_ids, *, start: dt.date, end: dt.date) -> list[dict]:
    same = Q(currency=F("agreement__currency"))
    period = Q(incurred_on__gte=start)
    return list(
        PostedChargeDayTotal.objects.filter(agreement_id__in=list(agreement_ids), incurred_on__lte=end)
        .order_by()
        .values("agreement_id", "line__code", "line__indirect_eligible")
        .annotate(
            same_period=Sum("amount", filter=same & period, default=ZERO),
            base_period=Sum("base_amount", filter=~same & period, default=ZERO),
            spot_period=Sum("spot_amount", filter=period, default=ZERO),
            same_to_date=Sum("amount", filter=same, default=ZERO),
            base_to_date=Sum("base_amount", filter=~same, default=ZERO),
            spot_to_date=Sum("spot_amount", default=ZERO),
        )
        .order_by("agreement_id", "line__code", "line__indirect_eligible")
    )


def actual_rows(agreement: Agreement, *, start: dt.date, end: dt.date) -> list[dict]:
    """Posted charges to the agreement incurred by `end`, summed in SQL from their kept totals
    (`PostedChargeDayTotal`) per line code and eligibility for the indirect base: in the period and
    to date, each split into the part already in the agreement's currency (`same_*`), the
    base-currency amounts of the rest (`base_*`), and the spot amounts frozen at posting (`spot_*`)."""
    return _actual_rows([agreement.pk], start=start, end=end)


def converted(row: dict, when: str, rate: Decimal | None, currency: str) -> Decimal:
    """A row of `actual_rows` in the agreement's currency: at the spot amounts when `rate` is None,
    else the part in that currency plus the rest's base amount at `rate`, half up to the cent."""
    if rate is None:
        return row[f"spot_{when}"]
    return row[f"same_{when}"] + money_round(row[f"base_{when}"] * rate, currency)


@dataclass
class _Read:
    """What budget against actual reads for some agreements, in a few queries whatever their number."""

    received_to_date: dict[int, dict]
    received_period: dict[int, dict]
    rows: dict[int, list[dict]]
    lines: dict[int, dict[int, list[BudgetLine]]]  # agreement -> approved version number -> its lines


def _read(agreements: list[Agreement], *, start: dt.date, end: dt.date) -> _Read:
    ids = [a.pk for a in agreements]
    pledges = [a.pledge_id for a in agreements]
    rows: dict[int, list[dict]] = {pk: [] for pk in ids}
    for row in _actual_rows(ids, start=start, end=end):
        rows[row["agreement_id"]].append(row)
    lines: dict[int, dict[int, list[BudgetLine]]] = {pk: {} for pk in ids}
    approved = BudgetLine.objects.filter(version__agreement_id__in=ids, version__status="approved")
    for line in approved.select_related("version").order_by("version__number", "code", "year", "pk"):
        lines[line.version.agreement_id].setdefault(line.version.number, []).append(line)
    return _Read(
        received_to_date=received_by_pledge(pledges, end=end),
        received_period=received_by_pledge(pledges, start=start, end=end),
        rows=rows,
        lines=lines,
    )


def budgets_vs_actual(agreements, *, start: dt.date, end: dt.date) -> list[BudgetVsActual]:
    """`budget_vs_actual` of each agreement, read in five queries for them all."""
    agreements = list(agreements)
    read = _read(agreements, start=start, end=end)
    return [budget_vs_actual(a, start=start, end=end, read=read) for a in agreements]


def budget_vs_actual(
    agreement: Agreement, *, start: dt.date, end: dt.date, read: _Read | None = None
) -> BudgetVsActual:
    """Per budget line code: original and current budget, the current budget phased over the period,
    actual in the period and to date, remaining, variance (period budget less period actual, in money
    and %), a flag where the variance passes the threshold, and the forecast (actual to date plus the
    current budget phased over the months after the period). Then income, spend with indirect costs
    and the balance held. In the agreement's currency (docs/spending.md says how spend converts)."""
    read = read or _read([agreement], start=start, end=end)
    method = conversion_method()
    rate = _average(read.received_to_date[agreement.pledge_id]) if method == "average" else None
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
    for row in read.rows[agreement.pk]:
        code = row["line__code"]
        period = converted(row, "period", rate, agreement.currency)
        to_date = converted(row, "to_date", rate, agreement.currency)
        actual_period[code] = actual_period.get(code, ZERO) + period
        actual_to_date[code] = actual_to_date.get(code, ZERO) + to_date
        figures.direct_period += period
        figures.direct_to_date += to_date
        if in_indirect_base(agreement.indirect_base, row["line__indirect_eligible"]):
            figures.indirect_base_period += period
            figures.indirect_base_to_date += to_date
    figures.indirect_period = indirect_cost(figures.indirect_base_period, agreement.indirect_rate, agreement.currency)
    figures.indirect_to_date = indirect_cost(figures.indirect_base_to_date, agreement.indirect_rate, agreement.currency)

    versions = read.lines[agreement.pk]
    lines = versions[max(versions)] if versions else []  # the current budget: the latest approved version
    original: dict[str, Decimal] = {}
    for line in versions[min(versions)] if versions else []:
        original[line.code] = original.get(line.code, ZERO) + line.amount
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

    figures.received_period = read.received_period[agreement.pledge_id]["amount"]
    figures.received_to_date = read.received_to_date[agreement.pledge_id]["amount"]
    return figures


# What an output cost -------------------------------------------------------------------


@dataclass(frozen=True)
class OutputCost:
    """What was spent on one output, in base currency: direct (the charges to it) and indirect (each
    agreement's rate times the output's eligible direct charges under that agreement). The period
    figures are zero when no start is given."""

    output_id: int | None  # None: posted charges to no output
    direct_period: Decimal = ZERO
    indirect_period: Decimal = ZERO
    direct_to_date: Decimal = ZERO
    indirect_to_date: Decimal = ZERO

    @property
    def full_cost_period(self) -> Decimal:
        return self.direct_period + self.indirect_period

    @property
    def full_cost_to_date(self) -> Decimal:
        return self.direct_to_date + self.indirect_to_date


def charged_output():
    """The output a charge is for: its own, else its budget line's (the charge's own wins; the
    services set it to the line's output and refuse a charge to another output than its line's)."""
    return Coalesce("output_id", "line__output_id")


def output_costs(*, end: dt.date, start: dt.date | None = None, outputs=None) -> dict[int | None, OutputCost]:
    """What each output cost by `end` (and from `start`), from the posted charges (reversals included)
    incurred by then, at the base amounts frozen at posting; one SQL sum per output, agreement and
    eligibility for the indirect base. `outputs` (ids) narrows the outputs read; without it, every
    output with a charge is given, and the charges to no output under the key None."""
    base = settings.BASE_CURRENCY
    rows = ExpenseCharge.objects.filter(expense__status="posted", expense__incurred_on__lte=end).annotate(
        charged_output=charged_output()
    )
    if outputs is not None:
        rows = rows.filter(charged_output__in=list(outputs))
    sums = {"to_date": Sum("base_amount", default=ZERO)}
    if start is not None:
        sums["period"] = Sum("base_amount", filter=Q(expense__incurred_on__gte=start), default=ZERO)
    groups = (
        rows.order_by()
        .values("charged_output", "agreement_id", "agreement__indirect_rate", "agreement__indirect_base",
                "line__indirect_eligible")
        .annotate(**sums)
    )  # fmt: skip
    # Per output and agreement: direct spend, and the part of it in that agreement's indirect base.
    by_agreement: dict[tuple, dict] = {}
    for g in groups:
        key = (g["charged_output"], g["agreement_id"])
        part = by_agreement.setdefault(
            key, {"rate": g["agreement__indirect_rate"], "period": ZERO, "to_date": ZERO, "base_period": ZERO,
                  "base_to_date": ZERO},
        )  # fmt: skip
        in_period = g.get("period", ZERO)
        part["period"] += in_period
        part["to_date"] += g["to_date"]
        if in_indirect_base(g["agreement__indirect_base"], g["line__indirect_eligible"]):
            part["base_period"] += in_period
            part["base_to_date"] += g["to_date"]
    costs: dict[int | None, OutputCost] = {}
    for (output_id, _), sums in by_agreement.items():
        cost = costs.get(output_id, OutputCost(output_id))
        costs[output_id] = OutputCost(
            output_id,
            direct_period=cost.direct_period + sums["period"],
            indirect_period=cost.indirect_period + indirect_cost(sums["base_period"], sums["rate"], base),
            direct_to_date=cost.direct_to_date + sums["to_date"],
            indirect_to_date=cost.indirect_to_date + indirect_cost(sums["base_to_date"], sums["rate"], base),
        )
    for output_id in outputs or ():
        costs.setdefault(output_id, OutputCost(output_id))
    return costs


def output_cost(*, output, end: dt.date, start: dt.date | None = None) -> OutputCost:
    return output_costs(end=end, start=start, outputs=[output.pk])[output.pk]


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
