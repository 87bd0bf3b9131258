"""A NUL character in a cell (PostgreSQL text cannot hold one) is a cell error with its line and
column, in the admin's preview and on the command line; it never reaches the database."""

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.factories import role_user
from transfers.fields import CellError
from transfers.registry import KINDS

from .conftest import HEADER, counts, write_file

NUL_NOTE = HEADER + "BANK-1,DON-0001,2025-03-02,100.50,GBP,,,,a\x00b\n"
NUL_LOOKUPS = HEADER + "BANK-\x002,DON-0001\x00,2025-03-02,100.50,GBP,,PLG-\x001,,\n"
CONTROL = "Contains the control character U+0000 at character {}; remove it ({})."
PLAIN = "only notes may hold tabs and line breaks"
NOTES = "notes may hold tabs and line breaks, but no other"


@pytest.mark.parametrize(
    "kind, column",
    [(kind, column.name) for kind, importer in KINDS.items() for column in importer.columns],
)
def test_no_column_of_any_kind_lets_a_nul_through(kind, column):
    parse = next(c.parse for c in KINDS[kind].columns if c.name == column)
    with pytest.raises(CellError):
        parse("DON-0001\x00")


def test_the_admin_preview_refuses_a_nul_with_its_line_and_column(ledger, client):
    client.force_login(role_user("Finance"))
    for content, expected in (
        (NUL_NOTE, [(2, {"note": [CONTROL.format(2, NOTES)]})]),
        (
            NUL_LOOKUPS,
            [
                (2, {"reference": [CONTROL.format(6, PLAIN)]}),
                (2, {"donor_ref": [CONTROL.format(9, PLAIN)]}),
                (2, {"pledge_ref": [CONTROL.format(5, PLAIN)]}),
            ],
        ),
    ):
        upload = SimpleUploadedFile("nul.csv", content.encode())
        response = client.post(reverse("admin:donors_donation_import"), {"import_file": upload, "format": "0"})
        assert response.status_code == 200
        rows = response.context["result"].invalid_rows
        assert [(row.number, dict(row.field_specific_errors)) for row in rows] == expected
        assert "confirm_form" not in response.context
    assert counts()["Donation"] == 0


def test_import_data_refuses_a_nul_with_its_line_and_column(ledger, tmp_path):
    for content, expected in (
        (NUL_NOTE, ["Line 2, column note: " + CONTROL.format(2, NOTES)]),
        (
            NUL_LOOKUPS,
            [
                "Line 2, column reference: " + CONTROL.format(6, PLAIN),
                "Line 2, column donor_ref: " + CONTROL.format(9, PLAIN),
                "Line 2, column pledge_ref: " + CONTROL.format(5, PLAIN),
            ],
        ),
    ):
        err = StringIO()
        with pytest.raises(CommandError, match=r"error\(s\); nothing was imported\."):
            call_command("import_data", "donations", write_file(tmp_path, "nul.csv", content), stderr=err)
        assert err.getvalue().splitlines() == expected
    assert counts()["Donation"] == 0
