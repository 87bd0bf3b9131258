"""A donor file with near-duplicates of recorded donors: each is an error of its line, nothing is
imported, until the user confirms; the held-back file of realistic variants (tests/data/donors)."""

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from donors.models import Donor
from tests.factories import DonorFactory, role_user
from transfers.models import ImportJob

VARIANTS = Path(__file__).resolve().parent.parent / "data" / "donors" / "duplicate_variants.csv"
UNRELATED = {"DON-0110", "DON-0111"}


@pytest.fixture
def recorded(db):
    for ref, name, kind, country, external_ref in [
        ("DON-0001", "Oakridge Foundation", "foundation", "GB", ""),
        ("DON-0002", "Müller Stiftung GmbH", "foundation", "DE", ""),
        ("DON-0003", "Smith & Partners", "company", "GB", ""),
        ("DON-0004", "Societe Generale", "company", "FR", ""),
        ("DON-0005", "Министерство иностранных дел Российской Федерации", "government", "RU", ""),
        ("DON-0006", "Міністерство закордонних справ України", "government", "UA", ""),
        ("DON-0007", "Nordic Child Protection Trust", "foundation", "NO", ""),
        ("DON-0008", "ACME, Inc.", "company", "US", ""),
        ("DON-0009", "Lumen Cloud", "company", "US", "SF-0042"),
        ("DON-0010", "Ministry of Foreign Affairs", "government", "NO", ""),
    ]:
        DonorFactory(ref=ref, name=name, kind=kind, country=country, external_ref=external_ref)


def _expected_lines() -> dict[int, str]:
    with VARIANTS.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {line: row["ref"] for line, row in enumerate(rows, start=2) if row["ref"] not in UNRELATED}


def test_each_near_duplicate_is_reported_by_line_and_nothing_is_imported(recorded):
    before = Donor.objects.count()
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_data", "donors", str(VARIANTS), stdout=StringIO(), stderr=err)
    lines = err.getvalue().splitlines()
    flagged = {int(line.split(",")[0].removeprefix("Line ")): line for line in lines}
    assert set(flagged) == set(_expected_lines())  # every variant, and neither unrelated row
    assert "column name: Likely duplicate of DON-0001 Oakridge Foundation (score 70" in flagged[2]
    assert "DON-0002 Müller Stiftung GmbH (score 54: names 74% alike (trigram similarity)" in flagged[3]
    assert "DON-0005 Министерство иностранных дел Российской Федерации" in flagged[6]
    assert "same external reference 'SF-0042'" in flagged[10]
    assert "--confirm-duplicates" in flagged[2]
    assert Donor.objects.count() == before


def test_confirmed_duplicates_are_imported_and_listed(recorded):
    before = Donor.objects.count()
    out = StringIO()
    call_command("import_data", "donors", str(VARIANTS), "--confirm-duplicates", stdout=out, stderr=StringIO())
    assert Donor.objects.count() == before + 11
    notes = [line for line in out.getvalue().splitlines() if "(confirmed)" in line]
    assert [int(n.split(":")[0].removeprefix("Line ")) for n in notes] == sorted(_expected_lines())
    assert Donor.objects.get(ref="DON-0104").name_key == "societe generale"


def test_the_flag_is_for_donor_files_only(recorded):
    with pytest.raises(CommandError, match="donor files only"):
        call_command("import_data", "contacts", str(VARIANTS), "--confirm-duplicates")


def test_two_rows_of_one_new_donor_in_a_file_are_a_duplicate_too(db, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text(
        "ref,name,kind,country,preferred_currency\n"
        "DON-0201,Kestrel Trust Ltd,foundation,GB,GBP\n"
        "DON-0202,Kestrel Trust Ltd,foundation,FR,EUR\n"
        "DON-0203,The Kestrel Trust,foundation,GB,GBP\n",
        encoding="utf-8",
    )
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_data", "donors", str(path), stdout=StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        "Line 4, column name: Likely duplicate of DON-0201 on line 2 of this file (the same name key and country). "
        "Nothing is imported until you confirm: if these are different donors, import the file with import_data "
        "--confirm-duplicates (or add each on the donor page, which asks); if not, use the recorded donor's ref."
    ]
    assert not Donor.objects.exists()


def _admin_upload(client, **extra):
    upload = SimpleUploadedFile("variants.csv", VARIANTS.read_bytes())
    return client.post(reverse("admin:donors_donor_import"), {"import_file": upload, "format": "0", **extra})


def test_the_admin_import_lists_each_duplicate_and_imports_nothing(recorded, client):
    client.force_login(role_user("Finance"))
    before = Donor.objects.count()
    response = _admin_upload(client)
    errors = {row.number: dict(row.field_specific_errors) for row in response.context["result"].invalid_rows}
    assert set(errors) == set(_expected_lines())
    assert errors[3]["name"][0].startswith("Likely duplicate of DON-0002 Müller Stiftung GmbH (score 54")
    assert "confirm_form" not in response.context
    assert "Import likely duplicates as new donors" in response.content.decode()
    assert Donor.objects.count() == before


def test_the_admin_import_confirmed_previews_then_imports_the_duplicates(recorded, client):
    client.force_login(role_user("Finance"))
    before = Donor.objects.count()
    preview = _admin_upload(client, confirm_duplicates="on")
    assert Donor.objects.count() == before
    job = ImportJob.objects.get()
    assert job.confirm_duplicates and job.status == ImportJob.Status.CHECKED
    response = client.post(reverse("admin:donors_donor_process_import"), preview.context["confirm_form"].initial)
    assert response.status_code == 302
    assert Donor.objects.count() == before + 11
    job.refresh_from_db()
    assert sum("(confirmed)" in note for note in job.notes) == len(_expected_lines())
