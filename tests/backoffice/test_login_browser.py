"""In Chromium: a bookmark to a page behind login leads to the sign-in page and, once signed in, back to it;
a page the role may not open explains itself and offers the way on."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser import chromium
from tests.factories import PASSWORD, role_user


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    yield context.new_page()
    context.close()


def sign_in(page, username):
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def test_a_bookmarked_dashboard_leads_through_the_login_page_back_to_the_dashboard(page, live_server):
    role_user("Leadership")
    response = page.goto(f"{live_server.url}/dashboard/?start=2025-01-01&end=2025-06-30")
    assert response.status == 200
    assert page.url == f"{live_server.url}/admin/login/?next=/dashboard/%3Fstart%3D2025-01-01%26end%3D2025-06-30"
    assert page.title() == "Log in | Fundtrace"
    sign_in(page, "leadership")
    assert page.url == f"{live_server.url}/dashboard/?start=2025-01-01&end=2025-06-30"
    assert page.get_by_role("heading", name="Funding portfolio").is_visible()
    nav = page.get_by_role("navigation", name="Fundtrace")
    assert nav.get_by_role("link").all_inner_texts() == ["Back office", "Dashboard", "Reports"]
    nav.get_by_role("link", name="Reports").click()
    assert page.url == f"{live_server.url}/reports/"
    assert page.get_by_role("heading", name="Reports", exact=True).is_visible()


def test_a_refused_page_explains_itself_and_leads_on(page, live_server):
    role_user("Programme")
    page.goto(f"{live_server.url}/dashboard/")
    sign_in(page, "programme")
    assert page.url == f"{live_server.url}/dashboard/"
    refusal = page.locator("#refusal")
    assert "The funding dashboard shows" in refusal.inner_text()
    assert "open to the Finance, Leadership and Auditor roles" in refusal.inner_text()
    # What the refusal and the navigation add to a page passes axe-core.
    found = Axe().run(page, context={"include": [["#refusal"], ['nav[aria-label="Fundtrace"]']]})
    assert found.response["violations"] == [], found.generate_report()
    refusal.get_by_role("link", name="Back office").click()
    assert page.url == f"{live_server.url}/admin/"
    assert page.get_by_role("navigation", name="Fundtrace").get_by_role("link").all_inner_texts() == ["Back office"]
