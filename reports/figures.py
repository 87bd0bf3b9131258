"""Figures for reports, built into snapshot dictionaries: every number, label and row a PDF shows.

Every figure comes from the donors and grants selectors, which do the sums in SQL; Python adds
up only rows that the report shows (a donor's pledges, a handful of currency groups), so the
totals printed always equal the rows printed.

Conversion rule, stated in every report that converts: a donation counts at its posted
base amount (and at face value in its own currency); pledge-side amounts (pledged, written
off, outstanding, overdue) are converted at the closing rate on the period end. An amount
shown in another currency than its own (the donor's preferred currency) is converted at a
stated cross rate, and the report lists each conversion with its rate and date.

The reconciliation (`pledge_reconciliation`): for the pledges at the period end, one row per
pledge currency, exact in that currency, then the base currency, then the donor's currency; in
every row pledged − received − written off + overpaid + exchange difference = outstanding, to
the cent. docs/reports.md states the rule.
"""

import datetime as dt
import functools
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce, ExtractYear, TruncMonth
from django.utils import translation
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from backoffice.formats import format_day
from backoffice.models import Organisation
from backoffice.money import RATE_PLACES, money_round
from backoffice.sql import ZERO
from donors.models import Donation, Donor, Instalment, SoftCredit, WriteOff
from donors.rates import RateBook
from donors.selectors import (
    ACCOUNT_FIELDS,
    PledgeAccount,
    donor_group_ids,
    donor_period_totals,
    pledge_accounts,
    pledge_accounts_by_currency,
    pledge_totals_by_currency,
    pledges_at,
    posted_days,
    soft_credit_total,
    soft_credits_given,
    soft_credits_received,
    soft_credits_touch,
    with_received_base,
)
from grants.models import Allocation, Indicator, Output, ReportingObligation
from grants.selectors import (
    CoFunders,
    co_funders_pooled,
    donor_output_funding,
    obligations_due,
    obligations_overdue,
    obligations_with_state,
    output_co_funders,
    output_funders,
    output_funding,
    unallocated_balance,
)
from spending.selectors import output_cost, output_costs

from .snapshot import SNAPSHOT_VERSION, day, money, share

D0 = Decimal("0.00")
OTHER_FUNDERS = gettext_noop("Other funders")
# A donor's report names at most this many co-funders of an output in its one line, then counts the rest.
CO_FUNDERS_NAMED = 3
# A donor whose share of an output is at least this also gets the output's full co-funder table:
# a lead funder wants to see who met the rest; at 0.6% a list of every other funder is noise.
CO_FUNDERS_TABLE_SHARE = Decimal("0.25")
# A chart's time axis shows at most this many periods: months, else quarters, else years.
PERIODS_SHOWN = 16


def _sum(queryset, field: str) -> Decimal:
    return money_round(queryset.aggregate(total=Coalesce(Sum(field), ZERO))["total"])


