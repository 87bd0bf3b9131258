"""`manage.py export_iati --out DIR`: the two files written, or none and the reasons."""

import pytest
from django.core.management import CommandError, call_command

from backoffice.models import Organisation
from iati.services import ACTIVITIES_FILE, ORGANISATION_FILE, iati_export
from tests.factories import role_user
from tests.iati.ledger import AS_OF, small_ledger

pytestmark = pytest.mark.django_db


def test_it_writes_the_organisation_and_activities_files(tmp_path, capsys):
    small_ledger(role_user("Finance"))
    call_command("export_iati", "--out", str(tmp_path / "iati"), "--as-of", "2026-06-30T12:00:00Z")
    files = iati_export(as_of=AS_OF)
    assert (tmp_path / "iati" / ACTIVITIES_FILE).read_bytes() == files[ACTIVITIES_FILE]
    assert (tmp_path / "iati" / ORGANISATION_FILE).read_bytes() == files[ORGANISATION_FILE]
    assert f"Wrote {tmp_path / 'iati' / ACTIVITIES_FILE}" in capsys.readouterr().out


def test_a_refused_export_writes_nothing_and_says_why(tmp_path):
    small_ledger(role_user("Finance"))
    Organisation.objects.filter(pk=1).update(iati_identifier="")
    with pytest.raises(CommandError, match="no IATI organisation identifier"):
        call_command("export_iati", "--out", str(tmp_path / "iati"))
    assert not (tmp_path / "iati").exists()


def test_a_bad_as_of_is_refused(tmp_path):
    with pytest.raises(CommandError, match="--as-of 'yesterday' is not a date and time"):
        call_command("export_iati", "--out", str(tmp_path), "--as-of", "yesterday")
