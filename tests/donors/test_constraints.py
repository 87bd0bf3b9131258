"""The database itself keeps a donation's reference unique and a donation reversed at most once."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from donors import services
from donors.models import Donation
from tests.factories import DonationFactory


def test_a_reference_is_used_once_by_the_database_and_by_validation(db):
    first = DonationFactory(reference="BANK-UNIQUE-1")
    twin = Donation(
        reference="BANK-UNIQUE-1", donor=first.donor, received_on=first.received_on, amount=Decimal("5.00"),
        currency="GBP",
    )  # fmt: skip
    with pytest.raises(ValidationError) as error:
        twin.full_clean()
    assert error.value.message_dict == {"reference": ["Donation with this Reference already exists."]}
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
    assert Donation.objects.filter(reference="BANK-UNIQUE-1").count() == 1


def test_a_donation_is_reversed_once_even_past_the_service(finance_user):
    donation = services.donation_post(donation=DonationFactory(amount=Decimal("40.00")), by=finance_user)
    reversal = services.donation_reverse(donation=donation, by=finance_user, reason="Bank recall")
    second = Donation(
        reference="BANK-REV-2", donor=donation.donor, received_on=donation.received_on, amount=Decimal("-40.00"),
        currency=donation.currency, reversal_of=donation,
    )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()
    assert list(Donation.objects.filter(reversal_of=donation)) == [reversal]
    assert list(donation.reversed_by.all()) == [reversal]
