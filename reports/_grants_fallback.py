"""TEMPORARY stand-in for grants/selectors.py (issue 4, written concurrently on the grants branch).

Same names, arguments and result fields as agreed with the grants engineer, so that
reports/figures.py can run and be tested before grants/selectors.py lands. figures.py imports
the real module when it exists; delete this file once it has been merged.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from backoffice.money import money_round
from donors.models import Donation
from grants.models import Allocation, Output, ReportingObligation

MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=MONEY)


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


@dataclass(frozen=True)
class OutputFunder:
    donor_id: int
    donor_name: str
    publicly_acknowledged: bool
    amount: Decimal
    share: Decimal


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
    by_restriction: list


def _dated(prefix: str, start, end) -> Q:
    q = Q()
    if start:
        q &= Q(**{f"{prefix}allocated_on__gte": start})
    if end:
        q &= Q(**{f"{prefix}allocated_on__lte": end})
    return q


def _share(part: Decimal, whole: Decimal) -> Decimal:
    return (part / whole).quantize(Decimal("0.0001")) if whole else Decimal("0.0000")


def output_funding(*, outputs=None, programme=None, start=None, end=None) -> list[OutputFunding]:
    queryset = Output.objects.select_related("programme")
    if outputs is not None:
        queryset = queryset.filter(pk__in=[getattr(o, "pk", o) for o in outputs])
    if programme is not None:
        queryset = queryset.filter(programme=programme)
    dated = _dated("allocations__", start, end)
    queryset = queryset.annotate(
        allocated=Coalesce(Sum("allocations__amount", filter=dated & Q(allocations__donation__isnull=False)), ZERO),
        planned=Coalesce(Sum("allocations__amount", filter=dated & Q(allocations__pledge__isnull=False)), ZERO),
    ).order_by("programme__name", "start_date", "title", "pk")
    return [
        OutputFunding(
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
            gap=money_round(o.budget - o.allocated),
        )
        for o in queryset
    ]


def donor_output_funding(*, donor, start=None, end=None) -> list[DonorOutputFunding]:
    dated = _dated("allocations__", start, end) & Q(allocations__donation__isnull=False)
    queryset = (
        Output.objects.select_related("programme")
        .annotate(
            donor_amount=Coalesce(
                Sum("allocations__amount", filter=dated & Q(allocations__donation__donor=donor)), ZERO
            ),
            output_allocated=Coalesce(Sum("allocations__amount", filter=dated), ZERO),
        )
        .filter(donor_amount__gt=0)
        .order_by("programme__name", "start_date", "title", "pk")
    )
    return [
        DonorOutputFunding(
            output_id=o.pk,
            output_title=o.title,
            programme_name=o.programme.name,
            kind=o.kind,
            status=o.status,
            start_date=o.start_date,
            end_date=o.end_date,
            donor_amount=money_round(o.donor_amount),
            output_allocated=money_round(o.output_allocated),
            share=_share(o.donor_amount, o.output_allocated),
        )
        for o in queryset
    ]


def output_funders(*, output) -> list[OutputFunder]:
    rows = (
        Allocation.objects.filter(output=output, donation__isnull=False)
        .values("donation__donor_id", "donation__donor__name", "donation__donor__publicly_acknowledged")
        .annotate(amount=Sum("amount"))
        .filter(amount__gt=0)
        .order_by("-amount", "donation__donor__name")
    )
    rows = list(rows)
    whole = sum((r["amount"] for r in rows), Decimal("0"))
    return [
        OutputFunder(
            donor_id=r["donation__donor_id"],
            donor_name=r["donation__donor__name"],
            publicly_acknowledged=r["donation__donor__publicly_acknowledged"],
            amount=money_round(r["amount"]),
            share=_share(r["amount"], whole),
        )
        for r in rows
    ]


def unallocated_balance() -> UnallocatedBalance:
    posted = Donation.objects.filter(status=Donation.Status.POSTED)
    received = (
        posted.values("pledge__restricted_programme_id", "pledge__restricted_output_id")
        .annotate(total=Sum("base_amount"))
        .order_by()
    )
    allocated = (
        Allocation.objects.filter(donation__isnull=False)
        .values("donation__pledge__restricted_programme_id", "donation__pledge__restricted_output_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    balances: dict[tuple, Decimal] = {}
    for r in received:
        key = (r["pledge__restricted_programme_id"], r["pledge__restricted_output_id"])
        balances[key] = balances.get(key, Decimal("0")) + r["total"]
    for r in allocated:
        key = (r["donation__pledge__restricted_programme_id"], r["donation__pledge__restricted_output_id"])
        balances[key] = balances.get(key, Decimal("0")) - r["total"]
    unrestricted = money_round(balances.pop((None, None), Decimal("0")))
    by_restriction = [
        RestrictionBalance(
            label=f"Programme {p}" if p else f"Output {o}", programme_id=p, output_id=o, amount=money_round(v)
        )
        for (p, o), v in sorted(balances.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1] or 0))
    ]
    restricted = money_round(sum((b.amount for b in by_restriction), Decimal("0")))
    return UnallocatedBalance(restricted=restricted, unrestricted=unrestricted, by_restriction=by_restriction)


def obligations_due(*, within_days=30, today=None):
    today = today or timezone.localdate()
    return ReportingObligation.objects.filter(
        status=ReportingObligation.Status.PENDING,
        due_date__gte=today,
        due_date__lte=today + dt.timedelta(days=within_days),
    ).select_related("pledge__donor")


def obligations_overdue(*, today=None):
    today = today or timezone.localdate()
    return ReportingObligation.objects.filter(
        status=ReportingObligation.Status.PENDING, due_date__lt=today
    ).select_related("pledge__donor")
