"""The send-preview flow in a real browser: the reports page, the choice of donors, the preview with
its sample PDF, the confirmation, and the message that says what happened; axe-core on the way."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from delivery.models import Delivery
from tests.browser import chromium, signed_in_page
from tests.delivery.conftest import donor_with_gift
from tests.factories import role_user


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def violations(checker, url: str, region: str) -> list[str]:
    """axe-core's findings in `region` of `url` (the page's own part; the admin's frame is checked with
    the admin). On a page of its own: axe-core sets inline styles as it works, which the page's
    Content Security Policy refuses, and those refusals are not the page's."""
    checker.goto(url)
    results = Axe().run(checker, context=region)
    return [f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']]})" for v in results.response["violations"]]


def test_preview_sample_confirm_and_a_truthful_message(browser, live_server, transactional_db, smtp, eager_celery):
    donors = [donor_with_gift(reporting=2, silent=1, ref="DON-0201"), donor_with_gift(reporting=1, ref="DON-0202")]
    csp = []
    context, page = signed_in_page(
        browser, live_server, role_user("Finance", username="browser-finance"), next_url="/reports/", csp_messages=csp
    )
    checker = context.new_page()
    try:
        assert violations(checker, page.url, "#summaries-panel") == []
        page.fill("#id_summaries_start", "2025-01-01")
        page.fill("#id_summaries_end", "2025-12-31")
        page.get_by_label("Every donor with posted donations in the period").check()
        page.get_by_role("button", name="Preview").click()
        page.wait_for_url("**/reports/summaries/preview/**")

        assert page.locator("#preview-count").inner_text().startswith("2 donor summaries to 3 contacts.")
        table = page.locator("#preview-table").inner_text()
        for donor in donors:
            assert f"{donor.ref} {donor.name}" in table
            for contact in donor.contacts.filter(receives_reports=True):
                assert f"<{contact.email}>: will be sent" in table
        assert violations(checker, page.url, "#content") == []
        assert smtp.messages == [] and not Delivery.objects.exists()

        # The sample opens in a new tab, and is a PDF.
        sample = page.locator("#sample-pdf")
        assert sample.get_attribute("target") == "_blank"
        with context.expect_page() as opened:
            sample.click()
        tab = opened.value
        response = context.request.get(sample.evaluate("a => a.href"))
        assert response.headers["content-type"] == "application/pdf" and response.body().startswith(b"%PDF")
        assert "/reports/summaries/sample/" in tab.url
        tab.close()
        assert smtp.messages == []

        page.get_by_role("button", name="Send 2 reports to 3 contacts").click()
        page.wait_for_url("**/reports/?summaries=2025-01-01_2025-12-31")
        said = page.locator(".messagelist").inner_text()
        assert "Queued 2 donor summaries for 1 Jan 2025 to 31 Dec 2025 to 3 contacts" in said
        assert len(smtp.messages) == 3
        assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 3

        # Back to the preview: it is made again, and there is nothing new to send, nor a button to send it.
        page.go_back()
        page.wait_for_url("**/reports/summaries/preview/**")
        assert "Nothing new to send" in page.locator("#nothing-to-send").inner_text()
        assert "3 contacts already sent this period's summary" in page.locator("#preview-skipped").inner_text()
        assert page.locator("#confirm-form").count() == 0
        assert len(smtp.messages) == 3
        assert violations(checker, page.url, "#content") == []
        assert csp == []
    finally:
        context.close()
