"""How DonationsBulk writes a chunk: one statement draws the rows' ids, one COPY writes the rows
(every currency's, each in its batch), one statement writes their history rows, read back by
id, and two check the rows' foreign keys; nothing else goes to the database per chunk. Inside
`backoffice.bulk.overlapped()` (the import engine), the history rows are sent without waiting and
the checks kept for `send()`."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from backoffice.bulk import overlapped, send, settle
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
    assert len(statements) == 8, statements  # COPY goes past Django's query log
    assert [s.split(" ", 1)[0] for s in statements] == ["WITH", "INSERT", "SET", "SET"] * 2
    assert all("SELECT nextval(" in s for s in statements[::4])
    assert all(s.startswith('INSERT INTO "donors_historicaldonation"') for s in statements[1::4])
    # The donation's foreign keys and its history row's, checked now, then deferred again as Django declares them.
    check, defer = statements[2:4]
    assert check.endswith(" IMMEDIATE") and defer == check.replace(" IMMEDIATE", " DEFERRED")
    for name in ("donors_donation_donor_id_", "donors_donation_batch_id_", "donors_historicaldon_history_user_id_"):
        assert f'"{name}' in check
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


def test_a_row_whose_donor_is_gone_is_refused_as_its_chunk_is_written_and_the_connection_stays_usable(db):
    """A foreign key is checked as the chunk is written, not at commit: the error names it, and
    the connection leaves pipeline mode (a COPY runs again after the savepoint is rolled back)."""
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    user, donor = role_user("Finance"), DonorFactory()
    bulk = DonationsBulk(by=user, post=True)
    gone = bulk.row(NewDonation("GONE-1", donor.pk + 1000, dt.date(2025, 3, 1), Decimal("1.00"), "USD"))
    with pytest.raises(IntegrityError, match="donor_id"), transaction.atomic():
        bulk.write([gone])
    with pytest.raises(IntegrityError, match="donor_id"), transaction.atomic(), overlapped():
        bulk.write([gone])  # returns before the check is done; leaving overlapped() waits for it
    bulk.write([bulk.row(NewDonation("KEPT-1", donor.pk, dt.date(2025, 3, 1), Decimal("1.00"), "USD"))])
    assert list(Donation.objects.values_list("reference", flat=True)) == ["KEPT-1"]
    assert Donation.history.count() == 1


def test_inside_overlapped_a_write_returns_before_its_history_rows_and_settle_waits_for_them(db):
    """The history rows are on their way when the write returns; the checks go with `send()`, or
    on leaving, and the next write waits for what was sent before its COPY."""
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    user, donor = role_user("Finance"), DonorFactory()
    bulk = DonationsBulk(by=user, post=True)
    rows = [bulk.row(NewDonation(f"O-{i}", donor.pk, dt.date(2025, 3, i), Decimal("2.00"), "USD")) for i in (1, 2)]
    with overlapped():
        bulk.write(rows[:1])
        assert connection.connection.pgconn.pipeline_status  # the history row is still on its way
        bulk.write(rows[1:])  # waits for it before its COPY
        settle()
        assert not connection.connection.pgconn.pipeline_status
        assert Donation.history.count() == 2
    assert list(Donation.objects.order_by("id").values_list("reference", flat=True)) == ["O-1", "O-2"]


def test_inside_overlapped_a_chunks_foreign_keys_are_checked_when_send_is_called(db):
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    user, donor = role_user("Finance"), DonorFactory()
    bulk = DonationsBulk(by=user, post=True)
    gone = bulk.row(NewDonation("GONE-2", donor.pk + 1000, dt.date(2025, 3, 1), Decimal("1.00"), "USD"))
    with pytest.raises(IntegrityError, match="donor_id"), transaction.atomic(), overlapped():
        bulk.write([gone])
        settle()  # the history row is written; the check is kept
        written = Donation.history.filter(reference="GONE-2").count()
        send()
        settle()
    assert written == 1  # reached: the refusal came with send(), not before
    assert not connection.connection.pgconn.pipeline_status
