"""New rows keep their change history on every database (COPY on PostgreSQL)."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from donors.models import Donation, DonationBatch

from .conftest import HEADER, counts, write_file


def test_imported_donations_have_one_creation_history_row_each(ledger, tmp_path, finance_user):
    content = HEADER + "".join(f"BANK-{i},DON-0001,2025-03-02,{i}.25,GBP,,,,n{i}\n" for i in range(1, 6))
    call_command(
        "import_data",
        "donations",
        write_file(tmp_path, "h.csv", content),
        "--post",
        "--user",
        "finance",
        stdout=StringIO(),
    )
    batch = DonationBatch.objects.get()
    for donation in Donation.objects.all():
        (record,) = donation.history.all()
        assert (record.history_type, record.history_user, record.reference, record.amount) == (
            "+",
            finance_user,
            donation.reference,
            donation.amount,
        )
        assert (record.base_amount, record.status, record.batch_id) == (donation.base_amount, "posted", batch.pk)
    # The ids came from the table's sequence: a later ordinary save does not collide.
    from tests.factories import DonationFactory

    imported = set(Donation.objects.values_list("pk", flat=True))
    assert DonationFactory(donor=ledger["first"]).pk > max(imported)


def test_a_file_of_many_chunks_keeps_every_row_and_its_history(ledger, tmp_path, monkeypatch):
    """Chunks are written while the next is checked: every row arrives, once, with its history."""
    from transfers.kinds_donors import DonationImporter

    monkeypatch.setattr(DonationImporter, "chunk_size", 7)
    content = HEADER + "".join(f"BANK-{i},DON-0001,2025-03-02,{i}.25,GBP,,,,n{i}\n" for i in range(1, 51))
    call_command("import_data", "donations", write_file(tmp_path, "many.csv", content), "--post", stdout=StringIO())
    references = sorted(Donation.objects.values_list("reference", flat=True))
    assert references == sorted(f"BANK-{i}" for i in range(1, 51))
    history = sorted(Donation.history.values_list("id", "reference", "amount", "history_type"))
    assert history == sorted((d.pk, d.reference, d.amount, "+") for d in Donation.objects.all())
    assert DonationBatch.objects.get().expected_total == sum(Decimal(f"{i}.25") for i in range(1, 51))


def test_a_row_the_database_refuses_while_chunks_are_written_leaves_nothing(ledger, tmp_path, monkeypatch):
    """A reference recorded by someone else after the file was checked: the database's unique
    constraint refuses it, on whichever chunk it is, and nothing of the file stays."""
    from tests.factories import DonationFactory
    from transfers.kinds_donors import DonationImporter

    monkeypatch.setattr(DonationImporter, "chunk_size", 5)
    DonationFactory(donor=ledger["first"], reference="BANK-12")
    load = DonationImporter.load
    monkeypatch.setattr(DonationImporter, "load", lambda self, rows: load(self, rows) and {})  # misses BANK-12
    before = counts()
    content = HEADER + "".join(f"BANK-{i},DON-0001,2025-03-02,{i}.25,GBP,,,,n{i}\n" for i in range(1, 21))
    err = StringIO()
    with pytest.raises(CommandError, match="1 error"):
        call_command(
            "import_data",
            "donations",
            write_file(tmp_path, "race.csv", content),
            "--post",
            stdout=StringIO(),
            stderr=err,
        )
    assert "The database refused the rows" in err.getvalue()
    assert counts() == before


@pytest.fixture
def lookups_apart(monkeypatch):
    """The backend of each chunk's lookups that ran on the import's second connection."""
    from django.db import connection

    from transfers.writes import ConnectionApart

    backends = []
    call = ConnectionApart._call

    def spy(self, fn, *args):
        result = call(self, fn, *args)
        with connection.cursor() as cursor:  # the lookup thread's own connection
            cursor.execute("SELECT pg_backend_pid()")
            backends.append(cursor.fetchone()[0])
        return result

    monkeypatch.setattr(ConnectionApart, "_call", spy)
    return backends


@pytest.fixture
def apart_closed(monkeypatch):
    """How many second connections were closed."""
    from transfers.writes import ConnectionApart

    closed = []
    close = ConnectionApart.close
    monkeypatch.setattr(ConnectionApart, "close", lambda self: closed.append(self) or close(self))
    return closed


def test_with_nothing_uncommitted_the_lookups_run_apart_and_every_row_arrives(
    transactional_db, ledger, tmp_path, monkeypatch, lookups_apart
):
    """The usual case (command line, import job): the lookups of each chunk run on a second
    connection while the first writes the chunk before; rows, history and totals are whole."""
    from donors.totals import PostedDayTotal
    from transfers.kinds_donors import DonationImporter

    monkeypatch.setattr(DonationImporter, "chunk_size", 7)
    content = HEADER + "".join(f"BANK-{i},DON-0001,2025-03-02,{i}.25,GBP,,,,n{i}\n" for i in range(1, 51))
    call_command("import_data", "donations", write_file(tmp_path, "apart.csv", content), "--post", stdout=StringIO())
    from django.db import connection

    assert len(lookups_apart) == 8  # 50 rows in chunks of 7
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] not in lookups_apart  # not the import's own connection
    assert len(set(lookups_apart)) == 1  # one second connection for the whole file
    assert sorted(Donation.objects.values_list("reference", flat=True)) == sorted(f"BANK-{i}" for i in range(1, 51))
    history = sorted(Donation.history.values_list("id", "reference", "amount", "history_type"))
    assert history == sorted((d.pk, d.reference, d.amount, "+") for d in Donation.objects.all())
    total = sum(Decimal(f"{i}.25") for i in range(1, 51))
    assert PostedDayTotal.objects.get(currency="GBP").amount == total
    # Run again: every row is found by the lookups apart, and nothing changes.
    lookups_apart.clear()
    out = StringIO()
    call_command("import_data", "donations", write_file(tmp_path, "apart.csv", content), "--post", stdout=out)
    assert len(lookups_apart) == 8 and "50 row(s): 0 new imported, 50 unchanged" in out.getvalue()
    assert Donation.objects.count() == 50 and Donation.history.count() == 50


def test_with_nothing_uncommitted_a_row_refused_mid_stream_still_leaves_nothing(
    transactional_db, ledger, tmp_path, monkeypatch, lookups_apart, apart_closed
):
    from tests.factories import DonationFactory
    from transfers.kinds_donors import DonationImporter

    monkeypatch.setattr(DonationImporter, "chunk_size", 5)
    DonationFactory(donor=ledger["first"], reference="BANK-12")
    lookups = DonationImporter._lookups
    monkeypatch.setattr(DonationImporter, "_lookups", lambda self, rows: lookups(self, rows) and {})  # misses BANK-12
    before = counts()
    content = HEADER + "".join(f"BANK-{i},DON-0001,2025-03-02,{i}.25,GBP,,,,n{i}\n" for i in range(1, 21))
    err = StringIO()
    with pytest.raises(CommandError, match="1 error"):
        call_command("import_data", "donations", write_file(tmp_path, "race.csv", content), "--post", stderr=err)
    assert lookups_apart and "The database refused the rows" in err.getvalue()
    assert counts() == before
    assert len(apart_closed) == 1


def test_a_refused_chunk_then_a_bad_row_still_closes_the_second_connection(
    transactional_db, ledger, tmp_path, monkeypatch, lookups_apart, apart_closed
):
    """The refusal surfaces only when the import closes (no chunk is written after the bad
    row): the second connection is closed all the same, and the file leaves nothing."""
    from tests.factories import DonationFactory
    from transfers.kinds_donors import DonationImporter

    monkeypatch.setattr(DonationImporter, "chunk_size", 5)
    DonationFactory(donor=ledger["first"], reference="BANK-3")
    lookups = DonationImporter._lookups
    monkeypatch.setattr(DonationImporter, "_lookups", lambda self, rows: lookups(self, rows) and {})  # misses BANK-3
    before = counts()
    rows = [f"BANK-{i},DON-0001,2025-03-02,{i}.25,GBP,,,,n{i}\n" for i in range(1, 11)]
    rows[7] = "BANK-8,DON-0001,2025-03-02,1.234,GBP,,,,n8\n"  # 3 decimals: a bad row in the second chunk
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_data", "donations", write_file(tmp_path, "r.csv", HEADER + "".join(rows)), stderr=err)
    assert lookups_apart and len(apart_closed) == 1
    assert counts() == before


def test_lookups_apart_that_fail_go_back_to_the_imports_connection(
    transactional_db, ledger, tmp_path, monkeypatch, lookups_apart, apart_closed
):
    """A lock not granted in time (or no connection to be had) on the second connection: the
    chunk's lookups are done again on the import's own connection, and so are the rest."""
    import threading

    from django.db import OperationalError

    from transfers.kinds_donors import DonationImporter

    monkeypatch.setattr(DonationImporter, "chunk_size", 7)
    lookups = DonationImporter._lookups
    failed = []

    def lookups_or_timeout(self, rows):
        if threading.current_thread().name.startswith("connection-apart") and len(failed) < 1 and lookups_apart:
            failed.append(rows[0].line)
            raise OperationalError("canceling statement due to lock timeout")
        return lookups(self, rows)

    monkeypatch.setattr(DonationImporter, "_lookups", lookups_or_timeout)
    content = HEADER + "".join(f"BANK-{i},DON-0001,2025-03-02,{i}.25,GBP,,,,n{i}\n" for i in range(1, 51))
    call_command("import_data", "donations", write_file(tmp_path, "lock.csv", content), "--post", stdout=StringIO())
    assert failed == [9] and len(lookups_apart) == 1  # chunk 1 apart; chunk 2 failed there; the rest here
    assert len(apart_closed) == 1
    assert Donation.objects.count() == 50 and Donation.history.count() == 50


def test_rows_this_transaction_wrote_are_seen_by_its_import(ledger, tmp_path, lookups_apart):
    """Inside a transaction that has written (the donors here are uncommitted), a second
    connection would not see them: the lookups stay on the import's own connection."""
    content = HEADER + "BANK-1,DON-0002,2025-03-02,10.25,GBP,,,,n\n"
    call_command("import_data", "donations", write_file(tmp_path, "own.csv", content), stdout=StringIO())
    assert lookups_apart == []
    assert Donation.objects.get(reference="BANK-1").donor == ledger["second"]


