"""How DonationsBulk writes a chunk: the rows by COPY with the ids the table draws, then their
history rows in one statement; nothing else goes to the database per chunk."""

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from donors.models import Donation
from donors.services import DonationsBulk, NewDonation
from tests.factories import DonorFactory, RateFactory, role_user


def test_a_chunk_costs_its_copy_and_one_history_statement(db):
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    user, donor = role_user("Finance"), DonorFactory()
    bulk = DonationsBulk(by=user, post=True)
    rows = [
        bulk.row(NewDonation(f'Q-{i},"{{}}', donor.pk, dt.date(2025, 3, i), Decimal(f"{i}.00"), "USD"))
        for i in range(1, 6)
    ]
    with CaptureQueriesContext(connection) as queries:
        bulk.write(rows[:3])
        bulk.write(rows[3:])
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 2, statements  # COPY goes past Django's query log; no nextval round trip
    assert all(s.startswith('INSERT INTO "donors_historicaldonation"') for s in statements)
    written = Donation.objects.order_by("id")
    assert [d.reference for d in written] == [f'Q-{i},"{{}}' for i in range(1, 6)]
    history = Donation.history.order_by("id").values_list("id", "reference", "history_type", "history_user")
    assert list(history) == [(d.id, d.reference, "+", user.pk) for d in written]
