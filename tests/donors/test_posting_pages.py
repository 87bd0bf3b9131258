"""The donation page's Post and Reverse buttons and the pages that confirm them (donors.admin_posting)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice.admin_tools import money
from donors import services
from donors.models import Donation
from tests.factories import DonationFactory, InstalmentFactory, PledgeFactory, RateFactory, role_user


@pytest.fixture
def finance(client, db):
    user = role_user("Finance")
    client.force_login(user)
    return user


@pytest.fixture
def draft(db):
    """A USD gift against a EUR pledge's instalment: every figure of the posting differs."""
    RateFactory(currency="USD", date=dt.date(2025, 2, 1), rate=Decimal("0.79"), source="ECB")
    RateFactory(currency="EUR", date=dt.date(2025, 2, 1), rate=Decimal("0.85"), source="ECB")
    pledge = PledgeFactory(ref="PLG-0042", title="Core support", currency="EUR", total=Decimal("1000.00"))
    instalment = InstalmentFactory(pledge=pledge, due_date=dt.date(2025, 1, 1), amount=Decimal("1000.00"))
    return DonationFactory(
        reference="BANK-USD-1",
        donor=pledge.donor,
        pledge=pledge,
        instalment=instalment,
        amount=Decimal("1234.56"),
        currency="USD",
    )


