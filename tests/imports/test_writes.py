"""New rows keep their change history, and a file written in chunks arrives whole or not at all."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from donors.models import Donation, DonationBatch
from transfers.kinds_donors import DonationImporter

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
    """Every row arrives, once, with its history, whatever chunk it was written in."""
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


def test_a_posted_file_adds_the_sums_it_made_as_it_wrote_the_rows(ledger, tmp_path, monkeypatch):
    """The kept totals of a posted import are summed as its rows are written (donors.totals.PostedSums)
    and added at the end, onto totals that already hold the same days, months and years; they
    equal the ledger's sums."""
    import datetime as dt

    from donors import services, totals
    from tests.donors.test_totals import assert_totals_match_ledger
    from tests.factories import DonationFactory, RateFactory
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
    assert len(saved) == 1
    assert Donation.objects.get(reference="SUM-41").pledge_amount is not None
    assert_totals_match_ledger()


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


def test_a_bad_row_after_written_chunks_leaves_the_database_unchanged(ledger, tmp_path, monkeypatch):
    monkeypatch.setattr(DonationImporter, "chunk_size", 10)
    rows = [f"BANK-{i},DON-0001,2025-03-02,{i}.25,GBP,,,,n{i}\n" for i in range(1, 36)]
    rows[31] = "BANK-32,DON-0001,2025-03-02,1.234,GBP,,,,bad\n"
    before = counts()
    err = StringIO()
    with pytest.raises(CommandError, match="1 error"):
        call_command(
            "import_data",
            "donations",
            write_file(tmp_path, "late.csv", HEADER + "".join(rows)),
            "--post",
            stdout=StringIO(),
            stderr=err,
        )
    assert err.getvalue().strip() == "Line 33, column amount: GBP has 2 decimal places: 1.234 is not a GBP amount."
    assert counts() == before
    assert Donation.history.count() == 0


def test_text_with_tabs_newlines_and_backslashes_is_stored_as_given(ledger, tmp_path):
    note = 'a\tb\\c "quoted"\nsecond line'
    content = HEADER + 'BANK-1,DON-0001,2025-03-02,1.00,GBP,,,,"' + note.replace('"', '""') + '"\n'
    call_command("import_data", "donations", write_file(tmp_path, "t.csv", content), "--post", stdout=StringIO())
    donation = Donation.objects.get()
    assert donation.note == note.strip()
    assert donation.history.get().note == donation.note


def test_repeated_cells_parse_alike_and_bad_ones_are_reported_on_every_line(ledger, tmp_path, monkeypatch):
    """A column's parsed cells are kept (transfers.engine.PARSED_KEPT of them) so that a value
    that repeats is parsed once: the values are the same, and a bad cell is an error each time,
    before and after the column has kept all it may."""
    from transfers import engine

    monkeypatch.setattr(engine, "PARSED_KEPT", 2)
    good = [f"KEPT-{i},DON-0001,2025-03-0{1 + i % 4},1{i}.50,GBP,,,,\n" for i in range(8)]
    bad = ["KEPT-8,DON-0001,2025-02-30,5.00,GBP,,,,\n", "KEPT-9,DON-0001,2025-02-30,5.00,GBP,,,,\n"]
    err = StringIO()
    with pytest.raises(CommandError, match="2 error"):
        call_command(
            "import_data", "donations", write_file(tmp_path, "b.csv", HEADER + "".join(good + bad)), stderr=err
        )
    assert err.getvalue().count("'2025-02-30' is not a real date") == 2
    assert "Line 10" in err.getvalue() and "Line 11" in err.getvalue()
    call_command("import_data", "donations", write_file(tmp_path, "g.csv", HEADER + "".join(good)), stdout=StringIO())
    recorded = dict(Donation.objects.values_list("reference", "received_on"))
    assert recorded == {f"KEPT-{i}": dt.date(2025, 3, 1 + i % 4) for i in range(8)}
    assert sorted(Donation.objects.values_list("amount", flat=True)) == sorted(Decimal(f"1{i}.50") for i in range(8))


def history_matches(model, user) -> int:
    """Each row of `model` has one '+' history row holding the same value in every field, written by
    `user` when the row was made; returns how many rows were compared."""
    fields = [f.attname for f in model._meta.concrete_fields]
    rows = {row["id"]: row for row in model.objects.values(*fields)}
    history = list(model.history.values(*fields, "history_type", "history_user_id", "history_date"))
    assert sorted(h["id"] for h in history) == sorted(rows)
    for h in history:
        assert {f: h[f] for f in fields} == rows[h["id"]]
        assert (h["history_type"], h["history_user_id"]) == ("+", user.pk)
        assert abs(h["history_date"] - rows[h["id"]]["created_at"]) < dt.timedelta(seconds=5)
    return len(history)


def test_bulk_history_rows_repeat_every_field_of_their_donation(ledger, tmp_path, finance_user):
    """The bulk writer (donors.services.DonationsBulk) copies each row into its history table:
    the fields the file gave, those posting set and those left to their defaults alike."""
    content = HEADER + "".join(f"BANK-{i},DON-0001,2025-03-0{i},{i}.25,GBP,,,,note {i}\n" for i in range(1, 6))
    path = write_file(tmp_path, "h.csv", content)
    call_command("import_data", "donations", path, "--post", "--user", "finance", stdout=StringIO())
    assert history_matches(Donation, finance_user) == 5
    assert set(Donation.history.values_list("reversal_reason", "reversal_of_id", "instalment_id")) == {("", None, None)}
