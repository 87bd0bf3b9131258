import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from reportlab.pdfgen.canvas import Canvas

from donors.models import Donor
from reports.figures import donor_summary_snapshot, report_voice
from reports.models import ReportRun
from reports.renderers import RENDERER_VERSION, render
from reports.services import report_run_generate, report_run_request
from reports.snapshot import snapshot_sha256

from .conftest import END, START

DATA = Path(__file__).resolve().parent / "data"


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


def recorded(snapshot: dict, pdf: bytes, version: int) -> ReportRun:
    """A done run of `snapshot` whose stored PDF is `pdf`, drawn by renderer `version`."""
    run = ReportRun(
        kind="donor_summary",
        donor=Donor.objects.get(ref=snapshot["donor"]["ref"]),
        period_start=START,
        period_end=END,
        status=ReportRun.Status.DONE,
        snapshot=snapshot,
        snapshot_sha256=snapshot_sha256(snapshot),
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        renderer_version=version,
        finished_at=timezone.now(),
    )
    run.pdf.save(f"{run.snapshot_sha256[:12]}.pdf", ContentFile(pdf), save=False)
    run.save()
    return run


def altered(pdf: bytes) -> bytes:
    changed = bytearray(pdf)
    position = changed.index(b"/Length") - 20  # inside the page content, not the metadata
    changed[position] = (changed[position] + 1) % 256
    return bytes(changed)


def test_it_accepts_the_pdf_it_made(run, tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(stored(run))
    assert f"Matches run {run.pk}" in verify(path)
    assert run.fingerprint in path.read_bytes().decode("latin-1") or run.snapshot_sha256 in verify(path)


def test_it_rejects_a_copy_with_one_byte_changed(run, tmp_path):
    path = tmp_path / "altered.pdf"
    path.write_bytes(altered(stored(run)))
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


def test_pdf_points_to_the_verify_page_with_its_fingerprint_on_every_page_and_full_sha_in_metadata(run):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(stored(run)))
    assert run.snapshot_sha256 in reader.metadata["/Subject"]
    total = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"Verify this report at http://testserver/verify/ — fingerprint {run.fingerprint}" in text
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


@pytest.mark.parametrize("version", [3, 4, 5, 6, 7])
def test_a_pdf_made_by_an_older_renderer_still_verifies_beside_one_made_today(demo, tmp_path, version):
    """tests/reports/data holds a snapshot and the PDFs older renderers drew from it: version 3
    (reportlab 4.4.10), 4 (reportlab 5.1.0), 5 (shortened chart labels) and 6 (language, bookmarks
    and as-of dates; before the organisation's frame and the impact report's first page); and
    version 7's, from that snapshot with the demo organisation's voice (its frame prints it)."""
    name = "donor_summary_renderer_7.json" if version == 7 else "donor_summary_renderer_3.json"
    snapshot = json.loads((DATA / name).read_text(encoding="utf-8"))
    old = (DATA / f"donor_summary_renderer_{version}.pdf").read_bytes()
    assert f"renderer {version}, sha256:{snapshot_sha256(snapshot)}".encode() in old
    assert version < RENDERER_VERSION
    # Today's snapshots also record the organisation that speaks (renderer 7 prints it).
    today = snapshot | report_voice(internal=False)
    new = render(today)
    assert new != old
    old_run, new_run = recorded(snapshot, old, version), recorded(today, new, RENDERER_VERSION)

    for pdf, run in ((old, old_run), (new, new_run)):
        path = tmp_path / f"run-{run.pk}.pdf"
        path.write_bytes(pdf)
        assert f"VERIFIED: Matches run {run.pk}" in verify(path)
        path.write_bytes(altered(pdf))
        with pytest.raises(CommandError, match="NOT VERIFIED: The file differs from the PDF of run") as caught:
            verify(path)
        assert caught.value.returncode == 1


def test_runs_record_the_renderer_version(run):
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


def test_without_the_sha_in_its_metadata_a_pdf_is_found_by_the_fingerprint_in_its_footer(run):
    from reports.services import report_verify

    pdf = stored(run)
    assert pdf.count(b"sha256:") >= 2  # Subject and Keywords
    stripped = pdf.replace(b"sha256:", b"sha000:")  # same length: the file still reads
    result = report_verify(stripped)
    assert not result.ok and result.run == run
    assert result.reason.startswith(f"The file differs from the PDF of run {run.pk}")
