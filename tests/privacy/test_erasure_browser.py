"""An erasure in Chromium: one Finance user asks from the individual donor's page, a Leadership user
approves on the request's page, and the result shows the pseudonym and what was erased."""

import pytest

from backoffice import roles
from donors.models import Donor
from privacy.models import ErasureRequest
from tests.browser import chromium, signed_in_page
from tests.factories import ContactFactory, DonorFactory, role_user


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def assert_accessible(page, violations):
    """No Content Security Policy violation on the page as loaded, and none of axe-core's rules broken
    (axe's own injected styles then trip the policy: those messages are dropped)."""
    from axe_playwright_python.sync_playwright import Axe

    assert violations == [], page.url
    results = Axe().run(page)
    assert results.response["passes"], "axe-core checked nothing"
    assert results.violations_count == 0, results.generate_report()
    violations.clear()


def test_one_user_asks_another_approves_and_the_person_is_erased(browser, live_server, transactional_db):
    donor = DonorFactory(name="Perpetua Hollowell", kind=Donor.Kind.INDIVIDUAL)
    ContactFactory(donor=donor, name="Perpetua Hollowell", email="perpetua@example.net")
    asker, approver = role_user(roles.FINANCE, "browser-asker"), role_user(roles.LEADERSHIP, "browser-approver")
    violations = []
    context, page = signed_in_page(
        browser, live_server, asker, next_url=f"/admin/donors/donor/{donor.pk}/change/", csp_messages=violations
    )
    try:
        page.click("#erase-person")
        page.wait_for_load_state()
        assert "Perpetua Hollowell" in page.inner_text("#erasure-preview")
        assert_accessible(page, violations)
        page.fill("#id_reason", "Asked by email on 1 December")
        page.click("#erasure-ask input[type=submit]")
        page.wait_for_load_state()
        assert page.inner_text("#erasure-status") == "Waiting for approval"
        assert "You asked for this erasure" in page.inner_text("#erasure-waiting")
        assert page.locator("#erasure-approve").count() == 0
        request_url = page.url
    finally:
        context.close()
    erasure = ErasureRequest.objects.get()
    assert request_url.endswith(f"/privacy/erasure/{erasure.pk}/")
    context, page = signed_in_page(
        browser, live_server, approver, next_url=f"/privacy/erasure/{erasure.pk}/", csp_messages=violations
    )
    try:
        assert "Perpetua Hollowell" in page.inner_text("#erasure-preview")
        assert_accessible(page, violations)
        page.click("#erasure-approve input[type=submit]")
        page.wait_for_load_state()
        label = f"Erased donor {donor.pk:04d}"
        assert page.inner_text("#erasure-status") == "Erased"
        assert f"Erased: the person is now “{label}”." in page.inner_text("body")
        result = page.inner_text("#erasure-result")
        assert "Contacts\t1" in result and "Donors\t1" in result
        assert "Perpetua Hollowell" not in page.content()
        assert "browser-asker" in page.inner_text("#erasure-request")
        assert_accessible(page, violations)
    finally:
        context.close()
    assert Donor.objects.get(pk=donor.pk).name == label
