"""The dashboard's figures: the portfolio report's snapshot, plus what only a screen needs.

The key figures, the breakdowns and the top donors are `reports.figures.portfolio_snapshot`
itself, so the dashboard and the portfolio PDF for the same period never disagree. Added
here, from the same selectors and helpers: each figure split by currency, five years of
pledged against received, funding per programme and the largest output gaps (optionally for
one programme), instalments overdue today, and reports owed to donors: those overdue, then
those due in the next 30 days; spend against budget per programme and the agreements whose budget
against actual has a line past its variance threshold. Every read is one query (budget against actual
a few for all agreements) whatever the size of the ledger.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce, ExtractYear
from django.utils import timezone

from backoffice.money import money_round
from backoffice.sql import ZERO
from donors.models import Donation, Pledge, WriteOff
from donors.selectors import overdue_instalments, pledge_totals_by_currency, posted_days, soft_credit_total
from grants.models import Allocation, Output
from grants.selectors import obligations_due, obligations_overdue, output_funding, output_gaps, unallocated_balance
from reports.figures import Converter, portfolio_snapshot
from spending.models import Agreement
from spending.selectors import budgets_vs_actual, output_costs

D0 = Decimal("0.00")
YEARS = 5
LARGEST_GAPS = 8
OVERDUE_INSTALMENTS_SHOWN = 15
OBLIGATIONS_SHOWN = 10  # of each state; the counts say how many there are, the admin lists them all
OBLIGATIONS_DUE_WITHIN = 30  # days
FLAGGED_AGREEMENTS_SHOWN = 10
PROGRAMME_FIGURES = [
    ("pledged", "Pledged for this programme (restricted pledges starting in the period)"),
    ("received", "Received on pledges restricted to this programme"),
    ("outstanding", "Outstanding on this programme's pledges at period end"),
    ("overdue", "Overdue on this programme's pledges at period end"),
    ("written_off", "Written off this programme's pledges in the period"),
]


def _posted():
    return Donation.objects.filter(status=Donation.Status.POSTED)


def _currency_rows(totals: dict[str, Decimal], fx: Converter) -> list[dict]:
    return [
        {"currency": c, "amount": money_round(v, c), "base": money_round(fx.to_base(v, c))}
        for c, v in sorted(totals.items())
        if v
    ]


def dashboard_figures(*, start: dt.date, end: dt.date, programme=None, today: dt.date | None = None) -> dict:
    today = today or timezone.localdate()
    base = settings.BASE_CURRENCY
    snapshot = portfolio_snapshot(start=start, end=end)
    fx = Converter(end)

    # Key figures: the snapshot's, each with its split by currency. For one programme, the same
    # figures over the pledges restricted to it (or to one of its outputs) and the donations
    # received against them: the money given for that programme. Unrestricted money reaches a
    # programme only when it is allocated, which the "allocated" figure shows.
    pledge_scope = Pledge.objects.all()
    if programme is not None:
        for_programme = Q(restricted_programme=programme) | Q(restricted_output__programme=programme)
        pledge_scope = pledge_scope.filter(for_programme)
    pledge_totals = pledge_totals_by_currency(start=start, end=end, queryset=pledge_scope)
    written_off_rows = WriteOff.objects.filter(written_off_on__gte=start, written_off_on__lte=end)
    if programme is not None:
        written_off_rows = written_off_rows.filter(pledge__in=pledge_scope)
    written_off = {
        g["currency"]: g["amount"]
        for g in written_off_rows.values(currency=F("pledge__currency")).annotate(amount=Sum("amount")).order_by()
    }
    if programme is None:
        received_by_currency = [
            {"currency": r["label"], "amount": Decimal(r["amount"]["amount"]), "base": Decimal(r["base"]["amount"])}
            for r in snapshot["by_currency"]
        ]
    else:
        received_by_currency = [
            {
                "currency": r["currency"],
                "amount": money_round(r["amount"], r["currency"]),
                "base": money_round(r["base"]),
            }
            for r in _posted()
            .filter(received_on__gte=start, received_on__lte=end, pledge__in=pledge_scope)
            .values("currency")
            .annotate(amount=Sum("amount"), base=Sum("base_amount"))
            .order_by("currency")
        ]
    totals = {
        key: {t.currency: getattr(t, key) for t in pledge_totals} for key in ("pledged", "outstanding", "overdue")
    }
    totals["written_off"] = written_off
    by_currency = {key: _currency_rows(t, fx) for key, t in totals.items()}
    by_currency["received"] = received_by_currency
    if programme is None:
        figures = [
            {**f, "amount": Decimal(f["value"]["amount"]), "by_currency": by_currency[f["key"]]}
            for f in snapshot["figures"]
        ]
    else:
        amounts = {  # the snapshot's rule: converted per currency at the closing rate, rounded once
            key: money_round(sum((fx.to_base(v, c) for c, v in t.items()), start=D0)) for key, t in totals.items()
        }
        amounts["received"] = sum((r["base"] for r in received_by_currency), start=D0)
        figures = [
            {"key": key, "label": label, "amount": amounts[key], "by_currency": by_currency[key]}
            for key, label in PROGRAMME_FIGURES
        ]

    # Money applied: the whole portfolio, or one programme's outputs and restricted balance.
    split = [Decimal(r["amount"]["amount"]) for r in snapshot["allocation_split"]]
    allocated, restricted, unrestricted = split
    if programme is not None:  # the balance is read again only to pick one programme's restrictions
        balance = unallocated_balance()
        allocated = money_round(
            Allocation.objects.received()
            .filter(allocated_on__gte=start, allocated_on__lte=end, output__programme=programme)
            .aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]
        )
        outputs_in = set(programme.outputs.values_list("pk", flat=True))
        restricted = sum(
            (b.amount for b in balance.by_restriction if b.programme_id == programme.pk or b.output_id in outputs_in),
            start=D0,
        )
    figures += [
        {"key": "allocated", "label": "Allocated to outputs in the period", "amount": allocated, "by_currency": []},
        {"key": "unallocated_restricted", "label": "Unallocated, restricted (now)", "amount": restricted,
         "by_currency": []},
        {"key": "unallocated_unrestricted", "label": "Unallocated, unrestricted (now)",
         "amount": unrestricted, "by_currency": []},
    ]  # fmt: skip

    outputs = output_funding(programme=programme, end=end)
    programmes: dict[str, dict] = {}
    for o in outputs:
        row = programmes.setdefault(o.programme_name, {"label": o.programme_name, "budget": D0, "funded": D0})
        row["budget"] += o.budget
        row["funded"] += o.allocated
    overdue_obligations = obligations_overdue(today=today)
    due_obligations = obligations_due(within_days=OBLIGATIONS_DUE_WITHIN, today=today)

    if programme is None:
        soft_credit = {**snapshot["soft_credit"], "amount": Decimal(snapshot["soft_credit"]["value"]["amount"])}
    else:
        soft_credit = {
            "key": "soft_credit",
            "label": "Soft credit on gifts received against this programme's pledges (already counted as the "
            "payers' gifts)",
            "amount": soft_credit_total(start=start, end=end, pledges=pledge_scope),
        }

    return {
        "base_currency": base,
        "snapshot": snapshot,
        "figures": figures,
        "soft_credit": soft_credit,  # beside the figures, never in them: every figure is hard credit
        "figure": {f["key"]: f["amount"] for f in figures},
        "by_kind": [{"label": r["label"], "amount": Decimal(r["amount"]["amount"])} for r in snapshot["by_kind"]],
        "by_year": _by_year(end, fx),
        "by_programme": sorted(programmes.values(), key=lambda r: r["label"]),
        "gaps": output_gaps(programme=programme, end=end, limit=LARGEST_GAPS),
        "spend_by_programme": spend_by_programme(start=start, end=end, programme=programme),
        **agreements_flagged(start=start, end=end, programme=programme),
        "top_donors": [{**r, "amount": Decimal(r["amount"]["amount"])} for r in snapshot["top_donors"]],
        "overdue_instalments": list(overdue_instalments(today=today)[:OVERDUE_INSTALMENTS_SHOWN]),
        "obligations_overdue": list(overdue_obligations[:OBLIGATIONS_SHOWN]),
        "obligations_overdue_count": overdue_obligations.count(),
        "obligations_due": list(due_obligations[:OBLIGATIONS_SHOWN]),
        "obligations_due_count": due_obligations.count(),
        "obligations_due_within": OBLIGATIONS_DUE_WITHIN,
        "today": today,
    }


def _by_year(end: dt.date, fx: Converter) -> list[dict]:
    """Pledged (by pledge start, at the closing rate on `end`) and received (as posted) per year, last five years."""
    first = dt.date(end.year - YEARS + 1, 1, 1)
    years = {y: {"label": str(y), "pledged": D0, "received": D0} for y in range(first.year, end.year + 1)}
    received = (
        posted_days(start=first, end=end)
        .annotate(year=ExtractYear("received_on"))
        .values("year")
        .annotate(total=Sum("base_amount"))
        .order_by("year")
    )
    for r in received:
        years[r["year"]]["received"] = money_round(r["total"])
    pledged = (
        Pledge.objects.filter(start_date__gte=first, start_date__lte=end)
        .filter(Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=end))
        .annotate(year=ExtractYear("start_date"))
        .values("year", "currency")
        .annotate(total=Sum("total"))
        .order_by("year", "currency")
    )
    for r in pledged:
        years[r["year"]]["pledged"] += fx.to_base(r["total"], r["currency"])
    for row in years.values():
        row["pledged"] = money_round(row["pledged"])
    return list(years.values())


UNCHARGED = "Not charged to an output"


def spend_by_programme(*, start: dt.date, end: dt.date, programme=None) -> list[dict]:
    """Each programme's budget (its outputs' budgets) against what its outputs cost, direct and indirect
    (spending.selectors.output_costs), in the period and to its end, in base currency; then the spend
    charged to no output, which belongs to no programme. Two queries."""
    costs = output_costs(start=start, end=end)
    outputs = Output.objects.order_by()
    if programme is not None:
        outputs = outputs.filter(programme=programme)
    rows: dict[str, dict] = {}
    for o in outputs.values("pk", "budget", "programme__name"):
        row = rows.setdefault(o["programme__name"], {"label": o["programme__name"], "budget": D0, "period": D0,
                                                      "to_date": D0})  # fmt: skip
        row["budget"] += o["budget"]
        if cost := costs.get(o["pk"]):
            row["period"] += cost.full_cost_period
            row["to_date"] += cost.full_cost_to_date
    found = sorted(rows.values(), key=lambda r: r["label"])
    uncharged = costs.get(None)
    if programme is None and uncharged is not None and (uncharged.full_cost_to_date or uncharged.full_cost_period):
        found.append({"label": UNCHARGED, "budget": None, "period": uncharged.full_cost_period,
                      "to_date": uncharged.full_cost_to_date})  # fmt: skip
    for row in found:
        row["budget"] = None if row["budget"] is None else money_round(row["budget"])
        row["pct"] = (row["to_date"] * 100 / row["budget"]).quantize(Decimal("0.1")) if row["budget"] else None
    return found


def agreements_flagged(*, start: dt.date, end: dt.date, programme=None) -> dict:
    """The active agreements running in the period whose budget against actual for it has a line past the
    agreement's variance threshold (spending.selectors.budgets_vs_actual), largest variance first."""
    agreements = Agreement.objects.filter(
        status=Agreement.Status.ACTIVE, start_date__lte=end, end_date__gte=start
    ).select_related("pledge__donor")
    if programme is not None:
        agreements = agreements.filter(
            Q(pledge__restricted_programme=programme) | Q(pledge__restricted_output__programme=programme)
        )
    flagged = []
    for figures in budgets_vs_actual(agreements, start=start, end=end):
        if lines := figures.flagged:
            worst = max(lines, key=lambda line: abs(line.variance_pct or Decimal(100)))
            flagged.append({"agreement": figures.agreement, "currency": figures.currency, "lines": lines,
                            "worst": worst})  # fmt: skip
    flagged.sort(key=lambda f: (-abs(f["worst"].variance_pct or Decimal(100)), f["agreement"].funder_ref))
    return {"agreements_flagged": flagged[:FLAGGED_AGREEMENTS_SHOWN], "agreements_flagged_count": len(flagged)}
