"""Writes that apply money to outputs. Every allocation rule lives here, once.

Allocations of received money are in the base currency against `Donation.base_amount`;
planned allocations come from a pledge and are capped by the pledge total converted to
base at the latest rate on or before the pledge's start date. Both are counted net of
reversals (a reversal is a negative allocation with `reversal_of` set).
"""

import datetime as dt
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from backoffice.errors import LedgerError
from backoffice.money import money_in_places, money_places_check, money_round, split_largest_remainder
from backoffice.reversals import reversal_create
from donors.models import Donation, Pledge
from donors.rates import rate_lookup

from .models import Allocation, Output, ReportingObligation

ZERO = Decimal("0.00")


# Restrictions ---------------------------------------------------------------------------


def restriction_filter(pledge) -> Q:
    """The outputs a pledge (and so its donations) may fund: its restriction, or any output."""
    if pledge is None:
        return Q()
    if pledge.restricted_output_id:
        return Q(pk=pledge.restricted_output_id)
    if pledge.restricted_programme_id:
        return Q(programme_id=pledge.restricted_programme_id)
    return Q()


def allowed_outputs(*, pledge=None) -> QuerySet:
    """Outputs money under `pledge` (None: unrestricted money) may be allocated to: not cancelled."""
    return Output.objects.filter(restriction_filter(pledge)).exclude(status=Output.Status.CANCELLED)


def _check_output(*, output: Output, pledge) -> None:
    if output.status == Output.Status.CANCELLED:
        raise LedgerError({"output": f"Output “{output}” is cancelled; nothing can be allocated to it."})
    if pledge is None:
        return
    if pledge.restricted_output_id and output.pk != pledge.restricted_output_id:
        raise LedgerError(
            {"output": f"Pledge {pledge.ref} is restricted to {pledge.restriction_label}; “{output}” is outside it."}
        )
    if pledge.restricted_programme_id and output.programme_id != pledge.restricted_programme_id:
        raise LedgerError(
            {"output": f"Pledge {pledge.ref} is restricted to {pledge.restriction_label}; “{output}” is outside it."}
        )


def base(amount: Decimal) -> Decimal:
    """A base-currency amount in the base currency's places, for a message."""
    return money_in_places(amount, settings.BASE_CURRENCY)


def _check_amount(amount: Decimal) -> None:
    if amount is None or amount <= 0:
        raise LedgerError({"amount": "The amount must be greater than zero."})
    money_places_check(amount, settings.BASE_CURRENCY, field="amount")


# Received money -------------------------------------------------------------------------


def donation_allocated(donation) -> Decimal:
    """What is allocated from a donation, net of reversals."""
    total = Allocation.objects.filter(donation=donation).aggregate(total=Sum("amount"))["total"]
    return money_round(total or ZERO)


def donation_unallocated(donation) -> Decimal:
    return money_round(donation.base_amount) - donation_allocated(donation)


def _check_donation(donation) -> None:

    if donation.status != Donation.Status.POSTED:
        raise LedgerError({"donation": f"Donation {donation.reference} is a draft; post it before allocating."})
    if donation.reversal_of_id:
        raise LedgerError({"donation": f"Donation {donation.reference} is a reversal; it cannot be allocated."})
    if Donation.objects.filter(reversal_of=donation).exists():
        raise LedgerError({"donation": f"Donation {donation.reference} has been reversed; it cannot be allocated."})


def allocation_check(*, donation, output: Output, amount: Decimal) -> None:
    """Every rule an allocation of received money must meet. Raises LedgerError keyed by field."""
    _check_donation(donation)
    _check_amount(amount)
    _check_output(output=output, pledge=donation.pledge)
    unallocated = donation_unallocated(donation)
    if amount > unallocated:
        raise LedgerError(
            {
                "amount": (
                    f"{base(amount)} {settings.BASE_CURRENCY} is more than the {base(unallocated)} "
                    f"{settings.BASE_CURRENCY} left to allocate from donation {donation.reference} "
                    f"(base amount {base(donation.base_amount)} {settings.BASE_CURRENCY})."
                )
            }
        )