class Converter:
    """Closing-rate conversion between currencies via the base currency (the closing rates loaded once)."""

    def __init__(self, on: dt.date):
        self.on = on
        self.book = RateBook.closing(on)
        self.used: dict[str, tuple[Decimal, dt.date]] = {}
        self.crossed: dict[tuple[str, str], Decimal] = {}

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

    def cross(self, currency: str, target: str) -> Decimal:
        """The stated rate from `currency` to `target` at the closing rates, to 8 places: a reader
        multiplies by the printed rate and gets the printed amount."""
        if currency == target:
            return Decimal("1")
        rate = (self.rate(currency) / self.rate(target)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
        self.crossed[(currency, target)] = rate
        return rate

    def conversions_used(self) -> list[dict]:
        """Each stated conversion: 1 `from` = `rate` `to`, from the closing rates to base of `rate_dates`."""
        rows = []
        for (c, t), rate in sorted(self.crossed.items()):
            dates = sorted({self.book.lookup(x, self.on)[1] for x in (c, t) if x != settings.BASE_CURRENCY})
            rows.append({"from": c, "to": t, "rate": str(rate), "rate_dates": [day(d) for d in dates]})
        return rows


# What `pledge_rows` reads of each pledge (`donors.selectors.pledges_at`).
PLEDGE_ROW_FIELDS = (
    "ref", "title", "donor__name", "donor__ref", "start_date", "end_date", "currency", "total", "received",
    "written_off", "outstanding", "overdue_amount", "overpaid",
)  # fmt: skip


def pledge_rows(pledges) -> list[dict]:
    """Report rows of pledges read with their figures at the period end: `donors.selectors.pledges_at`,
    its rows' `PLEDGE_ROW_FIELDS`."""
    return [
        {
            "ref": p["ref"],
            "title": p["title"],
            "donor_name": p["donor__name"],
            "donor_ref": p["donor__ref"],
            "start_date": day(p["start_date"]),
            "end_date": day(p["end_date"]),
            "currency": p["currency"],
            "total": p["total"],
            "received": p["received"],
            "written_off": p["written_off"],
            "outstanding": p["outstanding"],
            "overdue": p["overdue_amount"],
            "overpaid": p["overpaid"],
        }
        for p in pledges
    ]


def _money_row(row: dict, *fields) -> dict:
    return {k: (money(v, row["currency"]) if k in fields else v) for k, v in row.items()}


def _by_currency(rows, field) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(lambda: D0)
    for row in rows:
        totals[row["currency"]] += row[field]
    return dict(totals)


# Reconciliation ------------------------------------------------------------------------------

RECONCILIATION_FIELDS = ("pledged", "received", "written_off", "overpaid", "exchange_difference", "outstanding")


def _reconciled(currency: str, basis: str, label: str, **amounts: Decimal) -> dict:
    """One reconciliation row: the exchange difference is what makes the row add up to the cent."""
    rounded = {k: money_round(v, currency) for k, v in amounts.items()}
    rounded["exchange_difference"] = rounded["outstanding"] - (
        rounded["pledged"] - rounded["received"] - rounded["written_off"] + rounded["overpaid"]
    )
    return {
        "currency": currency,
        "basis": basis,
        "label": label,
        **{k: money(rounded[k], currency) for k in RECONCILIATION_FIELDS},
    }


def pledge_reconciliation(accounts: list[PledgeAccount], fx: Converter, shown: str = "") -> list[dict]:
    """The pledges' account at the period end, one row per basis (`basis`):
    - `pledge`: one row per pledge currency, in that currency, exact (no exchange difference);
    - `base`: all pledges in the base currency: received at the base amounts posted, the rest at
      the closing rate; the exchange difference is the gap between the two (and rounding);
    - `converted`: all pledges in the donor's currency `shown`, each pledge currency converted at
      its stated cross rate (`Converter.cross`); the exchange difference is rounding.
    The base row is left out when every pledge is in the base currency, the converted row when
    `shown` is the base currency or every pledge is in `shown`: those rows would repeat one above."""
    base = settings.BASE_CURRENCY
    rows = [
        _reconciled(
            a.currency, "pledge", _("%(currency)s pledges") % {"currency": a.currency}, pledged=a.pledged,
            received=a.received, written_off=a.written_off, overpaid=a.overpaid, outstanding=a.outstanding,
        )
        for a in accounts
    ]  # fmt: skip
    currencies = {a.currency for a in accounts}
    if currencies and currencies != {base}:

        def at_closing(field: str) -> Decimal:
            return sum((fx.to_base(getattr(a, field), a.currency) for a in accounts), start=D0)

        rows.append(
            _reconciled(
                base, "base", _("All pledges in %(currency)s") % {"currency": base}, pledged=at_closing("pledged"),
                received=sum((a.received_base for a in accounts), start=D0), written_off=at_closing("written_off"),
                overpaid=at_closing("overpaid"), outstanding=at_closing("outstanding"),
            )
        )  # fmt: skip
    if shown and shown != base and currencies and currencies != {shown}:

        def converted(field: str) -> Decimal:
            return sum((getattr(a, field) * fx.cross(a.currency, shown) for a in accounts), start=D0)

        rows.append(
            _reconciled(
                shown, "converted", _("All pledges in %(currency)s") % {"currency": shown},
                **{f: converted(f) for f in ("pledged", "received", "written_off", "overpaid", "outstanding")},
            )
        )  # fmt: skip
    return rows


# Donor summary -------------------------------------------------------------------------------


def in_donor_language(build):
    """Build a donor's snapshot in the donor's language (Donor.language): its words (labels, states,
    kinds) are those the donor reads, and the snapshot records the language its PDF and HTML
    version are drawn in."""

    @functools.wraps(build)
    def built(*, donor: Donor, **kwargs) -> dict:
        with translation.override(donor.language):
            return {**build(donor=donor, **kwargs), "language": donor.language}

    return built


@in_donor_language
def donor_summary_snapshot(*, donor: Donor, start: dt.date, end: dt.date, currency: str = "") -> dict:
    base = settings.BASE_CURRENCY
    shown = currency or donor.preferred_currency
    fx = Converter(end)

    def donations_figure(groups, amount: str, base_amount: str):
        """Received in `shown`: its own currency at face value, each other currency at its stated
        cross rate (listed in `converted_from`, so no currency is added into another unsaid)."""
        groups = [g for g in groups if g[base_amount] is not None]  # no donation of that currency in the period
        parts = [
            {
                "amount": money(g[amount], g["currency"]),
                "rate": str(fx.cross(g["currency"], shown)),
                "converted": money(g[amount] * fx.cross(g["currency"], shown), shown),
            }
            for g in groups
            if g["currency"] != shown
        ]
        own = sum((money_round(g[amount], shown) for g in groups if g["currency"] == shown), start=D0)
        value = own + sum((Decimal(p["converted"]["amount"]) for p in parts), start=D0)
        return value, money_round(sum((g[base_amount] for g in groups), start=D0)), parts

    donations = Donation.objects.posted().filter(donor=donor)
    # The donor's pledges at the period end, read once for their rows and their accounts per currency.
    read = with_received_base(pledges_at(end=end, queryset=donor.pledges.all()), end=end)
    read = list(read.values(*dict.fromkeys((*PLEDGE_ROW_FIELDS, *ACCOUNT_FIELDS))))
    pledges = pledge_rows(read)
    accounts = pledge_accounts(read)
    reconciliation = pledge_reconciliation(accounts, fx, shown)
    in_shown = next((r for r in reversed(reconciliation) if r["currency"] == shown), None)
    in_base = next((r for r in reversed(reconciliation) if r["currency"] == base), None)

    def pledge_figure(field: str):
        return (in_shown or {}).get(field, money(D0, shown)), (in_base or {}).get(field, money(D0, base)), []

    in_period = Q(received_on__gte=start)
    # Received to date and in the period, by currency, in one pass over the donor's donations.
    groups = list(
        donations.filter(received_on__lte=end)
        .values("currency")
        .annotate(
            to_date_amount=Sum("amount"),
            to_date_base=Sum("base_amount"),
            period_amount=Sum("amount", filter=in_period),
            period_base=Sum("base_amount", filter=in_period),
        )
        .order_by("currency")
    )
    period_value, period_base, period_parts = donations_figure(groups, "period_amount", "period_base")
    to_date_value, to_date_base, to_date_parts = donations_figure(groups, "to_date_amount", "to_date_base")
    figures = []
    for key, label, (value, base_value, parts) in (
        ("pledged", _("Pledged"), pledge_figure("pledged")),
        ("received_in_period", _("Received in this period"),
         (money(period_value, shown), money(period_base, base), period_parts)),
        ("received_to_date", _("Received to %(date)s") % {"date": format_day(end, long=True)},
         (money(to_date_value, shown), money(to_date_base, base), to_date_parts)),
        ("written_off", _("Written off"), pledge_figure("written_off")),
        ("outstanding", _("Outstanding on pledges"), pledge_figure("outstanding")),
    ):  # fmt: skip
        figures.append({"key": key, "label": label, "value": value, "base": base_value, "converted_from": parts})
    donations_by_currency = [
        {"amount": money(g["period_amount"], g["currency"]), "base": money(g["period_base"], base)}
        for g in groups
        if g["period_base"] is not None
    ]

    donation_rows = [
        {
            "received_on": day(d["received_on"]),
            "reference": d["reference"],
            "pledge": d["pledge__ref"] or "",
            "amount": money(d["amount"], d["currency"]),
            "base": money(d["base_amount"], base),
            "reversal": d["reversal_of_id"] is not None,
        }
        for d in donations.filter(received_on__gte=start, received_on__lte=end)
        .order_by("received_on", "id")
        .values("received_on", "reference", "pledge__ref", "amount", "currency", "base_amount", "reversal_of_id")
    ]

    funded = donor_output_funding(donor=donor, end=end)
    output_ids = [f.output_id for f in funded]
    co_funders = output_co_funders(outputs=output_ids, end=end, excluding_donor=donor)
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
                "kind": str(Output.Kind(f.kind).label),
                "status": str(Output.Status(f.status).label),
                "start_date": day(f.start_date),
                "end_date": day(f.end_date),
                "donor_amount": money(f.donor_amount, base),
                "output_allocated": money(f.output_allocated, base),
                "share": share(f.share),
                "co_funders": _co_funder_rows(co_funders[f.output_id]) if f.output_id in co_funders else [],
                "co_funding": co_funding_line(co_funders.get(f.output_id)),
                "co_funders_table": f.share >= CO_FUNDERS_TABLE_SHARE and f.output_id in co_funders,
                "indicators": indicators.get(f.output_id, []),
            }
        )

    open_pledges = {p["ref"] for p in pledges if p["outstanding"] > 0}
    horizon = end + dt.timedelta(days=365)
    instalments = [
        {
            "due_date": day(i["due_date"]),
            "pledge": i["pledge__ref"],
            "amount": money(i["amount"], i["pledge__currency"]),
        }
        for i in Instalment.objects.filter(pledge__donor=donor, due_date__gt=end, due_date__lte=horizon)
        .order_by("due_date", "id")
        .values("due_date", "pledge__ref", "amount", "pledge__currency")
        if i["pledge__ref"] in open_pledges
    ]
    # Still pending at the period end, due by a year after it: overdue first, then due (in due-date
    # order); the state is derived on the period end (`grants.selectors.obligation_states`).
    obligations = (
        obligations_with_state(today=end)
        .filter(pledge__donor=donor, status=ReportingObligation.Status.PENDING, due_date__lte=horizon)
        .order_by("due_date", "pk")
    )

    return {
        "version": SNAPSHOT_VERSION,
        "kind": "donor_summary",
        "title": _("Impact summary"),
        "base_currency": base,
        "currency": shown,
        "period": {"start": day(start), "end": day(end)},
        "donor": {"ref": donor.ref, "name": donor.name, "kind": Donor.Kind(donor.kind).label},
        "figures": figures,
        "pledges": [
            _money_row(p, "total", "received", "written_off", "outstanding", "overdue", "overpaid") for p in pledges
        ],
        "donations": donation_rows,
        "donations_total": {"by_currency": donations_by_currency, "base": money(period_base, base)},
        **soft_credit_sections(donor=donor, start=start, end=end),
        "reconciliation": reconciliation,
        "outputs": outputs,
        "by_programme": [{"label": k, "amount": money(v, base)} for k, v in sorted(by_programme.items())],
        "horizon": day(horizon),
        "instalments": instalments,
        "obligations": [_obligation_row(o) for o in obligations],
        "rates": fx.rates_used(),
        **report_voice(internal=False),
        "conversions": fx.conversions_used(),
        "output_spend": _output_spend(output_ids, end),
    }


