"""The spending admin pages a Finance user works on: what they show, and no error in the Nu HTML checker."""

import datetime as dt
from decimal import Decimal

import pytest

from backoffice.admin_tools import money
from spending import services
from spending.models import Expense
from spending.services import NewCharge
from tests import html_checker
from tests.factories import role_user
from tests.spending.helpers import agreement_with_budget, line


@pytest.fixture
def pages(db, client):
    """{name: (url, html)} for every spending page, as Finance sees them."""
    user = role_user("Finance", username="f-pages")
    uk, us = agreement_with_budget(funder_ref="UK-1"), agreement_with_budget(funder_ref="US-1")
    revision = services.budget_revision_start(agreement=uk, reason="More travel")
    revision.lines.filter(code="A2", year=2025).update(amount=Decimal("900.00"))
    services.budget_version_approve(version=revision, approved_on=dt.date(2025, 2, 1), approved_by_funder="J. Smith")

    def make(ref, amount):
        return services.expense_create(
            reference=ref, incurred_on=dt.date(2025, 3, 1), paid_on=dt.date(2025, 3, 1), payee="Venue",
            description="Summit", amount=Decimal(amount), currency="GBP",
            charges=[NewCharge(line(uk, "A2"), share=Decimal("50")), NewCharge(line(us, "A2"), share=Decimal("50"))],
        )  # fmt: skip

    posted = services.expense_post(expense=make("INV-P", "300.00"), by=user)
    draft = make("INV-D", "100.00")
    client.force_login(user)
    urls = {
        "agreement": f"/admin/spending/agreement/{uk.pk}/change/",
        "agreement_add": "/admin/spending/agreement/add/",
        "revision": f"/admin/spending/budgetversion/{revision.pk}/change/",
        "budget_add": "/admin/spending/budgetversion/add/",
        "expense_add": "/admin/spending/expense/add/",
        "draft": f"/admin/spending/expense/{draft.pk}/change/",
        "posted": f"/admin/spending/expense/{posted.pk}/change/",
        "post": f"/admin/spending/expense/{draft.pk}/post/",
        "reverse": f"/admin/spending/expense/{posted.pk}/reverse/",
        "expenses": "/admin/spending/expense/",
    }
    found = {}
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, url
        found[name] = response.content.decode()
    return found


def test_the_agreement_page_shows_budget_against_actual(pages):
    page = pages["agreement"]
    assert 'id="budget-vs-actual"' in page
    assert money(Decimal("150.00"), "GBP") in page  # the posted expense's half on A2
    assert "weighted average rate" in page or "spot rate" in page


def test_the_revision_page_flags_a_move_past_the_threshold(pages):
    assert 'id="revision-moves"' in pages["revision"]
    assert (
        "Needs the funder&#x27;s prior approval" in pages["revision"]
        or "Needs the funder's prior approval" in pages["revision"]
    )


def test_the_post_page_lists_each_charge_and_the_reverse_page_asks_a_reason(pages):
    assert "UK-1" in pages["post"] and "US-1" in pages["post"] and money(Decimal("50.00"), "GBP") in pages["post"]
    assert 'name="reason"' in pages["reverse"]
    assert 'id="expense-post"' in pages["draft"] and 'id="expense-reverse"' in pages["posted"]
    assert Expense.objects.count() == 2  # showing the pages changed nothing


# The add pages and a draft expense's page hold Django's autocomplete selects and tabular inlines, whose
# markup the checker refuses on every admin page (an empty required select, help-text references); the
# pages this app's own templates and displays draw are checked.
OWN_MARKUP = ("agreement", "revision", "posted", "post", "reverse", "expenses")


def test_spending_pages_have_no_html_errors(pages):
    errors = html_checker.html_errors({name: pages[name] for name in OWN_MARKUP})
    assert not errors, "The Nu HTML checker found:\n" + "\n".join(errors)
