"""Demo data for report tests: `seed_demo`, plus outputs, allocations, indicators and obligations.

The grants engineer's seed_grants will give the demo its own outputs and allocations; until
then (and on top of it) these tests add a small, known set so every section of every report
has rows, including co-funding between acknowledged and unacknowledged donors.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Q

from backoffice.money import money_round
from donors.models import Donation, Donor, Pledge
from grants.models import Output
from grants.services import allocation_create, donation_unallocated
from tests.conftest import _kept_for_module
from tests.factories import (
    AllocationFactory,
    IndicatorFactory,
    ObligationFactory,
    OutputFactory,
    ProgrammeFactory,
)

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
FUNDING_DONORS = ["DON-0001", "DON-0002", "DON-0005", "DON-0022", "DON-0023", "DON-0025", "DON-0026"]


def funding_add() -> list[Output]:
    resources = ProgrammeFactory(code="RPT-MNR", name="Model National Response (report tests)")
    threats = ProgrammeFactory(code="RPT-GTA", name="Global Threat Assessment (report tests)")
    outputs = [
        OutputFactory(
            programme=resources, title="Model National Response toolkit, 2nd edition", status="delivered",
            start_date=dt.date(2024, 9, 1), end_date=dt.date(2025, 6, 30), budget=Decimal("250000.00"),
        ),
        OutputFactory(
            programme=threats, kind="event", title="Global Summit 2025 & regional workshops", status="in_progress",
            start_date=dt.date(2025, 3, 1), end_date=dt.date(2025, 11, 30), budget=Decimal("400000.00"),
            location="Nairobi",
        ),
        OutputFactory(
            programme=threats, title="Global Threat Assessment 2025", status="planned",
            start_date=dt.date(2025, 5, 1), end_date=dt.date(2026, 2, 28), budget=Decimal("180000.00"),
        ),
    ]  # fmt: skip
    IndicatorFactory(output=outputs[0], name="Countries adopting the framework", unit="countries", target=40, actual=27)
    IndicatorFactory(output=outputs[0], name="Downloads", unit="downloads", target=5000, actual=6120)
    IndicatorFactory(output=outputs[1], name="Participants", unit="people", target=600, actual=None, as_of=None)
    for n, ref in enumerate(FUNDING_DONORS):
        # Through the service, so the ledger's rules hold on top of the demo's own allocations.
        donations = (
            Donation.objects.posted()
            .filter(donor__ref=ref, reversal_of__isnull=True, reversed_by__isnull=True, received_on__lte=END)
            .filter(
                Q(pledge__isnull=True)
                | Q(pledge__restricted_programme__isnull=True, pledge__restricted_output__isnull=True)
            )
            .order_by("received_on", "id")
        )
        made = 0
        for donation in donations:
            amount = min(money_round(donation.base_amount * Decimal("0.45")), donation_unallocated(donation))
            if amount <= 0:
                continue
            allocation_create(
                donation=donation,
                output=outputs[(n + made) % len(outputs)],
                amount=amount,
                by=None,
                on=max(donation.received_on, dt.date(2024, 12, 20)) + dt.timedelta(days=7),
            )
            made += 1
            if made == 3:
                break
    pledge = Pledge.objects.filter(donor__ref="DON-0001").order_by("ref").first()
    AllocationFactory(pledge=pledge, donation=None, output=outputs[2], amount=Decimal("12000.00"))
    ObligationFactory(pledge=pledge, kind="financial", due_date=dt.date(2026, 2, 28))
    ObligationFactory(pledge=pledge, kind="narrative", due_date=dt.date(2025, 11, 30))
    return outputs


@pytest.fixture(scope="module")
def reports_demo_data(demo_database, django_db_blocker):
    """The demo plus the report tests' own funding, added once per module (see tests/conftest.py)."""
    with _kept_for_module(django_db_blocker, demo_database):
        yield funding_add()


@pytest.fixture
def demo(reports_demo_data, db):
    return Donor.objects.get(ref="DON-0001")