def _output_spend(output_ids: list[int], end: dt.date) -> list[dict]:
    """What was spent on each output by `end`, from all its funding (not the donor's share, which
    spending does not trace), in the outputs' order (spending.selectors.output_costs)."""
    base = settings.BASE_CURRENCY
    costs = output_costs(end=end, outputs=output_ids)
    return [
        {
            "output_id": i,
            "direct": money(costs[i].direct_to_date, base),
            "indirect": money(costs[i].indirect_to_date, base),
            "full_cost": money(costs[i].full_cost_to_date, base),
        }
        for i in output_ids
    ]


# Soft credits: whose name a donor's summary may show ------------------------------------------

ANOTHER_DONOR = gettext_noop("Another donor")


def soft_credit_party(other: Donor, group_ids: set[int]) -> str:
    """The other donor of a soft credit, as one donor's summary names it: by name where it is
    publicly acknowledged or in the same donor group (a government and its agency, a company and
    its foundation, a pooled fund and its members know each other's giving); else "Another donor".
    The same rule as co-funders: a donor never learns an unacknowledged donor's name from a report."""
    return other.name if other.publicly_acknowledged or other.pk in group_ids else _(ANOTHER_DONOR)


def soft_credit_sections(*, donor: Donor, start: dt.date, end: dt.date) -> dict:
    """The summary's two soft-credit sections for gifts received in the period. `received_through_others`:
    gifts other donors paid that are credited to this donor (theirs, received through the payer; the
    payer's bank reference is left out). `credited_to_others`: this donor's own gifts, or parts of them,
    credited to another donor. Both in each gift's currency and in base currency as posted; neither
    is in the donor's received figures, which count only what the donor paid (hard credit)."""
    base = settings.BASE_CURRENCY

    def section(rows: list[dict], soft_credits) -> dict:
        total = sum((c.base_amount for c in soft_credits), start=D0)
        return {"rows": rows, "base": money(total, base)}

    if not soft_credits_touch(donor):
        # Most donors have none, either way: one query instead of three.
        return {"received_through_others": section([], []), "credited_to_others": section([], [])}
    group_ids = donor_group_ids(donor)
    received = list(soft_credits_received(donor=donor, start=start, end=end))
    given = list(soft_credits_given(donor=donor, start=start, end=end))
    return {
        "received_through_others": section(
            [
                {
                    "received_on": day(c.donation.received_on),
                    "payer": soft_credit_party(c.donation.donor, group_ids),
                    "kind": str(SoftCredit.Kind(c.kind).label),
                    "amount": money(c.amount, c.donation.currency),
                    "base": money(c.base_amount, base),
                }
                for c in received
            ],
            received,
        ),
        "credited_to_others": section(
            [
                {
                    "received_on": day(c.donation.received_on),
                    "reference": c.donation.reference,
                    "credited_to": soft_credit_party(c.donor, group_ids),
                    "kind": str(SoftCredit.Kind(c.kind).label),
                    "amount": money(c.amount, c.donation.currency),
                    "donation_amount": money(c.donation.amount, c.donation.currency),
                    "base": money(c.base_amount, base),
                }
                for c in given
            ],
            given,
        ),
    }


