"""The bulk donation path (plain values, COPY stream on PostgreSQL) keeps every rule."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from donors.models import Donation, Pledge
from donors.services import LedgerError, donation_amounts
from transfers.kinds_donors import DonationImporter, _PledgeRef

from .conftest import HEADER, counts, write_file

CASES = [
    # amount, currency, received_on, rate, pledge currency
    ("100.50", "GBP", dt.date(2025, 3, 2), None, None),
    ("200.00", "USD", dt.date(2025, 3, 5), None, "USD"),
    ("200.00", "USD", dt.date(2025, 1, 31), None, "GBP"),
    ("0.01", "USD", dt.date(2025, 2, 28), None, None),
    ("10.01", "USD", dt.date(2025, 2, 10), "0.81234567", None),
    ("10.05", "GBP", dt.date(2025, 2, 10), "1", None),
    ("999999999999.99", "USD", dt.date(2026, 1, 1), None, None),
]


@pytest.mark.parametrize(("amount", "currency", "on", "rate", "pledge_currency"), CASES)
def test_row_amounts_equal_donation_amounts(ledger, amount, currency, on, rate, pledge_currency):
    importer = DonationImporter(post=True)
    importer.start()
    pledge = _PledgeRef(1, "PLG-X", pledge_currency, 1, "DON-0001") if pledge_currency else None
    values = {"amount": Decimal(amount), "currency": currency, "received_on": on, "rate": rate and Decimal(rate)}
    donation = Donation(amount=values["amount"], currency=currency, received_on=on, rate=values["rate"])
    if pledge:
        donation.pledge = Pledge(id=1, currency=pledge_currency)
    assert importer.amounts(values, pledge) == donation_amounts(donation)


@pytest.mark.parametrize(
    ("currency", "on", "rate", "message"),
    [
        ("USD", dt.date(2024, 12, 31), None, "No exchange rate for USD on or before 2024-12-31."),
        ("EUR", dt.date(2025, 3, 1), None, "No exchange rate for EUR on or before 2025-03-01."),
        ("GBP", dt.date(2025, 3, 1), "0.5", "A GBP donation has a rate of exactly 1."),
    ],
)
def test_row_amounts_refuse_what_donation_amounts_refuses(ledger, currency, on, rate, message):
    importer = DonationImporter(post=True)
    importer.start()
    values = {"amount": Decimal("5"), "currency": currency, "received_on": on, "rate": rate and Decimal(rate)}
    with pytest.raises(LedgerError) as error:
        importer.amounts(values, None)
    assert error.value.messages == [message]


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
    assert err.getvalue().strip() == "Line 33, column amount: '1.234' has more than 2 decimal places."
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


def test_objects_older_than_the_import_are_set_aside_from_the_collector_until_it_ends(ledger, tmp_path, monkeypatch):
    import gc

    seen = []
    load = DonationImporter.load
    monkeypatch.setattr(
        DonationImporter, "load", lambda self, rows: seen.append(gc.get_freeze_count()) or load(self, rows)
    )
    content = HEADER + "GC-1,DON-0001,2025-03-02,10.00,GBP,,,,\n"
    assert gc.get_freeze_count() == 0
    call_command("import_data", "donations", write_file(tmp_path, "gc.csv", content), stdout=StringIO())
    assert seen[0] > 0 and gc.get_freeze_count() == 0
    assert Donation.objects.filter(reference="GC-1").exists()
    # Objects someone else froze (a pre-forking server) stay frozen: the import leaves them be.
    gc.freeze()
    try:
        seen.clear()
        content = HEADER + "GC-2,DON-0001,2025-03-02,10.00,GBP,,,,\n"
        call_command("import_data", "donations", write_file(tmp_path, "gc2.csv", content), stdout=StringIO())
        assert seen and gc.get_freeze_count() > 0  # not unfrozen
    finally:
        gc.unfreeze()