def test_a_dry_run_writes_nothing_and_opens_no_second_connection(transactional_db, ledger, tmp_path, lookups_apart):
    content = HEADER + "".join(f"BANK-{i},DON-0001,2025-03-02,{i}.25,GBP,,,,n{i}\n" for i in range(1, 6))
    before = counts()
    call_command("import_data", "donations", write_file(tmp_path, "dry.csv", content), "--dry-run", stdout=StringIO())
    assert lookups_apart == [] and counts() == before


def test_chunks_start_with_the_first_size_then_go_on_with_the_size():
    from transfers.engine import _chunks

    assert [len(c) for c in _chunks(range(25), 10, 3)] == [3, 6, 10, 6]  # twice as many each time, up to 10
    assert [len(c) for c in _chunks(range(25), 10)] == [10, 10, 5]
    assert [len(c) for c in _chunks(range(5), 2, 10)] == [2, 2, 1]  # never above the size
    assert list(_chunks([], 10, 3)) == []


def test_a_posted_file_on_postgresql_adds_the_sums_it_made_as_it_wrote_the_rows(
    transactional_db, ledger, tmp_path, monkeypatch
):
    """The kept totals of a posted import are summed as its rows are built (donors.totals.PostedSums)
    and added at the end, onto totals that already hold the same days, months and years; they
    equal the ledger's sums. No row is read back for them."""
    import datetime as dt

    from donors import services, totals
    from tests.donors.test_totals import assert_totals_match_ledger
    from tests.factories import DonationFactory, RateFactory
    from transfers import kinds_donors
    from transfers.kinds_donors import DonationImporter

    RateFactory(currency="USD", date=dt.date(2024, 12, 1), rate=Decimal("0.81000000"))
    for donor, day, currency, amount, rate in [
        ("first", dt.date(2025, 3, 2), "GBP", "10.00", "1"),  # the file's day, month and year
        ("second", dt.date(2024, 12, 31), "USD", "7.77", "0.8"),  # a month and year the file has too
    ]:
        donation = DonationFactory(
            donor=ledger[donor], received_on=day, currency=currency, amount=Decimal(amount), rate=Decimal(rate)
        )
        services.donation_post(donation=donation, by=None)
    monkeypatch.setattr(DonationImporter, "chunk_size", 7)
    read_back = []
    monkeypatch.setattr(kinds_donors, "posted_totals_add", lambda **kwargs: read_back.append(kwargs))
    saved = []
    save = totals.PostedSums.save
    monkeypatch.setattr(totals.PostedSums, "save", lambda self: saved.append(self) or save(self))
    days = ["2024-12-31", "2025-01-01", "2025-03-02", "2025-03-31"]
    rows = [
        f"SUM-{i},DON-000{1 + i % 2},{days[i % 4]},{i}.{i % 100:02d},{('GBP', 'USD', 'USD')[i % 3]},,,,\n"
        for i in range(1, 40)
    ]
    rows.append("SUM-40,DON-0002,2025-03-02,40.40,USD,,,0.81234567,a rate given\n")
    rows.append('SUM-41,DON-0001,2025-03-02,41.41,USD,,PLG-0001,,"a GBP pledge, paid in USD"\n')
    path = write_file(tmp_path, "sums.csv", HEADER + "".join(rows))
    call_command("import_data", "donations", path, "--post", stdout=StringIO())
    assert Donation.objects.posted().count() == 43
    assert len(saved) == 1 and read_back == []
    assert Donation.objects.get(reference="SUM-41").pledge_amount is not None
    assert_totals_match_ledger()