def _allocation_save(allocation: Allocation) -> None:
    """Check a new allocation's fields (its amount's places, its note) and save it. Its donation or
    pledge and its output were read by the service that made it, and the service checked what the
    table's CHECK constraints hold (one source, the amount's sign): asking the database again
    would cost five queries an allocation (5.7 ms; `seed_demo`'s 1,500 allocations spent 9 s on them)."""
    allocation.full_clean(exclude=["donation", "pledge", "output", "by", "reversal_of"], validate_constraints=False)
    allocation.save()


def _lock_donation(donation):

    # The row lock serialises allocations of one donation, so two can't both pass the check.
    return Donation.objects.select_for_update(of=("self",)).select_related("pledge").get(pk=donation.pk)


@transaction.atomic
def allocation_create(
    *, donation, output: Output, amount: Decimal, by, note: str = "", on: dt.date | None = None
) -> Allocation:
    """Apply part of a posted donation to an output."""
    donation = _lock_donation(donation)
    output = Output.objects.get(pk=output.pk)
    allocation_check(donation=donation, output=output, amount=amount)
    allocation = Allocation(
        donation=donation, output=output, amount=amount, allocated_on=on or timezone.localdate(), note=note, by=by
    )
    _allocation_save(allocation)
    return allocation


@transaction.atomic
def donation_auto_allocate(*, donation, by, on: dt.date | None = None) -> list[Allocation]:
    """Allocate a donation's unallocated remainder in proportion to each allowed output's unfunded budget.

    Outputs allowed are those of the donation's restriction that are not cancelled. The
    unfunded budget of an output is its budget less what received money already funds
    (net). No output is taken past its budget: when the remainder exceeds the unfunded
    budgets together, only that much is allocated and the rest stays unallocated. Returns
    the new allocations; none when the donation is fully allocated or nothing is unfunded,
    so running it twice allocates nothing the second time.
    """
    from .selectors import outputs_with_funding

    donation = _lock_donation(donation)
    _check_donation(donation)
    remainder = donation_unallocated(donation)
    if remainder <= 0:
        return []
    outputs = outputs_with_funding(allowed_outputs(pledge=donation.pledge)).filter(gap__gt=0).order_by("pk")
    gaps = [(output, money_round(output.gap)) for output in outputs]
    if not gaps:
        return []
    total = min(remainder, sum((gap for _, gap in gaps), ZERO))
    parts = split_largest_remainder(total, [gap for _, gap in gaps], settings.BASE_CURRENCY)
    allocations = []
    for (output, _), part in zip(gaps, parts, strict=True):
        if part <= 0:
            continue
        allocation = Allocation(
            donation=donation,
            output=output,
            amount=part,
            allocated_on=on or timezone.localdate(),
            note="Auto-allocated by unfunded budget",
            by=by,
        )
        _allocation_save(allocation)
        allocations.append(allocation)
    return allocations


# Planned money (pledges) ----------------------------------------------------------------


def pledge_plan_cap(pledge) -> Decimal:
    """The most that may be planned from a pledge: its total in base at the rate on or before its start."""
    rate, _, _ = rate_lookup(currency=pledge.currency, on=pledge.start_date)
    return money_round(pledge.total * rate)


def pledge_planned(pledge) -> Decimal:
    total = Allocation.objects.filter(pledge=pledge).aggregate(total=Sum("amount"))["total"]
    return money_round(total or ZERO)


def plan_check(*, pledge, output: Output, amount: Decimal) -> None:
    """Every rule a planned allocation must meet. Raises LedgerError keyed by field."""
    if pledge.cancelled_on:
        raise LedgerError({"pledge": f"Pledge {pledge.ref} is cancelled; nothing can be planned from it."})
    _check_amount(amount)
    _check_output(output=output, pledge=pledge)
    available = pledge_plan_cap(pledge) - pledge_planned(pledge)
    if amount > available:
        raise LedgerError(
            {
                "amount": (
                    f"{base(amount)} {settings.BASE_CURRENCY} is more than the {base(available)} "
                    f"{settings.BASE_CURRENCY} "
                    f"left to plan from pledge {pledge.ref}."
                )
            }
        )