def report_voice(*, internal: bool) -> dict:
    """Whose report it is, as its pages say it (reports/renderers/frame.py): the organisation profile as
    it stands now, copied so a later edit never changes the report; and whether it is for the
    alliance only. Internal: the portfolio (it names every donor) and an output statement made
    for internal use (it names unacknowledged co-funders); never a donor summary."""
    return {"organisation": Organisation.current().snapshot(), "internal": internal}


def _co_funder_rows(co_funders: CoFunders) -> list[dict]:
    """Co-funders as report rows: each named one, then "Other funders (n)" for the pooled ones."""
    base = settings.BASE_CURRENCY
    rows = [{"name": name, "amount": money(amount, base)} for name, amount in co_funders.named]
    if co_funders.others_count:
        rows.append(
            {"name": f"{_(OTHER_FUNDERS)} ({co_funders.others_count})", "amount": money(co_funders.others_amount, base)}
        )
    return rows


def co_funding_line(co_funders: CoFunders | None) -> str:
    """An output's co-funders in one line: "with A, B, C and 12 other funders" (the named ones
    first, largest first; every pooled one is counted, never named), or "" when there are none."""
    if co_funders is None:
        return ""
    names = [name for name, _amount in co_funders.named[:CO_FUNDERS_NAMED]]
    others = len(co_funders.named) - len(names) + co_funders.others_count
    if others:
        names.append(ngettext("%(count)s other funder", "%(count)s other funders", others) % {"count": others})
    return _("with %(funders)s") % {"funders": get_text_list(names, _("and"))}


