"""The admin under the site-wide Content-Security-Policy, in a real browser: its scripts run, its forms
save, and the console reports no violation (Debian's Chromium driven by Playwright against live_server)."""

import pytest

from donors.models import Donor
from tests.browser import chromium, signed_in_page
from tests.factories import DonorFactory, role_user


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def finance_page(browser, live_server, transactional_db):
    """A signed-in Finance page, and the Content Security Policy messages its console received."""
    user = role_user("Finance", username="browser-finance")
    violations = []
    context, page = signed_in_page(browser, live_server, user, next_url="/admin/", csp_messages=violations)
    yield page, violations
    context.close()


def test_the_change_page_runs_its_scripts_and_saves_with_no_violation(finance_page, live_server):
    page, violations = finance_page
    donor = DonorFactory(name="Oakridge Foundation")
    response = page.goto(f"{live_server.url}/admin/donors/donor/{donor.pk}/change/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    # The admin's scripts ran: its translation catalogue (a view) and its jQuery (a static file).
    assert page.evaluate("[typeof gettext, typeof django.jQuery]") == ["function", "function"]
    page.fill("#id_notes", "Met at the regional summit.")
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    assert page.locator(".messagelist .success").count() == 1
    donor.refresh_from_db()
    assert donor.notes == "Met at the regional summit."
    assert Donor.objects.filter(name="Oakridge Foundation").count() == 1
    assert violations == []


def test_the_export_page_select_all_works_with_no_violation(finance_page, live_server):
    # django-import-export's template has an inline onchange handler and style attributes, allowed by hash.
    page, violations = finance_page
    response = page.goto(f"{live_server.url}/admin/donors/donor/export/")
    assert "script-src-attr 'unsafe-hashes' 'sha256-" in response.headers["content-security-policy"]
    fields = page.locator(".selectable-field-export-row input[type=checkbox]")
    assert fields.count() > 1 and all(fields.nth(i).is_checked() for i in range(fields.count()))
    page.locator("input.select-toggle").first.uncheck()
    assert not any(fields.nth(i).is_checked() for i in range(fields.count()))
    assert page.locator("label[for=select-all-toggle]").evaluate("e => getComputedStyle(e).fontWeight") == "700"
    assert violations == []
