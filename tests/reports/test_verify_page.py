"""The public /verify/ page: anyone uploads a report PDF and learns whether it is genuine and what it was
made from, and never whom or what it is about."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from donors.models import Donor
from reports.models import ReportRun
from reports.services import report_run_request

from .conftest import END, START
from .test_verify_report import altered, stored


@pytest.fixture
def run(demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = report_run_request(kind="donor_summary", donor=Donor.objects.get(ref="DON-0002"), start=START, end=END)
    run.refresh_from_db()
    assert run.status == ReportRun.Status.DONE, run.error
    return run


def upload(client, data: bytes, name="report.pdf", **extra):
    return client.post("/verify/", {"pdf": SimpleUploadedFile(name, data, "application/pdf")}, **extra)


def test_the_page_is_public_and_names_the_organisation(client, db):
    page = client.get("/verify/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Verify a report" in html and "Safe Online Alliance" in html
    assert 'name="csrfmiddlewaretoken"' in html and 'enctype="multipart/form-data"' in html


def test_a_genuine_pdf_is_genuine_and_says_what_it_was_made_from_but_not_whom_for(client, run):
    answer = upload(client, stored(run))
    assert answer.status_code == 200
    html = answer.content.decode()
    assert '<h2 id="result-title">Genuine</h2>' in html
    assert "Donor summary" in html
    assert "1 January 2025 to 31 December 2025" in html
    assert run.snapshot_sha256 in html
    assert f"<dd>{run.renderer_version}</dd>" in html
    # No personal data: not the donor's name or reference, not an amount from the report.
    assert run.donor.name not in html and run.donor.ref not in html
    amounts = [f["value"]["amount"] for f in run.snapshot["figures"] if f["value"]["amount"] != "0.00"]
    assert amounts and not any(amount in html for amount in amounts)


def test_one_changed_byte_is_not_genuine(client, run):
    html = upload(client, altered(stored(run))).content.decode()
    assert '<h2 id="result-title">Not genuine</h2>' in html
    assert "It has been changed since it was made." in html
    assert run.snapshot_sha256 not in html and run.donor.name not in html


def test_a_pdf_that_is_no_report_of_ours_is_not_genuine(client, db):
    html = upload(client, b"%PDF-1.4\n% someone else's PDF\n%%EOF\n").content.decode()
    assert "Not genuine" in html and "no report carries its fingerprint" in html


def test_a_file_that_is_not_a_pdf_is_refused_with_a_clear_message(client, db):
    answer = upload(client, b"\x89PNG\r\n\x1a\nnot a pdf", name="report.pdf")
    assert answer.status_code == 400
    assert "The file is not a PDF" in answer.content.decode()


def test_a_file_over_the_limit_is_refused_with_a_clear_message(client, db, settings):
    settings.VERIFY_MAX_BYTES = 1024 * 1024
    answer = upload(client, b"%PDF-1.4\n" + b"0" * (1024 * 1024))
    assert answer.status_code == 400
    assert "The file is 1.0 MB; a report PDF checked here may be at most 1 MB." in answer.content.decode()


def test_no_file_is_refused(client, db):
    answer = client.post("/verify/", {})
    assert answer.status_code == 400 and "Choose the report&#x27;s PDF file to verify." in answer.content.decode()


def test_an_upload_without_the_csrf_token_is_refused(run):
    client = Client(enforce_csrf_checks=True)
    assert upload(client, stored(run)).status_code == 403


def test_past_the_limit_an_address_gets_429(client, run, settings):
    settings.VERIFY_RATE_LIMIT = "3/d"  # a day's window: the test never straddles two
    pdf = stored(run)
    for _ in range(3):
        assert upload(client, pdf, REMOTE_ADDR="198.51.100.8").status_code == 200
    refused = upload(client, pdf, REMOTE_ADDR="198.51.100.8")
    assert refused.status_code == 429 and "Too many checks" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 86400
    assert upload(client, pdf, REMOTE_ADDR="203.0.113.10").status_code == 200  # another address
    assert client.get("/verify/", REMOTE_ADDR="198.51.100.8").status_code == 200  # reading the page is not counted