@transaction.atomic
def allocation_plan(*, pledge, output: Output, amount: Decimal, by, note: str = "") -> Allocation:
    """Plan part of a pledge for an output. Kept apart from received money in every figure."""

    pledge = Pledge.objects.select_for_update().get(pk=pledge.pk)
    output = Output.objects.get(pk=output.pk)
    plan_check(pledge=pledge, output=output, amount=amount)
    allocation = Allocation(
        pledge=pledge, output=output, amount=amount, allocated_on=timezone.localdate(), note=note, by=by
    )
    _allocation_save(allocation)
    return allocation


# Reversals ------------------------------------------------------------------------------


@transaction.atomic
def allocation_reverse(*, allocation: Allocation, by, note: str = "") -> Allocation:
    return reversal_create(
        allocation,
        label=f"Allocation {allocation.pk}",
        copied=["donation_id", "pledge_id", "output_id"],
        negated=["amount"],
        allocated_on=timezone.localdate(),
        note=note or f"Reversal of allocation {allocation.pk}",
        by=by,
    )


@transaction.atomic
def allocations_reverse_for_donation(*, donation, by) -> list[Allocation]:
    """Reverse every standing allocation of a donation (called when the donation is reversed)."""
    standing = Allocation.objects.filter(donation=donation, reversal_of__isnull=True, reversed_by__isnull=True)
    return [allocation_reverse(allocation=a, by=by, note=f"Donation {donation.reference} reversed") for a in standing]


# Reporting obligations ------------------------------------------------------------------


def obligation_periods(
    pledge, *, months: int = 12, start: dt.date | None = None, end: dt.date | None = None
) -> list[dt.date]:
    """The end of each reporting period of `months` months from `start` (the pledge's start date),
    the last one cut at `end` (the pledge's end date): by default, each pledge year."""
    start, end = start or pledge.start_date, end or pledge.end_date
    ends, n = [], 1
    while True:
        period_end = start + relativedelta(months=months * n, days=-1)
        if period_end >= end:
            ends.append(end)
            return ends
        ends.append(period_end)
        n += 1


@transaction.atomic
def obligations_generate(
    *,
    pledge,
    days_after: int = 60,
    kinds=(ReportingObligation.Kind.NARRATIVE, ReportingObligation.Kind.FINANCIAL),
    months: int = 12,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[ReportingObligation]:
    """One report of each kind per reporting period (`obligation_periods`: each pledge year unless
    an agreement says otherwise), due `days_after` days after the period ends.

    Idempotent: obligations already there (same pledge, kind and due date) are kept as they
    are; returns only the ones created now.
    """
    if pledge.cancelled_on:
        raise LedgerError({"pledge": f"Pledge {pledge.ref} is cancelled; it owes no reports."})
    if days_after < 0:
        raise LedgerError({"days_after": "Reports fall due after the period, not before it."})
    if months < 1:
        raise LedgerError({"months": "A reporting period is at least one month."})
    for kind in kinds:
        if kind not in ReportingObligation.Kind.values:
            raise LedgerError({"kinds": f"Unknown report kind {kind!r}."})
    existing = set(ReportingObligation.objects.filter(pledge=pledge).values_list("kind", "due_date"))
    created = []
    for period_end in obligation_periods(pledge, months=months, start=start, end=end):
        due = period_end + dt.timedelta(days=days_after)
        for kind in kinds:
            if (kind, due) in existing:
                continue
            obligation = ReportingObligation(pledge=pledge, kind=kind, period_end=period_end, due_date=due)
            obligation.full_clean()
            obligation.save()
            created.append(obligation)
    return created


@transaction.atomic
def obligation_submit(*, obligation: ReportingObligation, on: dt.date) -> ReportingObligation:
    obligation = ReportingObligation.objects.select_for_update().get(pk=obligation.pk)
    if obligation.status == ReportingObligation.Status.SUBMITTED:
        raise LedgerError({"status": f"This report was already submitted on {obligation.submitted_on}."})
    if obligation.status == ReportingObligation.Status.WAIVED:
        raise LedgerError({"status": "This report was waived; it is not owed."})
    if on is None:
        raise LedgerError({"submitted_on": "A submitted report needs its submission date."})
    if on > timezone.localdate():
        raise LedgerError({"submitted_on": "The submission date is in the future."})
    obligation.status = ReportingObligation.Status.SUBMITTED
    obligation.submitted_on = on
    obligation.full_clean()
    obligation.save()
    return obligation
