"""Reads of funding: what funds each output, who funded it, what is not yet allocated, what reports are owed.

Every figure is in the base currency, net of reversals, computed in SQL in a constant number
of queries, and returned as frozen dataclasses with money quantized to the cent. The PDF
reports and the dashboard read these.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Case,
    CharField,
    DateField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from backoffice.money import money_round
from backoffice.sql import MONEY, ZERO, sum_subquery
from donors.models import Donation, Donor
from donors.selectors import posted_total

from .models import Allocation, Output, ReportingObligation

SHARE = Decimal("0.0001")
ZERO_D = Decimal("0.00")


def _in_period(queryset: QuerySet, start: dt.date | None, end: dt.date | None) -> QuerySet:
    if start:
        queryset = queryset.filter(allocated_on__gte=start)
    if end:
        queryset = queryset.filter(allocated_on__lte=end)
    return queryset


def share_of(part: Decimal, whole: Decimal) -> Decimal:
    if not whole:
        return Decimal("0.0000")
    return (part / whole).quantize(SHARE, rounding=ROUND_HALF_UP)


# Funding per output ----------------------------------------------------------------------


def outputs_with_funding(
    queryset: QuerySet | None = None, *, start: dt.date | None = None, end: dt.date | None = None
) -> QuerySet:
    """Outputs annotated with allocated (received, net), planned (pledges, net) and gap (never negative)."""
    queryset = Output.objects.all() if queryset is None else queryset
    allocations = _in_period(Allocation.objects.all(), start, end)
    return queryset.annotate(
        allocated=sum_subquery(allocations.received(), "amount", "output"),
        planned=sum_subquery(allocations.planned(), "amount", "output"),
    ).annotate(
        gap=Case(When(budget__gt=F("allocated"), then=F("budget") - F("allocated")), default=ZERO, output_field=MONEY)
    )


@dataclass(frozen=True)
class OutputFunding:
    output_id: int
    title: str
    programme_id: int
    programme_name: str
    kind: str
    status: str
    start_date: dt.date | None
    end_date: dt.date | None
    budget: Decimal
    allocated: Decimal
    planned: Decimal
    gap: Decimal


def output_funding(
    *,
    outputs: QuerySet | list | None = None,
    programme=None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[OutputFunding]:
    """Budget, allocated, planned and funding gap of each output, in one query. Periods apply to allocated_on."""
    queryset = Output.objects.all()
    if isinstance(outputs, QuerySet):
        queryset = queryset.filter(pk__in=outputs.values("pk"))
    elif outputs is not None:
        queryset = queryset.filter(pk__in=[getattr(o, "pk", o) for o in outputs])
    if programme is not None:
        queryset = queryset.filter(programme=programme)
    rows = outputs_with_funding(queryset.select_related("programme"), start=start, end=end)
    return [_output_funding_row(o) for o in rows]


def output_gaps(*, programme=None, end: dt.date | None = None, limit: int | None = None) -> list[OutputFunding]:
    """The outputs still short of their budget, the largest gap first, in one query. Only live
    outputs count: a cancelled output will not be delivered, so it needs no more money."""
    queryset = Output.objects.exclude(status=Output.Status.CANCELLED).select_related("programme")
    if programme is not None:
        queryset = queryset.filter(programme=programme)
    rows = outputs_with_funding(queryset, end=end).filter(gap__gt=0).order_by("-gap", "title", "pk")
    return [_output_funding_row(o) for o in rows[:limit]]


def _output_funding_row(o: Output) -> OutputFunding:
    return OutputFunding(
        output_id=o.pk,
        title=o.title,
        programme_id=o.programme_id,
        programme_name=o.programme.name,
        kind=o.kind,
        status=o.status,
        start_date=o.start_date,
        end_date=o.end_date,
        budget=money_round(o.budget),
        allocated=money_round(o.allocated),
        planned=money_round(o.planned),
        gap=money_round(o.gap),
    )


# Funding per donor -----------------------------------------------------------------------


@dataclass(frozen=True)
class DonorOutputFunding:
    output_id: int
    output_title: str
    programme_name: str
    kind: str
    status: str
    start_date: dt.date | None
    end_date: dt.date | None
    donor_amount: Decimal
    output_allocated: Decimal
    share: Decimal


def donor_output_funding(
    *, donor, start: dt.date | None = None, end: dt.date | None = None
) -> list[DonorOutputFunding]:
    """The outputs a donor's received money funds (net), with each output's total and the donor's share.

    The period applies to both the donor's amount and the output's total, so the donors'
    shares of an output add up to one. Outputs the donor funds nothing of, net, are left out.
    """
    received = Q(allocations__donation__isnull=False)
    if start:
        received &= Q(allocations__allocated_on__gte=start)
    if end:
        received &= Q(allocations__allocated_on__lte=end)
    donations = Donation.objects.filter(donor=donor).values("pk")  # a hashed subplan, read once
    # Grouped by output (its key), not by the allocations' text columns: sorting every allocation
    # by programme name and title to group them cost more than the sums.
    rows = (
        Output.objects.annotate(
            donor_amount=Coalesce(
                Sum("allocations__amount", filter=received & Q(allocations__donation__in=donations)), ZERO
            ),
            output_allocated=Sum("allocations__amount", filter=received),
        )
        .exclude(donor_amount=0)
        .values("id", "title", "programme__name", "kind", "status", "start_date", "end_date",
                "donor_amount", "output_allocated")
        .order_by("programme__name", "start_date", "title", "id")
    )  # fmt: skip
    return [
        DonorOutputFunding(
            output_id=o["id"],
            output_title=o["title"],
            programme_name=o["programme__name"],
            kind=o["kind"],
            status=o["status"],
            start_date=o["start_date"],
            end_date=o["end_date"],
            donor_amount=money_round(o["donor_amount"]),
            output_allocated=money_round(o["output_allocated"]),
            share=share_of(o["donor_amount"], o["output_allocated"]),
        )
        for o in rows
    ]


@dataclass(frozen=True)
class OutputFunder:
    donor_id: int
    donor_name: str
    publicly_acknowledged: bool
    amount: Decimal
    share: Decimal


def output_funders(*, output, end: dt.date | None = None) -> list[OutputFunder]:
    """Each donor whose received money funds an output (net, allocated up to `end`), largest first, with their share."""
    received = Allocation.objects.received()
    if end is not None:
        received = received.filter(allocated_on__lte=end)
    output_id = getattr(output, "pk", output)
    donors = (
        Donor.objects.filter(pk__in=received.filter(output_id=output_id).values("donation__donor"))
        .annotate(
            amount=sum_subquery(received.filter(output_id=output_id), "amount", "donation__donor"),
            output_total=Coalesce(
                Subquery(
                    received.filter(output_id=output_id)
                    .order_by()
                    .values("output")
                    .annotate(total=Sum("amount"))
                    .values("total"),
                    output_field=MONEY,
                ),
                ZERO,
            ),
        )
        .exclude(amount=0)
        .order_by("-amount", "name")
    )
    return [
        OutputFunder(
            donor_id=d.pk,
            donor_name=d.name,
            publicly_acknowledged=d.publicly_acknowledged,
            amount=money_round(d.amount),
            share=share_of(d.amount, d.output_total),
        )
        for d in donors
    ]


# Co-funders as a donor may see them ------------------------------------------------------


@dataclass(frozen=True)
class CoFunders:
    """The funders of an output as another donor may see them: publicly acknowledged funders by
    name, largest first (then by name), and every other funder pooled, as a count and an amount."""

    named: list[tuple[str, Decimal]]
    others_count: int
    others_amount: Decimal


def co_funders_pooled(funders: Iterable[tuple[str, bool, Decimal]], *, name_all: bool = False) -> CoFunders:
    """Pool funders given as (name, publicly acknowledged, amount), largest first: each
    acknowledged one is named and the others are pooled, unless `name_all` (a reader inside
    the alliance) names every one."""
    named, others = [], []
    for name, acknowledged, amount in funders:
        if acknowledged or name_all:
            named.append((name, money_round(amount)))
        else:
            others.append(amount)
    return CoFunders(named=named, others_count=len(others), others_amount=money_round(sum(others, start=ZERO_D)))


def output_co_funders(
    *, outputs: list[int] | QuerySet, end: dt.date | None = None, excluding_donor=None
) -> dict[int, CoFunders]:
    """For each output, the other funders a donor's report shows: received allocations up to
    `end`, less the donor's own, summed per funder name and acknowledgement (two donors of one
    name are one funder), those above zero only. Outputs with no other funder are left out.
    One query."""
    allocations = _in_period(Allocation.objects.received().filter(output_id__in=outputs), None, end)
    if excluding_donor is not None:
        allocations = allocations.exclude(donation__donor_id=getattr(excluding_donor, "pk", excluding_donor))
    rows = (
        allocations.values("output_id", "donation__donor__name", "donation__donor__publicly_acknowledged")
        .annotate(amount=Sum("amount"))
        .filter(amount__gt=0)
        .order_by("output_id", "-amount", "donation__donor__name")
    )
    by_output: dict[int, list[tuple[str, bool, Decimal]]] = {}
    for r in rows:
        by_output.setdefault(r["output_id"], []).append(
            (r["donation__donor__name"], r["donation__donor__publicly_acknowledged"], r["amount"])
        )
    return {output_id: co_funders_pooled(funders) for output_id, funders in by_output.items()}


# Unallocated money -----------------------------------------------------------------------


@dataclass(frozen=True)
class RestrictionBalance:
    label: str
    programme_id: int | None
    output_id: int | None
    amount: Decimal


@dataclass(frozen=True)
class UnallocatedBalance:
    restricted: Decimal
    unrestricted: Decimal
    by_restriction: list[RestrictionBalance]

    @property
    def total(self) -> Decimal:
        return self.restricted + self.unrestricted


def unallocated_balance() -> UnallocatedBalance:
    """Posted money not yet allocated, net of reversals, by the restriction of its pledge.

    A donation's restriction is its pledge's; a donation with no pledge, or an unrestricted
    pledge, is unrestricted. Three grouped queries, none with a per-donation subquery: all
    posted money (from the per-day totals kept by donors.totals), posted money under a
    restricted pledge (few rows, by the pledge index), and received allocations by their
    donation's restriction. Unrestricted is all posted money less the restricted groups, less
    what is allocated from unrestricted money.
    """
    restriction = ["restricted_programme", "restricted_programme__name"]
    restriction += ["restricted_output", "restricted_output__title"]
    posted = Donation.objects.posted()
    posted_all = posted_total()  # from the per-day totals kept beside the ledger
    restricted_posted = (
        posted.filter(Q(pledge__restricted_programme__isnull=False) | Q(pledge__restricted_output__isnull=False))
        .values(*(f"pledge__{f}" for f in restriction))
        .annotate(amount=Sum("base_amount"))
        .order_by()
    )
    allocated = (
        Allocation.objects.received()
        .filter(donation__status=Donation.Status.POSTED)
        .values(*(f"donation__pledge__{f}" for f in restriction))
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    groups: dict[tuple, list] = {}  # (programme id, name, output id, title) -> [posted, allocated]
    for g in restricted_posted:
        groups.setdefault(tuple(g[f"pledge__{f}"] for f in restriction), [Decimal("0"), Decimal("0")])[0] = g["amount"]
    for g in allocated:
        key = tuple(g[f"donation__pledge__{f}"] for f in restriction)
        groups.setdefault(key, [Decimal("0"), Decimal("0")])[1] = g["amount"]

    unrestricted = posted_all
    restricted, by_restriction = Decimal("0.00"), []
    for (programme_id, programme_name, output_id, output_title), (posted_sum, allocated_sum) in groups.items():
        if programme_id is None and output_id is None:
            unrestricted -= money_round(allocated_sum)
            continue
        amount = money_round(posted_sum - allocated_sum)
        unrestricted -= money_round(posted_sum)
        restricted += amount
        if amount:
            label = f"Output: {output_title}" if output_id else f"Programme: {programme_name}"
            by_restriction.append(RestrictionBalance(label, programme_id, output_id, amount))
    by_restriction.sort(key=lambda b: (b.label, b.programme_id or 0, b.output_id or 0))
    return UnallocatedBalance(
        restricted=restricted, unrestricted=money_round(unrestricted), by_restriction=by_restriction
    )


# Reporting obligations -------------------------------------------------------------------


def obligation_states(*, today: dt.date) -> dict[str, Q]:
    """The one home of an obligation's state on `today`: a submitted or waived report is that; a
    pending one is overdue once its due date has passed, and due until then. State -> condition."""
    status, state = ReportingObligation.Status, ReportingObligation.State
    return {
        state.DUE: Q(status=status.PENDING, due_date__gte=today),
        state.OVERDUE: Q(status=status.PENDING, due_date__lt=today),
        state.SUBMITTED: Q(status=status.SUBMITTED),
        state.WAIVED: Q(status=status.WAIVED),
    }


def obligations_with_state(*, today: dt.date | None = None) -> QuerySet:
    """Reporting obligations with their `state` on `today` (`ReportingObligation.State`) and,
    when overdue, `overdue_by` (a timedelta; None otherwise)."""
    today = today or timezone.localdate()
    states = obligation_states(today=today)
    late = states[ReportingObligation.State.OVERDUE]
    return ReportingObligation.objects.select_related("pledge__donor").annotate(
        state=Case(*(When(q, then=Value(s)) for s, q in states.items()), output_field=CharField()),
        overdue_by=Case(
            When(late, then=ExpressionWrapper(Value(today, DateField()) - F("due_date"), DurationField())),
            default=None,
            output_field=DurationField(),
        ),
    )


def obligations_pending() -> QuerySet:
    return ReportingObligation.objects.filter(status=ReportingObligation.Status.PENDING).select_related("pledge__donor")


def obligations_due(*, within_days: int = 30, today: dt.date | None = None) -> QuerySet:
    """Reports due (pending, not yet overdue) up to `within_days` days ahead of today, soonest first."""
    today = today or timezone.localdate()
    due = obligation_states(today=today)[ReportingObligation.State.DUE]
    return (
        obligations_with_state(today=today)
        .filter(due, due_date__lte=today + dt.timedelta(days=within_days))
        .order_by("due_date", "pk")
    )


def obligations_overdue(*, today: dt.date | None = None) -> QuerySet:
    """Overdue reports, the most overdue first."""
    today = today or timezone.localdate()
    overdue = obligation_states(today=today)[ReportingObligation.State.OVERDUE]
    return obligations_with_state(today=today).filter(overdue).order_by("due_date", "pk")
