"""Posting and reversing a donation from its page, in a real browser: the confirmation pages show
what will happen, pass axe-core, and the console reports no Content Security Policy violation."""

import datetime as dt
from decimal import Decimal

import pytest

from backoffice.admin_tools import money
from donors.models import Donation
from tests.browser import chromium, signed_in_page
from tests.factories import DonationFactory, InstalmentFactory, PledgeFactory, RateFactory, role_user


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def assert_accessible(page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.response["passes"], "axe-core checked nothing"
    assert results.violations_count == 0, results.generate_report()


def test_finance_posts_a_draft_from_its_page_then_reverses_it_with_a_reason(browser, live_server, transactional_db):
    RateFactory(currency="USD", date=dt.date(2025, 2, 1), rate=Decimal("0.79"), source="ECB")
    RateFactory(currency="EUR", date=dt.date(2025, 2, 1), rate=Decimal("0.85"), source="ECB")
    pledge = PledgeFactory(ref="PLG-0042", title="Core support", currency="EUR", total=Decimal("1000.00"))
    instalment = InstalmentFactory(pledge=pledge, due_date=dt.date(2025, 1, 1), amount=Decimal("1000.00"))
    draft = DonationFactory(
        reference="BANK-USD-1",
        donor=pledge.donor,
        pledge=pledge,
        instalment=instalment,
        amount=Decimal("1234.56"),
        currency="USD",
    )
    user = role_user("Finance", username="browser-poster")
    violations = []
    change = f"/admin/donors/donation/{draft.pk}/change/"
    context, page = signed_in_page(browser, live_server, user, next_url=change, csp_messages=violations)
    try:
        assert "counts in no figure until it is posted" in page.inner_text("#draft-hint")
        page.click("#donation-post")
        page.wait_for_load_state()
        figures = page.inner_text("#posting-figures")
        for shown in (
            money(Decimal("1234.56"), "USD"),
            "1 USD = 0.79 GBP",
            "2025-02-01 (source: ECB)",
            money(Decimal("975.30"), "GBP"),
            "PLG-0042: Core support",
            "Due 2025-01-01",
            money(Decimal("1147.41"), "EUR"),
        ):
            assert shown in figures, shown
        assert_accessible(page)
        page.click("text=Confirm: post this donation")
        page.wait_for_load_state()
        assert "Donation BANK-USD-1 posted" in page.inner_text(".messagelist")
        draft.refresh_from_db()
        assert draft.is_posted and draft.base_amount == Decimal("975.30")

        page.click("#donation-reverse")
        page.wait_for_load_state()
        assert money(Decimal("-1234.56"), "USD") in page.inner_text("#reversal-figures")
        assert_accessible(page)
        page.fill("textarea[name=reason]", "Bank recall: account closed")
        page.click("text=Confirm: reverse")
        page.wait_for_load_state()
        assert "reversed by BANK-USD-1-REV" in page.inner_text(".messagelist")
        assert "Reason: Bank recall: account closed" in page.inner_text("body")
        assert Donation.objects.get(reversal_of=draft).reversal_reason == "Bank recall: account closed"
        assert violations == []
    finally:
        context.close()
