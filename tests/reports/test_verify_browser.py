"""/verify/ in Chromium, as anyone (no login): a genuine PDF is genuine, the same PDF with one byte
changed is not, and axe-core finds no violation on the page, empty or answering."""

import pytest

from reports.models import ReportRun
from reports.services import report_run_generate, report_run_request
from tests.browser import chromium
from tests.delivery.conftest import END, START, donor_with_gift

from .test_verify_report import altered, stored

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    return [f"{v['id']}: {v['help']}" for v in Axe().run(page).response["violations"]]


def test_a_genuine_pdf_is_genuine_and_a_changed_one_is_not(browser, live_server, tmp_path):
    donor = donor_with_gift(name="Ministry of Example Affairs")
    run = report_run_request(kind="donor_summary", donor=donor, start=START, end=END)
    run = report_run_generate(run_id=run.pk)
    assert run.status == ReportRun.Status.DONE, run.error
    genuine, changed = tmp_path / "summary.pdf", tmp_path / "summary-changed.pdf"
    genuine.write_bytes(stored(run))
    changed.write_bytes(altered(stored(run)))

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{live_server.url}/verify/")
    assert page.get_by_role("heading", name="Verify a report").is_visible()
    assert axe_violations(page) == []

    page.get_by_label("Report PDF").set_input_files(str(genuine))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    result = page.get_by_role("status")
    assert result.get_by_role("heading").inner_text() == "Genuine"
    assert "Donor summary" in result.inner_text() and run.snapshot_sha256 in result.inner_text()
    assert run.donor.name not in page.content()
    assert axe_violations(page) == []

    page.get_by_label("Report PDF").set_input_files(str(changed))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    result = page.get_by_role("status")
    assert result.get_by_role("heading").inner_text() == "Not genuine"
    assert "changed since it was made" in result.inner_text()
    assert axe_violations(page) == []
    context.close()