def _indicators(output_ids) -> dict[int, list[dict]]:
    rows: dict[int, list[dict]] = defaultdict(list)
    for output_id, name, unit, baseline, target, actual, as_of in (
        Indicator.objects.filter(output_id__in=output_ids)
        .order_by("output_id", "name")
        .values_list("output_id", "name", "unit", "baseline", "target", "actual", "as_of")
    ):
        rows[output_id].append(
            {
                "name": name,
                "unit": unit,
                "baseline": str(baseline),
                "target": str(target),
                "actual": None if actual is None else str(actual),
                "as_of": day(as_of),
            }
        )
    return dict(rows)


def _obligation_row(o) -> dict:
    """A report owed, with its state on the report's as-of day (`obligations_with_state`)."""
    return {
        "due_date": day(o.due_date),
        "kind": o.get_kind_display(),
        "pledge": o.pledge.ref,
        "donor_name": o.pledge.donor.name,
        "state": str(ReportingObligation.State(o.state).label),
        "period_end": day(o.period_end),
    }


# Portfolio -----------------------------------------------------------------------------------


def portfolio_snapshot(*, start: dt.date, end: dt.date, top: int = 10) -> dict:
    base = settings.BASE_CURRENCY
    fx = Converter(end)

    pledge_totals = pledge_totals_by_currency(start=start, end=end)
    reconciliation = pledge_reconciliation(pledge_accounts_by_currency(end=end), fx)

    def pledge_side(field) -> Decimal:
        return money_round(sum((fx.to_base(getattr(t, field), t.currency) for t in pledge_totals), start=D0))

    written_off_groups = (
        WriteOff.objects.filter(written_off_on__gte=start, written_off_on__lte=end)
        .values(currency=F("pledge__currency"))
        .annotate(amount=Sum("amount"))
        .order_by("currency")
    )
    written_off = money_round(sum((fx.to_base(g["amount"], g["currency"]) for g in written_off_groups), start=D0))

    # The period's posted totals by (currency, year), from the per-day totals kept beside the
    # ledger; received, by year and by currency add up these few groups, so the three always agree.
    groups = list(
        posted_days(start=start, end=end)
        .annotate(year=ExtractYear("received_on"))
        .values("currency", "year")
        .annotate(amount=Sum("amount"), base=Sum("base_amount"))
        .order_by("currency", "year")
    )
    received = money_round(sum((g["base"] for g in groups), start=D0))
    figures = [
        {"key": key, "label": label, "value": money(value, base)}
        for key, label, value in (
            ("pledged", "Pledged (pledges starting in the period)", pledge_side("pledged")),
            ("received", "Received in the period", received),
            ("outstanding", "Outstanding on pledges at period end", pledge_side("outstanding")),
            ("overdue", "Overdue at period end", pledge_side("overdue")),
            ("written_off", "Written off in the period", written_off),
        )
    ]

    allocated_in_period = _sum(
        Allocation.objects.filter(donation__isnull=False, allocated_on__gte=start, allocated_on__lte=end), "amount"
    )
    balance = unallocated_balance()
    allocation_split = [
        {"label": "Allocated to outputs in the period", "amount": money(allocated_in_period, base)},
        {"label": "Unallocated, restricted (now)", "amount": money(balance.restricted, base)},
        {"label": "Unallocated, unrestricted (now)", "amount": money(balance.unrestricted, base)},
    ]

    donors = donor_period_totals(start=start, end=end, top=top)
    by_kind = [
        {"label": Donor.Kind(k.kind).label, "amount": money(k.amount, base), "count": k.count} for k in donors.by_kind
    ]
    by_year = [
        {"label": str(year), "amount": money(sum((g["base"] for g in groups if g["year"] == year), start=D0), base)}
        for year in sorted({g["year"] for g in groups})
    ]
    by_currency = []
    for currency in sorted({g["currency"] for g in groups}):
        mine = [g for g in groups if g["currency"] == currency]
        amount, base_amount = (sum((g[f] for g in mine), start=D0) for f in ("amount", "base"))
        by_currency.append({"label": currency, "amount": money(amount, currency), "base": money(base_amount, base)})
    by_programme = [
        {"label": r["output__programme__name"], "amount": money(r["total"], base)}
        for r in Allocation.objects.filter(donation__isnull=False, allocated_on__gte=start, allocated_on__lte=end)
        .values("output__programme__name")
        .annotate(total=Sum("amount"))
        .order_by("output__programme__name")
    ]
    top_donors = [
        {"ref": d.ref, "name": d.name, "kind": Donor.Kind(d.kind).label, "amount": money(d.amount, base)}
        for d in donors.top
    ]

    outputs = [
        {
            "output_id": f.output_id,
            "title": f.title,
            "programme": f.programme_name,
            "status": str(Output.Status(f.status).label),
            "budget": money(f.budget, base),
            "allocated": money(f.allocated, base),
            "planned": money(f.planned, base),
            "gap": money(f.gap, base),
        }
        for f in output_funding(end=end)
    ]
    overdue = [
        _money_row({k: p[k] for k in ("ref", "donor_name", "currency", "total", "overdue")}, "total", "overdue")
        for p in pledge_rows(pledges_at(end=end).filter(overdue_amount__gt=0).values(*PLEDGE_ROW_FIELDS))
    ]
    obligations = [
        *obligations_overdue(today=end),
        *obligations_due(within_days=90, today=end),
    ]
    return {
        "version": SNAPSHOT_VERSION,
        "kind": "portfolio",
        "title": "Funding portfolio",
        "base_currency": base,
        "period": {"start": day(start), "end": day(end)},
        "figures": figures,
        # Beside the figures, never in them: the payers' donations already count in "received".
        "soft_credit": {
            "key": "soft_credit",
            "label": "Soft credit on gifts received in the period (already counted as the payers' gifts)",
            "value": money(soft_credit_total(start=start, end=end), base),
        },
        "allocation_split": allocation_split,
        "unallocated_by_restriction": [
            {"label": b.label, "amount": money(b.amount, base)} for b in balance.by_restriction
        ],
        "by_kind": by_kind,
        "by_year": by_year,
        "by_currency": by_currency,
        "by_programme": by_programme,
        "top_donors": top_donors,
        "outputs": outputs,
        "overdue_pledges": overdue,
        "reconciliation": reconciliation,
        "obligations": [_obligation_row(o) for o in obligations],
        "rates": fx.rates_used(),
        **report_voice(internal=True),
    }


