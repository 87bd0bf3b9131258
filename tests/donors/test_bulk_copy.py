"""How DonationsBulk writes a chunk: one statement draws the rows' ids, one COPY writes the rows
(every currency's, each in its batch), one statement writes their history rows, read back by
id; nothing else goes to the database per chunk."""

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from donors.models import Donation, DonationBatch
from donors.services import DonationsBulk, NewDonation
from tests.factories import DonorFactory, RateFactory, role_user


def test_a_chunk_costs_an_id_draw_its_copy_and_one_history_statement(db):
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
    assert len(statements) == 4, statements  # COPY goes past Django's query log
    assert [s.split(" ", 1)[0] for s in statements] == ["WITH", "INSERT"] * 2
    assert all("SELECT nextval(" in s for s in statements[::2])
    assert all(s.startswith('INSERT INTO "donors_historicaldonation"') for s in statements[1::2])
    written = Donation.objects.order_by("id")
    assert [d.reference for d in written] == [f'Q-{i},"{{}}' for i in range(1, 6)]  # ids in the rows' order
    history = Donation.history.order_by("id").values_list("id", "reference", "history_type", "history_user")
    assert list(history) == [(d.id, d.reference, "+", user.pk) for d in written]


# Each character COPY's text format escapes, in a note (which may hold tabs and line
# breaks) and in a reference (which may not, but may hold a backslash).
AWKWARD_NOTES = ["tab\there", "two\nlines", "cr\r\nlf", "back\\slash", "\\N", "\\", "ends with \\t", "", "é ✓ 𝄞"]


def test_text_with_tabs_line_breaks_and_backslashes_is_written_as_given(db):
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    user, donor = role_user("Finance"), DonorFactory()
    bulk = DonationsBulk(by=user, post=True)
    rows = [
        bulk.row(NewDonation(f"R\\{i}\\N", donor.pk, dt.date(2025, 3, 1), Decimal("1.00"), "USD", note=note))
        for i, note in enumerate(AWKWARD_NOTES)
    ]
    bulk.write(rows)
    written = list(Donation.objects.order_by("id").values_list("reference", "note"))
    assert written == [(f"R\\{i}\\N", note) for i, note in enumerate(AWKWARD_NOTES)]
    history = list(Donation.history.order_by("id").values_list("reference", "note"))
    assert history == written


def test_every_column_of_the_history_row_is_the_donations(db):
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    user, donor = role_user("Finance"), DonorFactory()
    gbp = DonationBatch.objects.create(reference="B-GBP", expected_count=1, expected_total=1, currency="GBP")
    usd = DonationBatch.objects.create(reference="B-USD", expected_count=1, expected_total=1, currency="USD")
    bulk = DonationsBulk(by=user, post=True)
    rows = [
        bulk.row(NewDonation("H-1", donor.pk, dt.date(2025, 3, 1), Decimal("10.01"), "USD", rate=Decimal("0.81"))),
        bulk.row(NewDonation("H-2", donor.pk, dt.date(2025, 3, 2), Decimal("20.00"), "GBP", method="cheque")),
        bulk.row(NewDonation("H-3", donor.pk, dt.date(2025, 3, 3), Decimal("30.00"), "USD")),
    ]
    bulk.write(rows, batches={"GBP": gbp, "USD": usd})
    fields = [f.attname for f in Donation._meta.concrete_fields]
    donations = list(Donation.objects.order_by("id").values_list(*fields))
    history = list(Donation.history.order_by("id").values_list(*fields))
    assert history == donations
    got = {d.reference: d for d in Donation.objects.all()}
    assert [got[r].batch_id for r in ("H-1", "H-2", "H-3")] == [usd.pk, gbp.pk, usd.pk]  # each in its currency's
    assert (got["H-1"].rate, got["H-1"].rate_source, got["H-1"].base_amount) == (
        Decimal("0.81"),
        "entered",
        Decimal("8.11"),
    )
    assert (got["H-3"].rate, got["H-3"].rate_date, got["H-3"].base_amount) == (
        Decimal("0.8"),
        dt.date(2025, 1, 1),
        Decimal("24.00"),
    )
    assert got["H-2"].method == "cheque" and got["H-2"].pledge_id is None and got["H-2"].reversal_reason == ""
    assert {d.status for d in got.values()} == {"posted"} and {d.posted_by_id for d in got.values()} == {user.pk}
    assert {d.posted_at for d in got.values()} == {bulk.now}
    assert set(Donation.history.values_list("history_date", flat=True)) == {bulk.now}


def test_drafts_have_no_posting(db):
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    donor = DonorFactory()
    bulk = DonationsBulk(by=None, post=False)
    bulk.write([bulk.row(NewDonation("D-1", donor.pk, dt.date(2025, 3, 1), Decimal("5.00"), "USD"))])
    draft = Donation.objects.get()
    assert (draft.status, draft.posted_at, draft.posted_by_id, draft.base_amount, draft.rate) == (
        "draft",
        None,
        None,
        None,
        None,
    )
    assert Donation.history.get().history_user_id is None
