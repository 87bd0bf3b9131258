import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from donors.models import Donor
from reports.models import ReportRun
from reports.services import report_run_request
from tests.factories import PASSWORD, DonorFactory, role_user


@pytest.fixture
def done_run(db, django_capture_on_commit_callbacks):
    donor = DonorFactory(name="Oakridge Foundation")
    with django_capture_on_commit_callbacks(execute=True):
        run = report_run_request(kind="portfolio", start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))
    run.refresh_from_db()
    assert run.status == ReportRun.Status.DONE, run.error
    assert donor
    return run


def login(client, role):
    user = role_user(role)
    client.force_login(user)
    return user


@pytest.mark.parametrize("role", ["Finance", "Leadership"])
def test_finance_and_leadership_list_and_download(client, done_run, role):
    login(client, role)
    page = client.get(reverse("reports:run_list"))
    assert page.status_code == 200
    assert done_run.fingerprint in page.content.decode()
    response = client.get(reverse("reports:run_download", args=[done_run.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/pdf"
    body = b"".join(response.streaming_content)
    assert body.startswith(b"%PDF") and body == done_run.pdf.open("rb").read()


@pytest.mark.parametrize("role", ["Programme", "Auditor"])
def test_other_roles_get_403(client, done_run, role):
    login(client, role)
    assert client.get(reverse("reports:run_list")).status_code == 403
    assert client.get(reverse("reports:run_download", args=[done_run.pk])).status_code == 403


def test_anonymous_is_sent_to_login(client, done_run):
    response = client.get(reverse("reports:run_download", args=[done_run.pk]))
    assert response.status_code == 302


def test_file_is_on_private_storage_not_public_media(done_run, settings):
    from pathlib import Path

    path = Path(done_run.pdf.path).resolve()
    assert path.is_relative_to(Path(settings.PRIVATE_STORAGE_ROOT).resolve())
    assert not path.is_relative_to(Path(settings.STATIC_ROOT).resolve())
    assert not settings.MEDIA_ROOT


def test_roles_hold_report_permissions():
    from backoffice.roles import ROLE_PERMISSIONS

    for role in ("Finance", "Leadership"):
        assert {"reports.generate_report", "reports.download_report"} <= ROLE_PERMISSIONS[role]
    for role in ("Programme", "Auditor"):
        held = ROLE_PERMISSIONS[role]
        assert not {"reports.generate_report", "reports.download_report"} & held
    # The dashboard is for Leadership, Finance and Auditor; Programme sees no reports at all.
    assert not any(p.startswith("reports.") for p in ROLE_PERMISSIONS["Programme"])


def test_donor_admin_action_queues_and_generates(client, db, django_capture_on_commit_callbacks):
    donor = DonorFactory()
    user = login(client, "Finance")
    assert user.has_perm("reports.generate_report")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:donors_donor_changelist"),
            {"action": "generate_donor_summary", "_selected_action": [donor.pk]},
        )
    assert response.status_code == 302
    run = ReportRun.objects.get()
    assert (run.kind, run.donor, run.status, run.requested_by) == ("donor_summary", donor, "done", user)


def test_impact_report_command_writes_pdf(tmp_path, db):
    call_command("seed_demo", verbosity=0)
    out = tmp_path / "donor.pdf"
    call_command("impact_report", "donor", "DON-0002", "--from", "2025-01-01", "--to", "2025-12-31", "--out", str(out))
    assert out.read_bytes().startswith(b"%PDF")
    run = ReportRun.objects.get()
    assert run.donor == Donor.objects.get(ref="DON-0002")
    call_command("verify_report", str(out))
    assert Group.objects.get(name="Leadership").permissions.filter(codename="download_report").exists()
    assert PASSWORD
