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
