"""A batch is one bank deposit, in one currency: its rules, and the migration that gave batches one."""

import datetime as dt
import importlib
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from donors import services
from donors.models import Donation, DonationBatch
from donors.services import NewDonation
from tests.factories import BatchFactory, DonationFactory, DonorFactory, RateFactory, role_user

migration = importlib.import_module("donors.migrations.0013_batch_in_one_currency")


@pytest.fixture
def user(db):
    return role_user("Finance")


def draft(batch, currency="GBP", **kwargs):
    return services.donation_create(
        donor=DonorFactory(),
        reference=kwargs.pop("reference", f"R-{Donation.objects.count() + 1}"),
        received_on=dt.date(2025, 3, 1),
        amount=Decimal("100.00"),
        currency=currency,
        batch=batch,
        **kwargs,
    )


def test_a_batch_needs_a_currency(db):
    batch = DonationBatch(reference="DEP-1", expected_count=1, expected_total=Decimal("10.00"))
    with pytest.raises(ValidationError) as error:
        batch.full_clean()
    assert error.value.message_dict["currency"] == ["This field cannot be blank."]


def test_a_donation_in_another_currency_is_refused_by_its_batch(user):
    RateFactory(currency="USD")
    batch = BatchFactory(currency="GBP")
    with pytest.raises(ValidationError) as error:
        draft(batch, currency="USD")
    assert error.value.message_dict["currency"] == [
        f"Batch {batch.reference} is in GBP; this donation is in USD. Choose a USD batch, or no batch."
    ]
    assert draft(batch, currency="GBP").batch == batch
    assert batch.donations.count() == 1


def test_a_posted_batch_takes_no_more_donations(user):
    batch = BatchFactory(currency="GBP", expected_count=1, expected_total=Decimal("100.00"))
    draft(batch)
    services.batch_post(batch=batch, by=user)
    batch.refresh_from_db()
    with pytest.raises(ValidationError) as error:
        draft(batch)
    assert error.value.message_dict["batch"] == [f"Batch {batch.reference} is posted; it takes no more donations."]


def test_a_batch_left_without_a_currency_takes_no_donations_and_is_not_posted(user):
    batch = BatchFactory(currency="", expected_count=1, expected_total=Decimal("100.00"))
    DonationFactory(batch=batch)  # recorded before batches had a currency
    refusal = (
        f"Batch {batch.reference} has no currency (it was recorded before a batch had one); "
        "it takes no new donations and cannot be posted until one is set on the batch page."
    )
    with pytest.raises(ValidationError) as error:
        draft(batch)
    assert error.value.message_dict["batch"] == [refusal]
    with pytest.raises(ValidationError) as error:
        services.batch_post(batch=batch, by=user)
    assert error.value.messages == [refusal]
    assert set(batch.donations.values_list("status", flat=True)) == {"draft"}


def test_a_batch_currency_cannot_change_while_it_holds_donations_in_another(db):
    RateFactory(currency="USD")
    batch = BatchFactory(currency="GBP")
    DonationFactory(batch=batch, currency="GBP")
    DonationFactory(batch=batch, currency="USD")  # as a batch without a currency could hold
    batch.currency = "GBP"
    with pytest.raises(ValidationError) as error:
        batch.full_clean()
    assert error.value.message_dict["currency"] == [
        "The batch holds donations in USD: a batch is in one currency. Move those donations to another batch first."
    ]


def test_the_migration_sets_uniform_batches_currency_and_leaves_mixed_ones_blank_and_named(user):
    RateFactory(currency="USD")
    RateFactory(currency="EUR", rate=Decimal("0.85"))
    uniform, mixed, empty = (BatchFactory(reference=r) for r in ("DEP-USD", "DEP-MIXED", "DEP-EMPTY"))
    for currency in ("USD", "USD"):
        DonationFactory(batch=uniform, currency=currency)
    DonationBatch.objects.update(currency="")  # as before batches had a currency
    donor = DonorFactory()
    services.donations_post_bulk(  # as an import of a file in several currencies did
        donations=[
            NewDonation(f"GIFT-{c}", donor.pk, dt.date(2025, 3, 1), Decimal("10.00"), c) for c in ("USD", "EUR", "GBP")
        ],
        by=user,
        batch=mixed,
    )
    out = StringIO()

    migration.batch_currencies_set(apps, None, out=out)

    currencies = dict(DonationBatch.objects.values_list("reference", "currency"))
    assert currencies == {"DEP-USD": "USD", "DEP-MIXED": "", "DEP-EMPTY": ""}
    assert out.getvalue() == (
        "\n  1 donation batch(es) hold donations in several currencies and keep no currency; "
        "they take no new donations and cannot be posted: DEP-MIXED.\n"
    )
    # The mixed batch's posted donations are left exactly as they were.
    assert sorted(mixed.donations.values_list("currency", "status")) == [
        ("EUR", "posted"),
        ("GBP", "posted"),
        ("USD", "posted"),
    ]
