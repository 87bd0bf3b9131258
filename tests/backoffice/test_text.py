"""Stored text holds no control characters: every text field of the ledger's models, their
admin forms and the import refuse them (tab and line breaks allowed in notes only)."""

from io import StringIO

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import models
from django.urls import reverse

from backoffice.text import validate_notes_text, validate_plain_text
from donors.models import Donation, Donor
from tests.factories import DonorFactory, role_user

TEXT_FIELDS = [
    pytest.param(field, id=f"{model._meta.label}.{field.name}")
    for label in ("donors", "grants", "transfers")
    for model in apps.get_app_config(label).get_models()
    if not model._meta.label.split(".")[1].startswith("Historical")
    for field in model._meta.get_fields()
    if isinstance(field, models.CharField | models.TextField)
]


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_every_text_field_has_the_rule(field):
    """Generated from the models, so a new field is covered the day it is added."""
    expected = validate_notes_text if isinstance(field, models.TextField) else validate_plain_text
    assert expected in field.validators


@pytest.mark.parametrize("value", ["Oak\x01ridge", "Oak\x00ridge", "Oak\rridge", "Oak\nridge", "Oak\tridge", "Oak\x85"])
def test_a_name_with_a_control_character_is_refused(db, value):
    donor = DonorFactory.build(name=value)
    with pytest.raises(ValidationError) as refused:
        donor.full_clean(validate_unique=False)
    assert list(refused.value.error_dict) == ["name"]
    assert "control character U+" in refused.value.error_dict["name"][0].messages[0]


def test_notes_may_hold_tabs_and_line_breaks_but_no_other_control_character(db):
    donor = DonorFactory.build(notes="Met in March.\r\n\tFollow up in May.")
    donor.full_clean(validate_unique=False)
    donor.notes = "Met\x07 in March."
    with pytest.raises(ValidationError) as refused:
        donor.full_clean(validate_unique=False)
    assert refused.value.message_dict == {
        "notes": [
            "Contains the control character U+0007 at character 4; remove it "
            "(notes may hold tabs and line breaks, but no other)."
        ]
    }


def test_the_admin_form_names_the_field(db, client):
    client.force_login(role_user("Programme"))
    response = client.post(
        reverse("admin:grants_programme_add"),
        {"code": "P-1", "name": "Bad\x01name", "description": "", "sector": "15160", "recipient_region": "998"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "name": [
            "Contains the control character U+0001 at character 4; remove it "
            "(only notes may hold tabs and line breaks)."
        ]
    }


DONORS_HEADER = "ref,name,kind,country,preferred_currency,status,external_ref,publicly_acknowledged,notes\n"


@pytest.mark.parametrize(
    ("cell", "code", "at"),
    [
        ("Oak\x01ridge", "0001", 4),
        ('"Oak\r\nridge"', "000D", 4),
        ('"Oak\nridge"', "000A", 4),
        ("Oak\x00ridge", "0000", 4),
    ],
)
def test_the_donors_import_names_the_line_and_column_and_writes_nothing(db, tmp_path, cell, code, at):
    path = tmp_path / "donors.csv"
    path.write_bytes(
        (DONORS_HEADER + "DON-0001,Fine,company,GB,GBP,,,,\n" + f"DON-0002,{cell},company,GB,GBP,,,,\n").encode()
    )
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_data", "donors", str(path), stdout=StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        f"Line 3, column name: Contains the control character U+{code} at character {at}; remove it "
        "(only notes may hold tabs and line breaks)."
    ]
    assert not Donor.objects.exists()


def test_the_admin_preview_refuses_a_nul_byte_with_its_line_and_column(db, client):
    """A NUL passed the preview, then the confirm answered 500 (PostgreSQL refuses NUL)."""
    client.force_login(role_user("Finance"))
    upload = SimpleUploadedFile("donors.csv", (DONORS_HEADER + "DON-0001,Oak,company,GB,GBP,,,,a\x00b\n").encode())
    response = client.post(reverse("admin:donors_donor_import"), {"import_file": upload, "format": "0"})
    assert response.status_code == 200
    assert "confirm_form" not in response.context
    errors = [(row.number, dict(row.field_specific_errors)) for row in response.context["result"].invalid_rows]
    assert errors == [
        (
            2,
            {
                "notes": [
                    "Contains the control character U+0000 at character 2; remove it "
                    "(notes may hold tabs and line breaks, but no other)."
                ]
            },
        )
    ]
    assert not Donor.objects.exists()


def test_notes_imported_with_tabs_and_line_breaks_are_kept(db, tmp_path):
    path = tmp_path / "donors.csv"
    path.write_bytes((DONORS_HEADER + 'DON-0001,Oak,company,GB,GBP,,,,"Met\tin March.\r\nCall in May."\n').encode())
    call_command("import_data", "donors", str(path), stdout=StringIO())
    assert Donor.objects.get().notes == "Met\tin March.\r\nCall in May."


def test_the_donations_import_refuses_a_nul_byte_with_its_line_and_column(db, tmp_path):
    """Donations are written without full_clean (COPY on PostgreSQL): the import's parser holds the rule."""
    DonorFactory(ref="DON-0001")
    path = tmp_path / "donations.csv"
    path.write_bytes(
        b"reference,donor_ref,received_on,amount,currency,method,pledge_ref,rate,note\n"
        b"BANK-1,DON-0001,2025-03-02,100.00,GBP,,,,fine\n"
        b"BANK-2,DON-0001,2025-03-02,100.00,GBP,,,,a\x00b\n"
    )
    err = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import_data", "donations", str(path), stdout=StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        "Line 3, column note: Contains the control character U+0000 at character 2; remove it "
        "(notes may hold tabs and line breaks, but no other)."
    ]
    assert str(refused.value) == "1 error(s); nothing was imported."
    assert not Donation.objects.exists()
