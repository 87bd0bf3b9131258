import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from donors.models import Contact, Donation, DonationBatch, Donor, ExchangeRate, Instalment, Pledge
from grants.models import Allocation, Indicator, Output, Programme, ReportingObligation

PASSWORD = "correct-horse-battery"


def role_user(role: str, username: str | None = None):
    user = get_user_model().objects.create_user(
        username=username or role.lower(), password=PASSWORD, is_staff=True, email=f"{role.lower()}@example.org"
    )
    user.groups.add(Group.objects.get(name=role))
    return user


class DonorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Donor

    ref = factory.Sequence(lambda n: f"DON-{n + 1:04d}")
    name = factory.Sequence(lambda n: f"Donor {n}")
    kind = Donor.Kind.FOUNDATION
    country = "GB"
    preferred_currency = "GBP"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    donor = factory.SubFactory(DonorFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.Sequence(lambda n: f"contact{n}@example.org")
    receives_reports = True


class PledgeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pledge

    ref = factory.Sequence(lambda n: f"PLG-{n + 1:04d}")
    donor = factory.SubFactory(DonorFactory)
    title = "Core support"
    total = Decimal("1000.00")
    currency = "GBP"
    start_date = dt.date(2025, 1, 1)
    end_date = dt.date(2027, 12, 31)


class InstalmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instalment

    pledge = factory.SubFactory(PledgeFactory)
    due_date = dt.date(2025, 1, 1)
    amount = Decimal("100.00")


class RateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeRate

    currency = "USD"
    date = dt.date(2025, 1, 1)
    rate = Decimal("0.80000000")
    source = "test"


class DonationFactory(factory.django.DjangoModelFactory):
    """A draft donation; post it with donors.services.donation_post."""

    class Meta:
        model = Donation

    reference = factory.Sequence(lambda n: f"BANK-{n:06d}")
    donor = factory.SubFactory(DonorFactory)
    received_on = dt.date(2025, 3, 1)
    amount = Decimal("100.00")
    currency = "GBP"


class BatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DonationBatch

    reference = factory.Sequence(lambda n: f"BATCH-{n:04d}")
    expected_count = 2
    expected_total = Decimal("300.00")
    currency = "GBP"


class ProgrammeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Programme

    code = factory.Sequence(lambda n: f"P{n:02d}")
    name = factory.Sequence(lambda n: f"Programme {n}")


class OutputFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Output

    programme = factory.SubFactory(ProgrammeFactory)
    kind = Output.Kind.RESOURCE
    title = factory.Sequence(lambda n: f"Output {n}")
    budget = Decimal("10000.00")


class IndicatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Indicator

    output = factory.SubFactory(OutputFactory)
    name = factory.Sequence(lambda n: f"Indicator {n}")
    unit = "downloads"
    target = Decimal("1000")
    actual = Decimal("640")
    as_of = dt.date(2025, 12, 1)


class AllocationFactory(factory.django.DjangoModelFactory):
    """A bare allocation row. Tests of the rules go through grants.services instead."""

    class Meta:
        model = Allocation

    output = factory.SubFactory(OutputFactory)
    amount = Decimal("10.00")
    allocated_on = dt.date(2025, 3, 1)


class ObligationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReportingObligation

    pledge = factory.SubFactory(PledgeFactory)
    kind = ReportingObligation.Kind.NARRATIVE
    due_date = dt.date(2025, 3, 1)
