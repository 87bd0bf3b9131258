"""The donors file's optional `language` column (Donor.language): English when absent or blank,
French when `fr`, an unknown code refused with its line and column and nothing imported; the export
writes it back."""

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from donors.models import Donor

from .conftest import write_file

HEADER = "ref,name,kind,country,preferred_currency,language\n"


def run_import(path):
    call_command("import_data", "donors", path, stdout=StringIO(), stderr=StringIO())


def test_french_and_english_donors_are_imported_with_their_language(db, tmp_path):
    rows = "DON-0101,Fondation Aurore,foundation,CH,EUR,fr\nDON-0102,Oakridge Foundation,foundation,US,USD,\n"
    run_import(write_file(tmp_path, "donors.csv", HEADER + rows))
    assert dict(Donor.objects.values_list("ref", "language")) == {"DON-0101": "fr", "DON-0102": "en-gb"}


def test_without_the_column_a_donor_is_english(db, tmp_path):
    run_import(
        write_file(tmp_path, "donors.csv", "ref,name,kind,country,preferred_currency\nDON-0103,A,company,GB,GBP\n")
    )
    assert Donor.objects.get().language == "en-gb"


def test_an_unknown_language_is_refused_by_line_and_column_and_nothing_is_imported(db, tmp_path):
    rows = "DON-0104,Good Donor,company,GB,GBP,fr\nDON-0105,Bad Donor,company,DE,EUR,de\n"
    err = StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_data", "donors", write_file(tmp_path, "donors.csv", HEADER + rows), stdout=StringIO(), stderr=err
        )
    assert "Line 3, column language: 'de' is not one of: en-gb, fr" in err.getvalue()
    assert Donor.objects.count() == 0


def test_the_export_writes_each_donors_language(db, tmp_path):
    run_import(write_file(tmp_path, "donors.csv", HEADER + "DON-0106,Fondation Aurore,foundation,CH,EUR,fr\n"))
    path = tmp_path / "out.csv"
    call_command("export_data", "donors", "--out", str(path), stderr=StringIO())
    [row] = csv.DictReader(path.open(encoding="utf-8-sig"))
    assert row["language"] == "fr"