def test_after_a_refused_chunk_the_chunks_queued_behind_it_are_not_written(transactional_db, ledger):
    """CopyWithHistory: the first error is the one raised, and nothing is sent after it."""
    from django.db import IntegrityError, transaction

    from tests.factories import DonationFactory
    from transfers.kinds_donors import _COPY_COLUMNS
    from transfers.writes import CopyWithHistory

    DonationFactory(donor=ledger["first"], reference="TAKEN")
    batch = DonationBatch.objects.create(reference="B", expected_count=0, expected_total=Decimal("0"))
    donor = ledger["first"].pk

    def line(reference):
        values = [reference, donor, None, "2025-03-02", "1.00", "GBP", "bank_transfer", None, "", None, "", None, None]
        values += ["2025-03-02T00:00:00+00:00", "draft", None, None, batch.pk]
        return "\t".join("\\N" if v is None else str(v) for v in values) + "\n"

    written = []
    write = CopyWithHistory._write
    with pytest.raises(IntegrityError, match="donation_reference_unique"), transaction.atomic():
        copy = CopyWithHistory(Donation, _COPY_COLUMNS, marker="batch")
        copy._write = lambda raw, text, marker: written.append(text) or write(copy, raw, text, marker)
        try:
            copy.send_text(line("TAKEN"), batch.pk)
            copy.send_text(line("FREE-1"), batch.pk)
            copy.send_text(line("FREE-2"), batch.pk)
        finally:
            copy.close()
    assert written == [line("TAKEN")]
    assert list(Donation.objects.values_list("reference", flat=True)) == ["TAKEN"]


