"""Writes that apply money to outputs."""

from django.db import transaction
from django.utils import timezone

from .models import Allocation


@transaction.atomic
def allocation_reverse(*, allocation: Allocation, by, note: str = "") -> Allocation:
    from donors.services import LedgerError

    allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
    if allocation.reversal_of_id:
        raise LedgerError("A reversal cannot itself be reversed.")
    if Allocation.objects.filter(reversal_of=allocation).exists():
        raise LedgerError("This allocation has already been reversed.")
    reversal = Allocation(
        donation_id=allocation.donation_id,
        pledge_id=allocation.pledge_id,
        output_id=allocation.output_id,
        amount=-allocation.amount,
        allocated_on=timezone.localdate(),
        note=note or f"Reversal of allocation {allocation.pk}",
        by=by,
        reversal_of=allocation,
    )
    reversal.full_clean()
    reversal.save()
    return reversal


@transaction.atomic
def allocations_reverse_for_donation(*, donation, by) -> list[Allocation]:
    """Reverse every standing allocation of a donation (called when the donation is reversed)."""
    standing = Allocation.objects.filter(donation=donation, reversal_of__isnull=True, reversed_by__isnull=True)
    return [allocation_reverse(allocation=a, by=by, note=f"Donation {donation.reference} reversed") for a in standing]
