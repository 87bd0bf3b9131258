"""The donor summary's figures as they were built before they were made cheaper, kept to compare against.

A verbatim copy of `reports.figures.donor_summary_snapshot` and its helpers at 54ff9e5 (one model
instance per row, every exchange rate loaded, co-funders pooled in Python).
`test_donor_summary_snapshot_unchanged` asserts the current code gives the same snapshot, byte for
byte, for every demo donor. Renderer 7 added fields to the snapshot (each output's co-funding line
and whether it gets a co-funder table, the horizon of "still to come", each report's state on the
period end in place of its stored status): this copy builds them its own way, from its own rows.
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, Sum

from backoffice.money import money_round
from backoffice.sql import sum_subquery
from donors.models import Donation, Donor, Instalment, Pledge, WriteOff
from donors.rates import RateBook
from grants.models import Allocation, Indicator, Output
from grants.selectors import donor_output_funding, obligations_pending
from reports.figures import _by_currency, _money_row, report_voice
from reports.snapshot import SNAPSHOT_VERSION, day, money, share

D0 = Decimal("0.00")
OTHER_FUNDERS = "Other funders"


def _posted():
    return Donation.objects.filter(status=Donation.Status.POSTED)


class Converter:
    """Closing-rate conversion between currencies via the base currency (rates loaded once)."""

    def __init__(self, on: dt.date):
        self.on = on
        self.book = RateBook()
        self.used: dict[str, tuple[Decimal, dt.date]] = {}

    def rate(self, currency: str) -> Decimal:
        rate, rate_date, _ = self.book.lookup(currency, self.on)
        if currency != settings.BASE_CURRENCY:
            self.used[currency] = (rate, rate_date)
        return rate

    def to_base(self, amount: Decimal, currency: str) -> Decimal:
        return amount * self.rate(currency)

    def convert(self, amount: Decimal, currency: str, target: str) -> Decimal:
        if currency == target:
            return amount
        return self.to_base(amount, currency) / self.rate(target)

    def rates_used(self) -> list[dict]:
        return [
            {"currency": c, "rate": str(r), "date": day(d), "base_currency": settings.BASE_CURRENCY}
            for c, (r, d) in sorted(self.used.items())
        ]


def _pledges_at(queryset, end: dt.date):
    """Pledges made by `end` and not cancelled by then, with received/written off/fell due up to `end`."""
    return (
        queryset.filter(start_date__lte=end)
        .filter(Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=end))
        .annotate(
            received_to=sum_subquery(_posted().filter(received_on__lte=end), "pledge_amount", "pledge"),
            written_off_to=sum_subquery(WriteOff.objects.filter(written_off_on__lte=end), "amount", "pledge"),
            fell_due=sum_subquery(Instalment.objects.filter(due_date__lt=end), "amount", "pledge"),
        )
        .select_related("donor")
        .order_by("start_date", "ref")
    )


def _pledge_row(p) -> dict:
    balance = p.total - p.received_to - p.written_off_to
    outstanding = max(balance, D0)
    overdue = max(min(p.fell_due - p.received_to - p.written_off_to, balance), D0)
    return {
        "ref": p.ref,
        "title": p.title,
        "donor_name": p.donor.name,
        "donor_ref": p.donor.ref,
        "start_date": day(p.start_date),
        "end_date": day(p.end_date),
        "currency": p.currency,
        "total": p.total,
        "received": p.received_to,
        "written_off": p.written_off_to,
        "outstanding": outstanding,
        "overdue": overdue,
        "overpaid": max(-balance, D0),
    }


def donor_summary_snapshot(*, donor: Donor, start: dt.date, end: dt.date, currency: str = "") -> dict:
    base = settings.BASE_CURRENCY
    shown = currency or donor.preferred_currency
    fx = Converter(end)

    def donations_figure(groups, amount: str, base_amount: str):
        groups = [g for g in groups if g[base_amount] is not None]  # no donation of that currency in the period
        value = sum((g[amount] if g["currency"] == shown else g[base_amount] / fx.rate(shown) for g in groups), D0)
        return money_round(value, shown), money_round(sum((g[base_amount] for g in groups), start=D0))

    def pledge_figure(totals: dict[str, Decimal]):
        value = sum((fx.convert(v, c, shown) for c, v in totals.items()), start=D0)
        base_value = sum((fx.to_base(v, c) for c, v in totals.items()), start=D0)
        return money_round(value, shown), money_round(base_value)

    donations = _posted().filter(donor=donor)
    in_period = donations.filter(received_on__gte=start, received_on__lte=end)
    pledges = [_pledge_row(p) for p in _pledges_at(Pledge.objects.filter(donor=donor), end)]

    in_period_q = Q(received_on__gte=start)
    # Received to date and in the period, by currency, in one pass over the donor's donations.
    groups = list(
        donations.filter(received_on__lte=end)
        .values("currency")
        .annotate(
            to_date_amount=Sum("amount"),
            to_date_base=Sum("base_amount"),
            period_amount=Sum("amount", filter=in_period_q),
            period_base=Sum("base_amount", filter=in_period_q),
        )
        .order_by("currency")
    )
    period_value, period_base = donations_figure(groups, "period_amount", "period_base")
    to_date = donations_figure(groups, "to_date_amount", "to_date_base")
    figures = []
    for key, label, (value, base_value) in (
        ("pledged", "Pledged", pledge_figure(_by_currency(pledges, "total"))),
        ("received_in_period", "Received in this period", (period_value, period_base)),
        ("received_to_date", f"Received to {end:%-d %B %Y}", to_date),
        ("written_off", "Written off", pledge_figure(_by_currency(pledges, "written_off"))),
        ("outstanding", "Outstanding on pledges", pledge_figure(_by_currency(pledges, "outstanding"))),
    ):
        figures.append({"key": key, "label": label, "value": money(value, shown), "base": money(base_value, base)})

    donation_rows = [
        {
            "received_on": day(d["received_on"]),
            "reference": d["reference"],
            "pledge": d["pledge__ref"] or "",
            "amount": money(d["amount"], d["currency"]),
            "base": money(d["base_amount"], base),
            "reversal": d["reversal_of_id"] is not None,
        }
        for d in in_period.order_by("received_on", "id").values(
            "received_on", "reference", "pledge__ref", "amount", "currency", "base_amount", "reversal_of_id"
        )
    ]

    funded = donor_output_funding(donor=donor, end=end)
    output_ids = [f.output_id for f in funded]
    co_funders = _co_funders(output_ids, end=end, exclude_donor=donor.pk)
    indicators = _indicators(output_ids)
    outputs = []
    by_programme: dict[str, Decimal] = defaultdict(lambda: D0)
    for f in funded:
        by_programme[f.programme_name] += f.donor_amount
        outputs.append(
            {
                "output_id": f.output_id,
                "title": f.output_title,
                "programme": f.programme_name,
                "kind": str(Output.Kind(f.kind).label),  # a lazy label now (translated)
                "status": str(Output.Status(f.status).label),
                "start_date": day(f.start_date),
                "end_date": day(f.end_date),
                "donor_amount": money(f.donor_amount, base),
                "output_allocated": money(f.output_allocated, base),
                "share": share(f.share),
                "co_funders": co_funders.get(f.output_id, []),
                "co_funding": _co_funding(co_funders.get(f.output_id, [])),
                "co_funders_table": f.share >= Decimal("0.25") and bool(co_funders.get(f.output_id)),
                "indicators": indicators.get(f.output_id, []),
            }
        )

    open_pledges = {p["ref"] for p in pledges if p["outstanding"] > 0}
    horizon = end + dt.timedelta(days=365)
    instalments = [
        {"due_date": day(i.due_date), "pledge": i.pledge.ref, "amount": money(i.amount, i.pledge.currency)}
        for i in Instalment.objects.filter(pledge__donor=donor, due_date__gt=end, due_date__lte=horizon)
        .select_related("pledge")
        .order_by("due_date", "id")
        if i.pledge.ref in open_pledges
    ]
    # Overdue at the period end, then due within a year of it: one query, in due-date order.
    obligations = obligations_pending().filter(pledge__donor=donor, due_date__lte=horizon).order_by("due_date", "pk")
    obligation_rows = [_obligation_row(o) | {"state": "Overdue" if o.due_date < end else "Due"} for o in obligations]

    return {
        "version": SNAPSHOT_VERSION,
        "kind": "donor_summary",
        "title": "Impact summary",
        "base_currency": base,
        "currency": shown,
        "period": {"start": day(start), "end": day(end)},
        "donor": {"ref": donor.ref, "name": donor.name, "kind": Donor.Kind(donor.kind).label},
        "figures": figures,
        "pledges": [
            _money_row(p, "total", "received", "written_off", "outstanding", "overdue", "overpaid") for p in pledges
        ],
        "donations": donation_rows,
        "donations_total": {"value": money(period_value, shown), "base": money(period_base, base)},
        "outputs": outputs,
        "by_programme": [{"label": k, "amount": money(v, base)} for k, v in sorted(by_programme.items())],
        "horizon": day(horizon),
        "instalments": instalments,
        "obligations": obligation_rows,
        "rates": fx.rates_used(),
        **report_voice(internal=False),
    }


def _co_funders(output_ids, *, end=None, exclude_donor=None) -> dict[int, list[dict]]:
    """Other donors' received allocations to each output: named if acknowledged, else pooled."""
    allocations = Allocation.objects.filter(output_id__in=output_ids, donation__isnull=False)
    if end:
        allocations = allocations.filter(allocated_on__lte=end)
    if exclude_donor:
        allocations = allocations.exclude(donation__donor_id=exclude_donor)
    rows = (
        allocations.values("output_id", "donation__donor__name", "donation__donor__publicly_acknowledged")
        .annotate(amount=Sum("amount"))
        .filter(amount__gt=0)
        .order_by("output_id", "-amount", "donation__donor__name")
    )
    return _acknowledged(rows, external=True)


