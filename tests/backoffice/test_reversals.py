"""Donations, write-offs and allocations are corrected by one reversal rule (backoffice.reversals)."""

from decimal import Decimal

import pytest

from backoffice.errors import LedgerError
from donors import services as ledger
from grants import services as grants
from tests.factories import DonationFactory, OutputFactory, PledgeFactory, role_user


@pytest.fixture
def user(db):
    return role_user("Finance")


def _donation(user):
    donation = ledger.donation_post(donation=DonationFactory(reference="BANK-R1"), by=user)
    return donation, "Donation BANK-R1", lambda d: ledger.donation_reverse(donation=d, by=user, reason="Bank recall")


def _write_off(user):
    write_off = ledger.pledge_write_off(pledge=PledgeFactory(), amount=Decimal("30.00"), reason="Cut", by=user)
    return (
        write_off,
        f"Write-off {write_off.pk}",
        lambda w: ledger.writeoff_reverse(write_off=w, by=user, reason=""),
    )


def _allocation(user):
    donation = ledger.donation_post(donation=DonationFactory(), by=user)
    allocation = grants.allocation_create(donation=donation, output=OutputFactory(), amount=Decimal("40.00"), by=user)
    return allocation, f"Allocation {allocation.pk}", lambda a: grants.allocation_reverse(allocation=a, by=user)


@pytest.mark.parametrize("make", [_donation, _write_off, _allocation], ids=["donation", "write-off", "allocation"])
def test_an_entry_is_reversed_once_by_its_opposite_and_a_reversal_never(user, make):
    original, label, reverse = make(user)
    reversal = reverse(original)
    assert reversal.reversal_of_id == original.pk and reversal.amount == -original.amount
    with pytest.raises(LedgerError) as twice:
        reverse(original)
    assert twice.value.messages == [f"{label} has already been reversed."]
    with pytest.raises(LedgerError) as of_reversal:
        reverse(reversal)
    assert of_reversal.value.messages[0].endswith("is a reversal; a reversal cannot be reversed.")
    assert type(original).objects.filter(reversal_of__isnull=False).count() == 1
