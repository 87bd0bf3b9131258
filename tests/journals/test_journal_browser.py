"""Finance exports a posted batch's journal from the batch list in a real browser, downloads the CSV,
and downloads the same bytes again from the journal log; the pages pass axe-core."""

from decimal import Decimal

import pytest

from journals.models import JournalExport
from tests.browser import chromium, signed_in_page
from tests.factories import role_user

from .helpers import account_map, posted_batch, rows


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.response["passes"], "axe-core checked nothing"
    return [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in results.response["violations"]]


def test_finance_exports_a_batch_from_the_admin_and_downloads_the_logged_file_again(
    browser, live_server, transactional_db
):
    finance = role_user("Finance", username="browser-journals")
    account_map(currencies=("GBP",))
    batch = posted_batch(amounts=[Decimal("250.00"), Decimal("49.99")], reference="B-12", by=finance)
    csp = []
    context, page = signed_in_page(
        browser, live_server, finance, next_url="/admin/journals/ledgerbatch/", csp_messages=csp, accept_downloads=True
    )
    try:
        assert axe_violations(page) == []
        page.check(f"input.action-select[value='{batch.pk}']")
        page.select_option("select[name=action]", "export_xero")
        with page.expect_download() as download:
            page.click("button[name=index]")
        export = JournalExport.objects.get()
        assert download.value.suggested_filename == export.filename
        with open(download.value.path(), "rb") as stream:
            first = stream.read()
        assert first == bytes(export.content)
        assert [(r["AccountCode"], r["Amount"]) for r in rows(first)] == [("4000", "-299.99"), ("1200", "299.99")]
        assert {r["Narration"] for r in rows(first)} == {f"{export.entries.get().number} Donation batch B-12"}

        page.goto(f"{live_server.url}/admin/journals/journalexport/")
        assert axe_violations(page) == []
        with page.expect_download() as again:
            page.click(f"text=Download {export.filename}")
        with open(again.value.path(), "rb") as stream:
            assert stream.read() == first

        page.click("#journal-export-link")
        page.wait_for_load_state()
        assert axe_violations(page) == []
        page.select_option("#id_format", "generic")
        page.click("#journal-export-submit")
        page.wait_for_load_state()
        assert "Nothing to export" in page.inner_text("#export-errors")
        assert JournalExport.objects.count() == 1
        assert csp == []
    finally:
        context.close()
