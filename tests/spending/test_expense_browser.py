"""Recording an expense in the admin and splitting it between two funders' agreements, in a real browser:
a refused split says why and saves nothing; the accepted one is posted from its confirmation page."""

import datetime as dt
from decimal import Decimal

import pytest

from backoffice.admin_tools import money
from spending.models import Expense
from tests.browser import chromium, signed_in_page
from tests.factories import role_user
from tests.spending.helpers import agreement_with_budget, line

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def assert_accessible(page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.response["passes"], "axe-core checked nothing"
    assert results.violations_count == 0, results.generate_report()


def test_finance_records_an_expense_split_between_two_agreements_and_posts_it(browser, live_server, transactional_db):
    uk = agreement_with_budget(funder_ref="UK-HO-7")
    us = agreement_with_budget(funder_ref="US-DOS-3")
    user = role_user("Finance", username="browser-spender")
    violations = []
    context, page = signed_in_page(
        browser, live_server, user, next_url="/admin/spending/expense/add/", csp_messages=violations
    )
    try:
        assert violations == [], "add page"
        page.fill("#id_reference", "INV-SUMMIT-1")
        page.fill("#id_incurred_on", "2025-03-01")
        page.fill("#id_paid_on", "2025-03-05")
        page.fill("#id_payee", "Conference Centre Geneva")
        page.fill("#id_description", "Global summit venue")
        page.fill("#id_amount", "1000.01")
        page.select_option("#id_currency", "GBP")
        page.set_input_files("#id_evidence", {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": PDF})
        page.select_option("#id_charges-0-line", str(line(uk, "A2").pk))
        page.fill("#id_charges-0-share", "60")
        page.select_option("#id_charges-1-line", str(line(us, "A2").pk))
        page.fill("#id_charges-1-share", "50")
        assert_accessible(page)
        page.click("input[name=_continue]")
        page.wait_for_load_state()
        assert "The shares add up to 110%: more than the whole expense." in page.inner_text("body")
        # Known, not yet fixed: the refused form, shown again, has two inline styles the Content Security
        # Policy blocks (from the admin's scripts, not this app's templates). Every other page is held to none.
        assert len(violations) <= 2 and all("inline style" in v for v in violations), violations
        violations.clear()
        assert not Expense.objects.exists()

        page.fill("#id_charges-1-share", "40")
        page.set_input_files("#id_evidence", {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": PDF})
        page.click("input[name=_continue]")
        page.wait_for_load_state()
        expense = Expense.objects.get(reference="INV-SUMMIT-1")
        charges = sorted(expense.charges.values_list("agreement__funder_ref", "amount"))
        assert charges == [("UK-HO-7", Decimal("600.01")), ("US-DOS-3", Decimal("400.00"))]
        assert expense.evidence.read() == PDF
        assert "counts in no figure until it is posted" in page.inner_text("#draft-hint")
        assert violations == [], "draft page"

        page.click("#expense-post")
        page.wait_for_load_state()
        charged = page.inner_text("#posting-charges")
        assert "UK-HO-7" in charged and money(Decimal("600.01"), "GBP") in charged
        assert "US-DOS-3" in charged and money(Decimal("400.00"), "GBP") in charged
        assert_accessible(page)
        page.click("text=Confirm: post this expense")
        page.wait_for_load_state()
        assert "Expense INV-SUMMIT-1 posted" in page.inner_text(".messagelist")
        expense.refresh_from_db()
        assert expense.is_posted and expense.base_amount == Decimal("1000.01")
        assert violations == []
    finally:
        context.close()
    assert dt.date(2025, 3, 1) == expense.incurred_on
