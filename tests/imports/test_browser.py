"""The import-error flow in a real browser: upload a bad file, read the errors without hovering,
download them as CSV; the import pages pass axe-core."""

import pytest

from tests.browser import chromium, signed_in_page
from tests.factories import DonorFactory, role_user
from transfers.models import ImportJob

from .conftest import HEADER

BAD = HEADER + "BANK-1,DON-9,2025-03-02,5.00,GBP,,,,\nBANK-2,DON-0001,03/04/2025,7.00,GBP,,,,\n"


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def axe_violations(page, csp: list) -> list[str]:
    """axe-core's findings on the page. The page itself has broken no Content Security Policy
    rule so far; axe's own injected styles do, and are forgotten."""
    from axe_playwright_python.sync_playwright import Axe

    assert csp == []
    results = Axe().run(page)
    csp.clear()
    return [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in results.response["violations"]]


def test_a_bad_file_shows_its_errors_as_a_table_and_downloads_them(browser, live_server, transactional_db):
    DonorFactory(ref="DON-0001")
    user = role_user("Finance", username="browser-importer")
    csp = []
    context, page = signed_in_page(
        browser, live_server, user, next_url="/admin/donors/donation/import/", csp_messages=csp, accept_downloads=True
    )
    try:
        assert page.locator("#import-columns").is_visible()
        assert axe_violations(page, csp) == []

        page.set_input_files(
            "#id_import_file", files=[{"name": "march.csv", "mimeType": "text/csv", "buffer": BAD.encode()}]
        )
        page.select_option("#id_format", label="csv")
        page.click("input[type=submit]")
        page.wait_for_load_state()

        table = page.locator("#import-errors")
        assert table.is_visible()
        rows = table.locator("tbody tr")
        assert [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())] == [
            ["2", "donor_ref", "DON-9", "There is no donor with reference 'DON-9'."],
            ["3", "received_on", "03/04/2025", "'03/04/2025' is not a date in the form YYYY-MM-DD."],
        ]
        # Readable as the page loads: nothing to hover over, nothing hidden.
        assert page.get_by_text("There is no donor with reference 'DON-9'.").is_visible()
        assert axe_violations(page, csp) == []

        with page.expect_download() as download:
            page.click("#import-errors-download")
        assert download.value.suggested_filename == "march-errors.csv"
        with open(download.value.path(), "rb") as stream:
            assert stream.read() == (
                b"line,column,value,message\r\n"
                b"2,donor_ref,DON-9,There is no donor with reference 'DON-9'.\r\n"
                b"3,received_on,03/04/2025,'03/04/2025' is not a date in the form YYYY-MM-DD.\r\n"
            )

        job = ImportJob.objects.get()
        page.goto(f"{live_server.url}/admin/transfers/importjob/{job.pk}/change/")
        assert page.locator("#import-errors tbody tr").count() == 2
        assert axe_violations(page, csp) == []
    finally:
        context.close()
