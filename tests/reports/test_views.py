import datetime as dt

import pytest
from django.urls import reverse

from reports.models import ReportRun
from reports.services import report_run_request
from tests.factories import DonorFactory, role_user


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


@pytest.mark.parametrize("role", ["Finance", "Leadership", "Auditor"])
def test_finance_leadership_and_auditor_list_and_download(client, done_run, role):
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


def test_programme_gets_403(client, done_run):
    login(client, "Programme")
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
    # The Auditor reads and downloads every report, and makes none.
    assert "reports.download_report" in ROLE_PERMISSIONS["Auditor"]
    assert "reports.generate_report" not in ROLE_PERMISSIONS["Auditor"]
    # The dashboard is for Leadership, Finance and Auditor; Programme sees no reports at all.
    assert not any(p.startswith("reports.") for p in ROLE_PERMISSIONS["Programme"])


def test_donor_admin_action_asks_for_the_period_then_queues_and_generates(
    client, db, django_capture_on_commit_callbacks
):
    donor, other = DonorFactory(), DonorFactory()
    user = login(client, "Finance")
    assert user.has_perm("reports.generate_report")
    changelist = reverse("admin:donors_donor_changelist")
    chosen = {"action": "generate_donor_summary", "_selected_action": [donor.pk, other.pk]}
    page = client.post(changelist, chosen)
    assert page.status_code == 200
    assert "A donor summary for 2 donors" in page.content.decode()
    assert ReportRun.objects.count() == 0  # nothing until the period is given

    bad = client.post(changelist, chosen | {"apply": "1", "start": "2025-12-31", "end": "2025-01-01", "currency": "XX"})
    assert "The period ends (2025-01-01) before it starts (2025-12-31)." in bad.content.decode()
    assert "&#x27;XX&#x27; is not an ISO 4217 currency code" in bad.content.decode()
    assert ReportRun.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            changelist, chosen | {"apply": "1", "start": "2025-04-01", "end": "2025-09-30", "currency": "eur"}
        )
    assert response.status_code == 302
    runs = ReportRun.objects.order_by("donor__pk")
    assert [(r.kind, r.donor, r.status, r.requested_by) for r in runs] == [
        ("donor_summary", donor, "done", user),
        ("donor_summary", other, "done", user),
    ]
    assert {(r.period_start, r.period_end, r.currency) for r in runs} == {
        (dt.date(2025, 4, 1), dt.date(2025, 9, 30), "EUR")
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"kind": "donor_summary", "donor_ref": "DON-7", "start": "2025-01-01", "end": "2025-12-31"},
            ("donor_summary", "DON-7", None, dt.date(2025, 1, 1), dt.date(2025, 12, 31), True),
        ),
        (
            {"kind": "portfolio", "start": "2025-01-01", "end": "2025-06-30"},
            ("portfolio", None, None, dt.date(2025, 1, 1), dt.date(2025, 6, 30), True),
        ),
        ({"kind": "output_statement", "internal": "on"}, ("output_statement", None, "output", None, None, False)),
    ],
)
def test_every_kind_can_be_asked_for_on_the_reports_page(
    client, db, django_capture_on_commit_callbacks, fields, expected
):
    from tests.factories import OutputFactory

    DonorFactory(ref="DON-7")
    output = OutputFactory()
    if fields["kind"] == "output_statement":
        fields = fields | {"output": output.pk}
    login(client, "Leadership")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports:run_list"), fields)
    assert response.status_code == 302
    run = ReportRun.objects.get()
    got = (
        run.kind,
        run.donor.ref if run.donor else None,
        "output" if run.output == output else None,
        run.period_start,
        run.period_end,
        run.external,
    )
    assert got == expected
    assert run.status == "done", run.error
    page = client.get(reverse("reports:run_list")).content.decode()
    assert f"Report #{run.pk} requested" in page
    assert reverse("reports:run_download", args=[run.pk]) in page


def test_the_reports_page_form_says_what_is_missing_and_requests_nothing(client, db):
    login(client, "Finance")
    response = client.post(reverse("reports:run_list"), {"kind": "donor_summary", "donor_ref": "DON-404"})
    page = response.content.decode()
    assert "There is no donor with reference &#x27;DON-404&#x27;." in page
    assert "A donor summary or portfolio needs a period." in page
    response = client.post(reverse("reports:run_list"), {"kind": "output_statement"})
    assert "Choose an output." in response.content.decode()
    assert ReportRun.objects.count() == 0


def test_the_auditor_who_may_only_download_sees_no_form_and_cannot_post(client, db):
    login(client, "Auditor")
    page = client.get(reverse("reports:run_list"))
    assert page.status_code == 200 and 'id="report-request"' not in page.content.decode()
    response = client.post(
        reverse("reports:run_list"), {"kind": "portfolio", "start": "2025-01-01", "end": "2025-12-31"}
    )
    assert response.status_code == 403
    assert ReportRun.objects.count() == 0


def test_the_page_does_not_refresh_over_a_form_being_corrected(client, db):
    from tests.factories import OutputFactory

    login(client, "Finance")
    ReportRun.objects.create(kind="output_statement", output=OutputFactory())  # queued: the page refreshes
    assert 'http-equiv="refresh"' in client.get(reverse("reports:run_list")).content.decode()
    response = client.post(reverse("reports:run_list"), {"kind": "donor_summary", "donor_ref": "DON-404"})
    assert 'http-equiv="refresh"' not in response.content.decode()
