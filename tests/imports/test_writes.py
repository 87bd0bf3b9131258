"""New rows keep their change history on every database (COPY on PostgreSQL)."""

from io import StringIO

from django.core.management import call_command

from donors.models import Donation, DonationBatch

from .conftest import HEADER, write_file


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