# Output statement ----------------------------------------------------------------------------


def period_grouping(months: list[dt.date]) -> str:
    """How a time axis groups these months: by month while at most PERIODS_SHOWN, else by quarter
    while at most that many, else by year; so a chart's axis labels never crowd into a smear."""
    if not months:
        return "month"
    first, last = min(months), max(months)
    span = (last.year - first.year) * 12 + last.month - first.month + 1
    if span <= PERIODS_SHOWN:
        return "month"
    if (last.year * 4 + (last.month - 1) // 3) - (first.year * 4 + (first.month - 1) // 3) + 1 <= PERIODS_SHOWN:
        return "quarter"
    return "year"


def period_label(month: dt.date, grouping: str) -> str:
    if grouping == "year":
        return str(month.year)
    if grouping == "quarter":
        return f"{month.year} Q{(month.month - 1) // 3 + 1}"
    return month.strftime("%Y-%m")


def _over_time(monthly: list[dict]) -> tuple[str, list[dict]]:
    """Monthly received and planned sums, grouped as `period_grouping` says, with the running total
    of received money at the end of each period."""
    base = settings.BASE_CURRENCY
    grouping = period_grouping([m["month"] for m in monthly])
    periods: dict[str, list[Decimal]] = {}
    for m in monthly:
        received, planned = periods.setdefault(period_label(m["month"], grouping), [D0, D0])
        periods[period_label(m["month"], grouping)] = [received + m["received"], planned + m["planned"]]
    rows, running = [], D0
    for label, (received, planned) in periods.items():
        running += received
        rows.append(
            {
                "period": label,
                "received": money(received, base),
                "planned": money(planned, base),
                "cumulative": money(running, base),
            }
        )
    return grouping, rows


def output_statement_snapshot(*, output: Output, as_of: dt.date, external: bool = True) -> dict:
    base = settings.BASE_CURRENCY
    output = Output.objects.select_related("programme").get(pk=output.pk)
    (funding,) = output_funding(outputs=[output.pk], end=as_of)
    funders = output_funders(output=output, end=as_of)
    shares = {f.donor_name: f.share for f in funders}
    funder_rows = _co_funder_rows(
        co_funders_pooled(((f.donor_name, f.publicly_acknowledged, f.amount) for f in funders), name_all=not external)
    )
    for row in funder_rows:
        amount = Decimal(row["amount"]["amount"])
        row["share"] = share(shares.get(row["name"]) or (amount / funding.allocated if funding.allocated else 0))

    monthly = (
        Allocation.objects.filter(output=output, allocated_on__lte=as_of)
        .annotate(month=TruncMonth("allocated_on"))
        .values("month")
        .annotate(
            received=Coalesce(Sum("amount", filter=Q(donation__isnull=False)), ZERO),
            planned=Coalesce(Sum("amount", filter=Q(pledge__isnull=False)), ZERO),
        )
        .order_by("month")
    )
    grouping, over_time = _over_time(list(monthly))
    cost = output_cost(output=output, end=as_of)
    return {
        "version": SNAPSHOT_VERSION,
        "kind": "output_statement",
        "title": "Output statement",
        "base_currency": base,
        "as_of": day(as_of),
        "external": external,
        "output": {
            "id": output.pk,
            "title": output.title,
            "programme": output.programme.name,
            "kind": output.get_kind_display(),
            "status": output.get_status_display(),
            "start_date": day(output.start_date),
            "end_date": day(output.end_date),
            "location": output.location,
            "public_url": output.public_url,
        },
        "figures": [
            {"key": "budget", "label": "Budget", "value": money(funding.budget, base)},
            {"key": "allocated", "label": "Funded (received and allocated)", "value": money(funding.allocated, base)},
            {"key": "planned", "label": "Planned from pledges", "value": money(funding.planned, base)},
            {"key": "gap", "label": "Funding gap", "value": money(funding.gap, base)},
            {"key": "spent_direct", "label": "Spent: direct costs", "value": money(cost.direct_to_date, base)},
            {
                "key": "spent_indirect",
                "label": "Spent: indirect costs (the funders' agreed rates)",
                "value": money(cost.indirect_to_date, base),
            },
            {"key": "full_cost", "label": "Full cost to date", "value": money(cost.full_cost_to_date, base)},
            {
                "key": "remaining",
                "label": "Budget remaining (budget less full cost)",
                "value": money(funding.budget - cost.full_cost_to_date, base),
            },
        ],
        "funders": funder_rows,
        "over_time_by": grouping,
        "over_time": over_time,
        "indicators": _indicators([output.pk]).get(output.pk, []),
        **report_voice(internal=not external),
    }
