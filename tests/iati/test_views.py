"""The IATI export on the reports page: Leadership starts it, a worker makes the ZIP, Leadership and the
Auditor download it; every other role is refused."""

import io
import zipfile

import pytest

from backoffice.models import Organisation
from iati.models import IatiExport
from iati.services import ACTIVITIES_FILE, ORGANISATION_FILE, iati_export_make
from iati.validation import schema_errors
from tests.factories import role_user
from tests.iati.ledger import small_ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(db):
    return small_ledger(role_user("Finance", username="ledger-keeper"))


def start(client, role, capture):
    client.force_login(role_user(role))
    with capture(execute=True):
        return client.post("/reports/iati/export/")


@pytest.mark.parametrize(
    ("role", "status"), [("Leadership", 302), ("Finance", 403), ("Programme", 403), ("Auditor", 403)]
)
def test_only_leadership_starts_an_export(
    client, ledger, eager_celery, role, status, django_capture_on_commit_callbacks
):
    assert start(client, role, django_capture_on_commit_callbacks).status_code == status
    assert IatiExport.objects.count() == (1 if status == 302 else 0)


def test_the_export_is_made_in_the_background_and_downloaded_as_a_zip_of_two_valid_files(
    client,
    ledger,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    response = start(client, "Leadership", django_capture_on_commit_callbacks)
    assert response.url == "/reports/"
    export = IatiExport.objects.get()
    assert export.status == IatiExport.Status.DONE and export.activities == 3
    page = client.get("/reports/").content.decode()
    assert "Export IATI files" in page and f"/reports/iati/{export.pk}/download/" in page
    download = client.get(f"/reports/iati/{export.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    data = b"".join(download.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == [ACTIVITIES_FILE, ORGANISATION_FILE]
        assert schema_errors("activities", archive.read(ACTIVITIES_FILE)) == []
        assert schema_errors("organisation", archive.read(ORGANISATION_FILE)) == []
    # Made twice, the export is left as it is.
    assert iati_export_make(export_id=export.pk).sha256 == export.sha256


@pytest.mark.parametrize(
    ("role", "status"), [("Leadership", 200), ("Auditor", 200), ("Finance", 403), ("Programme", 403)]
)
def test_who_may_download(client, ledger, eager_celery, role, status, django_capture_on_commit_callbacks):
    start(client, "Leadership", django_capture_on_commit_callbacks)
    export = IatiExport.objects.get()
    client.force_login(role_user(role, username=f"{role.lower()}-reader"))
    assert client.get(f"/reports/iati/{export.pk}/download/").status_code == status


def test_a_refused_export_says_why_on_the_reports_page(
    client, ledger, eager_celery, django_capture_on_commit_callbacks
):
    Organisation.objects.filter(pk=1).update(iati_identifier="")
    start(client, "Leadership", django_capture_on_commit_callbacks)
    export = IatiExport.objects.get()
    assert export.status == IatiExport.Status.FAILED and not export.file
    page = client.get("/reports/").content.decode()
    assert "Refused:" in page and "no IATI organisation identifier" in page
    assert client.get(f"/reports/iati/{export.pk}/download/").status_code == 404


def test_finance_sees_no_iati_section_on_the_reports_page(client, db):
    client.force_login(role_user("Finance"))
    page = client.get("/reports/").content.decode()
    assert "IATI publishing" not in page
