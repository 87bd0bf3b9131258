"""The donation form in a real browser (Debian's Chromium through Playwright): once a donor is
chosen, the pledge picker offers only that donor's pledges."""

import json

import pytest

from tests.browser import chromium, signed_in_page
from tests.factories import DonorFactory, PledgeFactory, role_user


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def choose(page, field: str, search: str, option: str) -> None:
    page.click(f".field-{field} .select2-selection")
    page.fill(".select2-container--open .select2-search__field", search)
    page.click(f".select2-results__option:text-is('{option}')")


def offered(page, field: str) -> list[str]:
    """What the picker offers once its search has answered."""
    with page.expect_response(lambda r: "/admin/autocomplete/" in r.url and f"field_name={field}" in r.url):
        page.click(f".field-{field} .select2-selection")
    page.wait_for_selector(".select2-results__option.loading-results", state="detached")
    texts = page.locator(".select2-results__option").all_inner_texts()
    page.keyboard.press("Escape")
    return texts


def test_the_pledge_picker_follows_the_chosen_donor(browser, live_server, transactional_db):
    from axe_playwright_python.sync_playwright import Axe

    ministry, foundation = DonorFactory(name="Ministry of Justice"), DonorFactory(name="Oak Foundation")
    PledgeFactory(ref="PLG-0001", donor=ministry, title="Hotline")
    PledgeFactory(ref="PLG-0002", donor=ministry, title="Summit")
    PledgeFactory(ref="PLG-0003", donor=foundation, title="Research")
    csp = []
    context, page = signed_in_page(
        browser, live_server, role_user("Finance"), next_url="/admin/donors/donation/add/", csp_messages=csp
    )
    try:
        assert offered(page, "pledge") == ["PLG-0001: Hotline", "PLG-0002: Summit", "PLG-0003: Research"]
        choose(page, "donor", "oak", str(foundation))
        assert offered(page, "pledge") == ["PLG-0003: Research"]
        choose(page, "pledge", "", "PLG-0003: Research")
        choose(page, "donor", "ministry", str(ministry))
        # Another donor: the pledge chosen for the first is cleared, and only the new donor's are offered.
        assert page.locator("#id_pledge").input_value() == ""
        assert offered(page, "pledge") == ["PLG-0001: Hotline", "PLG-0002: Summit"]
        assert csp == []
        violations = Axe().run(page).response["violations"]
        assert violations == [], json.dumps(violations, indent=1)
    finally:
        context.close()