def _acknowledged(rows, *, external: bool) -> dict[int, list[dict]]:
    base = settings.BASE_CURRENCY
    named: dict[int, list[dict]] = defaultdict(list)
    pooled: dict[int, list[Decimal]] = defaultdict(list)
    for r in rows:
        if r["donation__donor__publicly_acknowledged"] or not external:
            named[r["output_id"]].append({"name": r["donation__donor__name"], "amount": money(r["amount"], base)})
        else:
            pooled[r["output_id"]].append(r["amount"])
    for output_id, amounts in pooled.items():
        named[output_id].append(
            {"name": f"{OTHER_FUNDERS} ({len(amounts)})", "amount": money(sum(amounts, start=D0), base)}
        )
    return dict(named)


def _indicators(output_ids) -> dict[int, list[dict]]:
    rows: dict[int, list[dict]] = defaultdict(list)
    for i in Indicator.objects.filter(output_id__in=output_ids).order_by("output_id", "name"):
        rows[i.output_id].append(
            {
                "name": i.name,
                "unit": i.unit,
                "baseline": str(i.baseline),
                "target": str(i.target),
                "actual": None if i.actual is None else str(i.actual),
                "as_of": day(i.as_of),
            }
        )
    return dict(rows)


def _obligation_row(o) -> dict:
    return {
        "due_date": day(o.due_date),
        "kind": o.get_kind_display(),
        "pledge": o.pledge.ref,
        "donor_name": o.pledge.donor.name,
        "period_end": day(o.period_end),
    }


def _co_funding(rows: list[dict]) -> str:
    """The co-funders' line from the report rows: three names, then how many more (pooled counted)."""
    named = [r["name"] for r in rows if not r["name"].startswith(f"{OTHER_FUNDERS} (")]
    pooled = sum(int(r["name"][len(OTHER_FUNDERS) + 2 : -1]) for r in rows if r["name"] not in named)
    more = len(named[3:]) + pooled
    parts = named[:3] + ([f"{more} other funder" + ("s" if more > 1 else "")] if more else [])
    if not parts:
        return ""
    return "with " + (parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1])