def test_any_of_finds_texts_with_the_separator_and_blank_texts_too(db):
    from donors.models import Donor
    from tests.factories import DonorFactory
    from transfers.writes import ANY_OF_SEPARATOR, any_of

    odd = DonorFactory(ref=f"A{ANY_OF_SEPARATOR}B")
    plain = DonorFactory(ref="DON-0009")
    blank = DonorFactory(ref="")

    def found(values):
        return set(Donor.objects.filter(**any_of("ref", values)).values_list("pk", flat=True))

    assert found(["DON-0009", "A", "B"]) == {plain.pk}  # joined by the separator, split by the server
    assert found([f"A{ANY_OF_SEPARATOR}B", "DON-0009"]) == {odd.pk, plain.pk}  # an array instead
    assert found(["", "DON-0009"]) == {blank.pk, plain.pk}
    assert found([]) == set()


def test_the_sums_are_added_without_named_prepared_statements(ledger, monkeypatch):
    """Even on a connection set to prepare statements (psycopg's prepare_threshold, which Django
    takes from the database OPTIONS), the sums' upserts are never named prepared statements: a
    connection pooler in transaction mode may not keep them."""
    import datetime as dt

    from django.db import connection

    from donors.models import PostedDayTotal
    from donors.totals import PostedSums

    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "prepare_threshold", 0)  # prepare every statement
    for _ in range(3):
        sums = PostedSums()
        sums.add(ledger["first"].pk, dt.date(2025, 3, 2), "GBP", Decimal("1.25"), Decimal("1.25"))
        sums.save()
    assert PostedDayTotal.objects.get().count == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%unnest%%'")
        assert cursor.fetchone()[0] == 0
