"""Merging a donor in a real browser: from the review list to the preview (which passes axe-core
and shows what moves), the confirmation, and the merged donor's page leading to the survivor."""

import datetime as dt
from decimal import Decimal

import pytest

from donors import services
from donors.models import DonorMerge
from tests.browser import chromium, signed_in_page
from tests.donors.test_posting_browser import assert_accessible
from tests.factories import ContactFactory, DonationFactory, DonorFactory, PledgeFactory, role_user


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def test_finance_reviews_a_pair_previews_and_merges(browser, live_server, transactional_db):
    survivor = DonorFactory(ref="DON-0001", name="Müller Stiftung GmbH", country="DE", preferred_currency="EUR")
    loser = DonorFactory(ref="DON-0002", name="Mueller Stiftung", country="DE", preferred_currency="EUR")
    ContactFactory(donor=loser, name="Jonas Weber", email="jonas@mueller-stiftung.example.de")
    PledgeFactory(donor=loser, ref="PLG-0007", title="Regional workshops", currency="EUR")
    user = role_user("Finance", username="browser-merger")
    services.donation_post(
        donation=DonationFactory(
            donor=loser, reference="SEPA-1", amount=Decimal("400.00"), received_on=dt.date(2025, 2, 3)
        ),
        by=user,
    )
    violations = []
    context, page = signed_in_page(browser, live_server, user, next_url="/admin/donors/donor/", csp_messages=violations)
    try:
        page.click("#donor-duplicates")
        page.wait_for_load_state()
        pairs = page.inner_text("#duplicate-pairs")
        assert "names 74% alike (trigram similarity)" in pairs and "54" in pairs
        assert_accessible(page)
        page.click("text=Merge DON-0002 into DON-0001…")
        page.wait_for_load_state()
        moves = page.inner_text("#merge-moves")
        for shown in ("Jonas Weber <jonas@mueller-stiftung.example.de>", "PLG-0007: Regional workshops", "SEPA-1"):
            assert shown in moves, shown
        assert "Mueller Stiftung" in page.inner_text("#merge-fields")
        giving = page.inner_text("#merge-giving")
        assert "GBP 400.00" in giving and "GBP 0.00" in giving
        assert_accessible(page)
        page.fill("textarea[name=reason]", "The same foundation, spelt two ways")
        page.click("text=Confirm: merge DON-0002 into DON-0001")
        page.wait_for_load_state()
        assert "was merged into Müller Stiftung GmbH (DON-0001)" in page.inner_text(".messagelist")
        assert page.url.endswith(f"/admin/donors/donor/{survivor.pk}/change/")
        merge = DonorMerge.objects.get()
        assert merge.reason == "The same foundation, spelt two ways"
        assert survivor.donations.get().reference == "SEPA-1"

        page.goto(f"{live_server.url}/admin/donors/donor/{loser.pk}/change/")
        assert page.url.endswith(f"/admin/donors/donor/{survivor.pk}/change/")
        assert "this is the donor now" in page.inner_text(".messagelist")
        assert violations == []
    finally:
        context.close()
