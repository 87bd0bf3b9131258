"""Leadership exports the IATI files from the reports page in a real browser and downloads the ZIP."""

import io
import zipfile

import pytest

from iati.models import IatiExport
from iati.services import ACTIVITIES_FILE, ORGANISATION_FILE
from iati.validation import schema_errors
from tests.browser import chromium, signed_in_page
from tests.factories import role_user
from tests.iati.ledger import small_ledger


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def test_leadership_starts_the_export_on_the_reports_page_and_downloads_the_zip(
    browser, live_server, transactional_db, celery_worker_if_brokered, tmp_path
):
    small_ledger(role_user("Finance", username="ledger-keeper"))
    user = role_user("Leadership", username="browser-leader")
    violations = []
    context, page = signed_in_page(
        browser, live_server, user, next_url="/reports/", csp_messages=violations, accept_downloads=True
    )
    try:
        assert page.locator("h2", has_text="IATI publishing").count() == 1
        assert page.get_by_text("No IATI exports yet.").count() == 1
        page.click("input[value='Export IATI files']")
        page.wait_for_load_state()
        assert "IATI export #" in page.inner_text(".messagelist")
        download_link = page.get_by_role("link", name="Download ZIP")
        for _ in range(100):  # the worker makes the files; the page shows the link once they are ready
            if download_link.count():
                break
            page.wait_for_timeout(100)
            page.reload()
        export = IatiExport.objects.get()
        assert export.status == IatiExport.Status.DONE, export.error
        with page.expect_download() as info:
            download_link.click()
        download = info.value
        assert download.suggested_filename == export.filename
        download.save_as(tmp_path / "iati.zip")
        data = (tmp_path / "iati.zip").read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert sorted(archive.namelist()) == [ACTIVITIES_FILE, ORGANISATION_FILE]
            assert schema_errors("activities", archive.read(ACTIVITIES_FILE)) == []
            assert schema_errors("organisation", archive.read(ORGANISATION_FILE)) == []
            assert b"Ministry of Example" in archive.read(ACTIVITIES_FILE)
        assert violations == []
    finally:
        context.close()