def change_page(client, donation) -> str:
    response = client.get(f"/admin/donors/donation/{donation.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def post_url(donation) -> str:
    return f"/admin/donors/donation/{donation.pk}/post/"


def reverse_url(donation) -> str:
    return f"/admin/donors/donation/{donation.pk}/reverse/"


# The buttons -----------------------------------------------------------------------------


def test_a_draft_shows_post_and_a_hint_to_finance_and_only_the_hint_to_readers(client, finance, draft):
    page = change_page(client, draft)
    assert f'href="{post_url(draft)}" id="donation-post"' in page
    assert 'id="draft-hint"' in page and "donation-reverse" not in page

    client.force_login(role_user("Leadership"))
    page = change_page(client, draft)
    assert "donation-post" not in page and "A Finance user posts it." in page


def test_a_posted_donation_shows_reverse_until_it_is_reversed(client, finance, draft):
    services.donation_post(donation=draft, by=finance)
    page = change_page(client, draft)
    assert f'href="{reverse_url(draft)}" id="donation-reverse"' in page
    assert "donation-post" not in page and "draft-hint" not in page

    client.force_login(role_user("Auditor"))
    assert "donation-reverse" not in change_page(client, draft)

    client.force_login(finance)
    reversal = services.donation_reverse(donation=draft, by=finance, reason="Bank recall")
    assert "donation-reverse" not in change_page(client, draft)
    assert "donation-reverse" not in change_page(client, reversal)


# Posting ---------------------------------------------------------------------------------


def test_the_post_page_shows_the_figures_posting_will_freeze(client, finance, draft):
    figures = services.posting_amounts(
        amount=draft.amount, currency="USD", received_on=draft.received_on, pledge_currency="EUR"
    )
    page = client.get(post_url(draft)).content.decode()
    for shown in (
        money(Decimal("1234.56"), "USD"),
        "1 USD = 0.79 GBP",
        "2025-02-01 (source: ECB)",
        money(figures["base_amount"], "GBP"),
        "PLG-0042: Core support",
        f"Due 2025-01-01, {money(Decimal('1000.00'), 'EUR')}",
        money(figures["pledge_amount"], "EUR"),
        'value="Confirm: post this donation"',
    ):
        assert shown in page, shown
    assert figures["base_amount"] == Decimal("975.30") and figures["pledge_amount"] == Decimal("1147.41")
    assert Donation.objects.get(pk=draft.pk).status == "draft"


def test_confirming_posts_the_donation_with_those_figures(client, finance, draft):
    response = client.post(post_url(draft))
    assert response.status_code == 302 and response["Location"] == f"/admin/donors/donation/{draft.pk}/change/"
    draft.refresh_from_db()
    assert draft.is_posted and draft.posted_by == finance
    assert (draft.rate, draft.rate_date, draft.base_amount, draft.pledge_amount) == (
        Decimal("0.79"),
        dt.date(2025, 2, 1),
        Decimal("975.30"),
        Decimal("1147.41"),
    )
    page = client.get(response["Location"]).content.decode()
    assert "Donation BANK-USD-1 posted" in page


def test_a_missing_rate_is_shown_on_the_page_and_nothing_is_posted(client, finance, db):
    draft = DonationFactory(currency="JPY", amount=Decimal("5000.00"))
    for response in (client.get(post_url(draft)), client.post(post_url(draft))):
        page = response.content.decode()
        assert response.status_code == 200
        assert "No exchange rate for JPY on or before 2025-03-01." in page
        assert "Confirm: post this donation" not in page
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_future_date_is_named_on_the_page_and_nothing_is_posted(client, finance, db):
    later = timezone.localdate() + dt.timedelta(days=2)
    draft = DonationFactory(received_on=later)
    page = client.post(post_url(draft)).content.decode()
    assert f"Received on: The date received, {later.isoformat()}, is in the future" in page
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_posted_donation_cannot_be_posted_again_from_its_page(client, finance, draft):
    services.donation_post(donation=draft, by=finance)
    page = client.post(post_url(draft)).content.decode()
    assert "is already posted" in page and Donation.objects.count() == 1


def test_a_role_without_the_post_permission_is_refused(client, draft):
    client.force_login(role_user("Leadership"))
    assert client.get(post_url(draft)).status_code == 403
    assert client.post(post_url(draft)).status_code == 403
    draft.refresh_from_db()
    assert draft.status == "draft"


# Reversing -------------------------------------------------------------------------------


def test_the_reverse_page_shows_the_reversal_and_asks_for_a_reason(client, finance, draft):
    services.donation_post(donation=draft, by=finance)
    page = client.get(reverse_url(draft)).content.decode()
    for shown in (
        money(Decimal("-1234.56"), "USD"),
        money(Decimal("-975.30"), "GBP"),
        "1 USD = 0.79 GBP of 2025-02-01 (source: ECB)",
        "PLG-0042: Core support",
        "<td>2025-03-01</td>",
        "instalment due 2025-01-01",
        'name="reason"',
        "Reason for the reversal",
    ):
        assert shown in page, shown


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reversal_without_a_reason_is_refused_on_the_page(client, finance, draft, reason):
    services.donation_post(donation=draft, by=finance)
    response = client.post(reverse_url(draft), {"reason": reason})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not Donation.objects.filter(reversal_of=draft).exists()


def test_a_reason_with_a_control_character_is_refused_on_the_page(client, finance, draft):
    services.donation_post(donation=draft, by=finance)
    response = client.post(reverse_url(draft), {"reason": "Recall\x1b"})
    assert "control character U+001B" in response.content.decode()
    assert not Donation.objects.filter(reversal_of=draft).exists()


def test_the_reason_is_stored_and_shown_on_both_pages(client, finance, draft):
    services.donation_post(donation=draft, by=finance)
    response = client.post(reverse_url(draft), {"reason": "Bank recall: account closed"})
    assert response.status_code == 302 and response["Location"] == f"/admin/donors/donation/{draft.pk}/change/"
    reversal = Donation.objects.get(reversal_of=draft)
    assert reversal.reversal_reason == "Bank recall: account closed"
    assert reversal.amount == Decimal("-1234.56") and reversal.base_amount == Decimal("-975.30")

    original_page = client.get(response["Location"]).content.decode()
    assert "Donation BANK-USD-1 reversed by BANK-USD-1-REV" in original_page
    assert (
        f'Reversed by <a href="/admin/donors/donation/{reversal.pk}/change/">BANK-USD-1-REV</a> '
        f"on {reversal.received_on}. Reason: Bank recall: account closed" in original_page
    )
    assert (
        f'Reverses <a href="/admin/donors/donation/{draft.pk}/change/">BANK-USD-1</a>. '
        "Reason: Bank recall: account closed" in change_page(client, reversal)
    )


def test_a_reversed_donation_is_not_reversed_again_from_its_page(client, finance, draft):
    services.donation_post(donation=draft, by=finance)
    services.donation_reverse(donation=draft, by=finance, reason="Bank recall")
    response = client.post(reverse_url(draft), {"reason": "Again"})
    page = response.content.decode()
    assert "has already been reversed" in page and 'name="reason"' not in page
    assert Donation.objects.count() == 2


def test_the_list_action_asks_one_reason_for_the_selection_before_reversing(client, finance, draft):
    services.donation_post(donation=draft, by=finance)
    other = services.donation_post(donation=DonationFactory(reference="BANK-GBP-2"), by=finance)
    still_draft = DonationFactory(reference="BANK-DRAFT-3")
    chosen = {"action": "reverse_selected", "_selected_action": [draft.pk, other.pk, still_draft.pk]}

    page = client.post("/admin/donors/donation/", chosen).content.decode()
    assert "BANK-GBP-2" in page and "Donation BANK-DRAFT-3 is a draft; only posted donations are reversed." in page
    assert not Donation.objects.filter(reversal_of__isnull=False).exists()

    page = client.post("/admin/donors/donation/", chosen | {"confirm_reversal": "1", "reason": ""}).content.decode()
    assert "This field is required." in page
    assert not Donation.objects.filter(reversal_of__isnull=False).exists()

    confirmed = chosen | {"confirm_reversal": "1", "reason": "File returned by the bank"}
    page = client.post("/admin/donors/donation/", confirmed, follow=True).content.decode()
    assert "Donations reversed: 2." in page and "BANK-DRAFT-3" in page
    reasons = set(Donation.objects.filter(reversal_of__isnull=False).values_list("reversal_reason", flat=True))
    assert reasons == {"File returned by the bank"}
