import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from reportlab.pdfgen.canvas import Canvas

from donors.models import Donor
from reports.figures import donor_summary_snapshot
from reports.models import ReportRun
from reports.renderers import render
from reports.services import report_run_generate, report_run_request

from .conftest import END, START


@pytest.fixture
def run(demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = report_run_request(kind="donor_summary", donor=Donor.objects.get(ref="DON-0002"), start=START, end=END)
    run.refresh_from_db()
    assert run.status == ReportRun.Status.DONE, run.error
    return run


def stored(run) -> bytes:
    with run.pdf.open("rb") as f:
        return f.read()


def verify(path):
    out = io.StringIO()
    call_command("verify_report", str(path), stdout=out)
    return out.getvalue()


def test_it_accepts_the_pdf_it_made(run, tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(stored(run))
    assert f"Matches run {run.pk}" in verify(path)
    assert run.fingerprint in path.read_bytes().decode("latin-1") or run.snapshot_sha256 in verify(path)


def test_it_rejects_a_copy_with_one_byte_changed(run, tmp_path):
    pdf = bytearray(stored(run))
    position = pdf.index(b"/Length") - 20  # inside the page content, not the metadata
    pdf[position] = (pdf[position] + 1) % 256
    path = tmp_path / "altered.pdf"
    path.write_bytes(bytes(pdf))
    with pytest.raises(CommandError, match="NOT VERIFIED: The file differs") as caught:
        verify(path)
    assert caught.value.returncode == 1


def test_it_rejects_an_unknown_report(run, tmp_path):
    other = donor_summary_snapshot(donor=Donor.objects.get(ref="DON-0005"), start=START, end=END)
    path = tmp_path / "unknown.pdf"
    path.write_bytes(render(other))
    with pytest.raises(CommandError, match="unknown report") as caught:
        verify(path)
    assert caught.value.returncode == 2


def test_it_rejects_a_pdf_that_is_not_a_fundtrace_report(db, tmp_path):
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.drawString(100, 100, "Hello")
    canvas.save()
    path = tmp_path / "foreign.pdf"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CommandError, match="not a Fundtrace report") as caught:
        verify(path)
    assert caught.value.returncode == 2


def test_pdf_carries_fingerprint_on_every_page_and_full_sha_in_metadata(run):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(stored(run)))
    assert run.snapshot_sha256 in reader.metadata["/Subject"]
    total = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"Fingerprint {run.fingerprint}" in text
        assert f"Page {number} of {total}" in text


def test_generating_twice_changes_nothing(run):
    before = (run.snapshot_sha256, run.pdf.name, run.finished_at)
    again = report_run_generate(run_id=run.pk)
    assert (again.snapshot_sha256, again.pdf.name, again.finished_at) == before
    assert ReportRun.objects.count() == 1


def test_snapshot_is_canonical_json_with_money_as_strings(run):
    from reports.snapshot import canonical_json, snapshot_sha256

    assert snapshot_sha256(run.snapshot) == run.snapshot_sha256
    assert canonical_json(run.snapshot).startswith(b'{"base_currency":"GBP"')
    f = run.snapshot["figures"][0]
    assert isinstance(f["value"]["amount"], str) and f["value"]["currency"] == "GBP"


def test_a_run_drawn_by_an_older_renderer_still_verifies(demo, django_capture_on_commit_callbacks, tmp_path):
    """After a renderer change the stored snapshot no longer renders to an old PDF; its recorded SHA-256 vouches."""
    import reports.services
    from reports.renderers import RENDERER_VERSION
    from reports.renderers.base import ReportRenderer

    with pytest.MonkeyPatch.context() as older:  # the renderer as it was: other margins, an earlier version
        older.setattr(ReportRenderer, "margin", ReportRenderer.margin + 7)
        older.setattr(reports.services, "RENDERER_VERSION", RENDERER_VERSION - 1)
        with django_capture_on_commit_callbacks(execute=True):
            run = report_run_request(
                kind="donor_summary", donor=Donor.objects.get(ref="DON-0002"), start=START, end=END
            )
    run.refresh_from_db()
    assert run.status == ReportRun.Status.DONE, run.error
    assert run.renderer_version == RENDERER_VERSION - 1
    old = stored(run)
    assert render(run.snapshot) != old  # today's renderer draws the same snapshot differently

    path = tmp_path / "old.pdf"
    path.write_bytes(old)
    assert f"Matches run {run.pk}" in verify(path)

    altered = bytearray(old)
    position = altered.index(b"/Length") - 20
    altered[position] = (altered[position] + 1) % 256
    path.write_bytes(bytes(altered))
    with pytest.raises(CommandError, match="NOT VERIFIED: The file differs"):
        verify(path)


def test_runs_record_the_renderer_version(run):
    from reports.renderers import RENDERER_VERSION

    assert run.renderer_version == RENDERER_VERSION
    assert f"renderer {RENDERER_VERSION}" in stored(run).decode("latin-1")


def test_the_renderer_version_names_the_reportlab_release_it_draws_with():
    """Upgrading reportlab may change every PDF's bytes: bump RENDERER_VERSION with it."""
    import reportlab

    from reports.renderers.base import RENDERED_WITH_REPORTLAB

    assert reportlab.Version == RENDERED_WITH_REPORTLAB, (
        f"reportlab is {reportlab.Version}, but RENDERER_VERSION was drawn with {RENDERED_WITH_REPORTLAB}: "
        "bump RENDERER_VERSION and RENDERED_WITH_REPORTLAB together"
    )
