"""Allocations files: each row through grants.services.allocation_create, all or nothing."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from donors import services as ledger
from grants.models import Allocation
from tests.factories import DonationFactory, DonorFactory, OutputFactory, ProgrammeFactory, role_user

from .conftest import write_file

HEADER = "donation_reference,programme_code,output_title,amount,allocated_on,note\n"


@pytest.fixture
def setting(db, finance_user):
    donor = DonorFactory(ref="DON-0001")
    programme = ProgrammeFactory(code="GTA")
    first = OutputFactory(programme=programme, title="Threat Assessment 2025")
    second = OutputFactory(programme=programme, title="Summit 2025", kind="event")
    donation = ledger.donation_post(
        donation=DonationFactory(reference="BANK-1", donor=donor, amount=Decimal("100.00")), by=finance_user
    )
    DonationFactory(reference="DRAFT-1", donor=donor)
    return {"donation": donation, "first": first, "second": second}


def run(path, *args):
    out, err = StringIO(), StringIO()
    call_command("import_data", "allocations", path, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def errors_of(tmp_path, content):
    err = StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_data", "allocations", write_file(tmp_path, "a.csv", content), stdout=StringIO(), stderr=err
        )
    return err.getvalue().strip().splitlines()


def test_it_allocates_through_the_service_and_keeps_history(setting, tmp_path, finance_user):
    content = HEADER + (
        "BANK-1,GTA,Threat Assessment 2025,60.00,2025-03-10,first half\nBANK-1,GTA,Summit 2025,40,2025-03-10,\n"
    )
    out, _ = run(write_file(tmp_path, "a.csv", content), "--user", finance_user.username)
    assert "2 new imported, 0 unchanged" in out
    allocations = Allocation.objects.order_by("amount")
    assert [(a.output.title, a.amount, a.allocated_on, a.by) for a in allocations] == [
        ("Summit 2025", Decimal("40.00"), dt.date(2025, 3, 10), finance_user),
        ("Threat Assessment 2025", Decimal("60.00"), dt.date(2025, 3, 10), finance_user),
    ]
    assert all(a.history.count() == 1 for a in allocations)


def test_rows_of_one_donation_are_checked_together(setting, tmp_path):
    content = HEADER + (
        "BANK-1,GTA,Threat Assessment 2025,60.00,2025-03-10,\nBANK-1,GTA,Summit 2025,40.01,2025-03-10,\n"
    )
    assert errors_of(tmp_path, content) == [
        "Line 3, column amount: 40.01 GBP is more than the 40.00 GBP left to allocate from donation BANK-1 "
        "(base amount 100.00 GBP)."
    ]
    assert Allocation.objects.count() == 0


def test_every_bad_row_is_reported_and_nothing_is_written(setting, tmp_path):
    content = HEADER + (
        "BANK-1,GTA,Threat Assessment 2025,10,2025-03-10,\n"
        "NOPE,GTA,Threat Assessment 2025,10,2025-03-10,\n"
        "BANK-1,GTA,Nothing,10,2025-03-11,\n"
        "DRAFT-1,GTA,Summit 2025,10,2025-03-10,\n"
        "BANK-1,GTA,Summit 2025,1.234,2025-03-10,\n"
    )
    assert errors_of(tmp_path, content) == [  # in file order, though line 6's was found first
        "Line 3, column donation_reference: There is no donation with reference 'NOPE'.",
        "Line 4, column output_title: Programme GTA has no output titled 'Nothing'.",
        "Line 5, column donation_reference: Donation DRAFT-1 is a draft; post it before allocating.",
        "Line 6, column amount: GBP has 2 decimal places: 1.234 is not a GBP amount.",
    ]
    assert Allocation.objects.count() == 0


def test_reimport_is_recognised_and_a_changed_amount_is_an_error(setting, tmp_path):
    content = HEADER + "BANK-1,GTA,Threat Assessment 2025,60.00,2025-03-10,n\n"
    path = write_file(tmp_path, "a.csv", content)
    run(path)
    out, _ = run(path)
    assert "Line 2: BANK-1 / GTA / Threat Assessment 2025 / 2025-03-10 unchanged" in out
    assert "0 new imported, 1 unchanged" in out
    changed = HEADER + "BANK-1,GTA,Threat Assessment 2025,61.00,2025-03-10,n\n"
    assert errors_of(tmp_path, changed) == [
        "Line 2, column amount: BANK-1 / GTA / Threat Assessment 2025 / 2025-03-10 is already recorded with "
        "amount '60.00', but this row says '61.00'. An import never changes a recorded allocation; correct it "
        "in the admin."
    ]
    assert Allocation.objects.count() == 1


def test_export_reads_back_unchanged(setting, tmp_path):
    content = HEADER + "BANK-1,GTA,Threat Assessment 2025,60.00,2025-03-10,=note\n"
    run(write_file(tmp_path, "a.csv", content.replace(",=note", ",'=note")))
    out = tmp_path / "export.csv"
    call_command("export_data", "allocations", "--out", str(out), stdout=StringIO())
    text = out.read_text()
    assert text.splitlines()[1] == "BANK-1,GTA,Threat Assessment 2025,60.00,2025-03-10,'=note"
    again, _ = run(str(out))
    assert "0 new imported, 1 unchanged" in again


def test_allocation_admin_has_the_import_button_for_finance(setting, client):
    client.force_login(role_user("Finance", "finance-admin"))
    response = client.get(reverse("admin:grants_allocation_changelist"))
    assert reverse("admin:grants_allocation_import") in response.content.decode()
    assert client.get(reverse("admin:grants_allocation_import")).status_code == 200
