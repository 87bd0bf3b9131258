"""The batch pages: a search to put a donation in a batch, the batch's figures in its currency, and
adding donations from the batch page."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from donors import services
from donors.models import Donation
from tests.admin_helpers import admin_post
from tests.factories import BatchFactory, DonationFactory, DonorFactory, RateFactory, role_user


@pytest.fixture
def finance(db, client):
    user = role_user("Finance")
    client.force_login(user)
    return user


def batch_search(client, term=""):
    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "donors", "model_name": "donation", "field_name": "batch", "term": term},
    )
    assert response.status_code == 200
    return [r["text"] for r in json.loads(response.content)["results"]]


def test_the_donation_form_finds_batches_by_search_not_by_id(finance, client):
    page = client.get("/admin/donors/donation/add/").content.decode()
    assert 'data-field-name="batch"' in page and 'class="admin-autocomplete' in page
    assert 'name="batch" class="vForeignKeyRawIdAdminField"' not in page


def test_the_batch_search_offers_only_open_batches_with_a_currency(finance, client):
    BatchFactory(reference="DEP-2025-03-GBP")
    BatchFactory(reference="DEP-2025-03-USD", currency="USD")
    BatchFactory(reference="DEP-2025-02-GBP", status="posted")
    BatchFactory(reference="DEP-2024-MIXED", currency="")  # several currencies, from before batches had one
    assert sorted(batch_search(client)) == ["DEP-2025-03-GBP", "DEP-2025-03-USD"]
    assert batch_search(client, "usd") == ["DEP-2025-03-USD"]


def test_the_batch_page_shows_expected_and_entered_in_its_currency_and_adds_donations(finance, client):
    RateFactory(currency="USD")
    batch = BatchFactory(reference="DEP-USD", currency="USD", expected_count=2, expected_total=Decimal("4189418.00"))
    DonationFactory(batch=batch, currency="USD", amount=Decimal("189418.00"))
    page = client.get(f"/admin/donors/donationbatch/{batch.pk}/change/").content.decode()
    add_url = f"/admin/donors/donation/add/?batch={batch.pk}&amp;currency=USD"
    assert (
        '<div class="readonly">1 of 2 donations, USD 189,418.00 of USD 4,189,418.00. '
        f'<a href="/admin/donors/donation/?batch__id__exact={batch.pk}">See its donations</a> · '
        f'<a href="{add_url}">Add a donation to this batch</a></div>'
    ) in page

    # The link opens the donation form with the batch and its currency chosen.
    form = client.get(add_url.replace("&amp;", "&")).context["adminform"].form
    assert (form.initial["batch"], form.initial["currency"]) == (str(batch.pk), "USD")
    donor = DonorFactory()
    response = admin_post(
        client,
        add_url.replace("&amp;", "&"),
        # What the browser sends: the prefilled batch and currency, and what was typed.
        {
            "reference": "BANK-2",
            "donor": donor.pk,
            "batch": batch.pk,
            "currency": "USD",
            "method": "bank_transfer",
            "received_on": "2025-03-02",
            "amount": "4000000.00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Donation.objects.get(reference="BANK-2").batch == batch

    page = client.get(f"/admin/donors/donationbatch/{batch.pk}/change/").content.decode()
    assert "2 of 2 donations, USD 4,189,418.00 of USD 4,189,418.00: they match the batch." in page


def test_a_donation_in_another_currency_than_its_batch_is_refused_on_the_form(finance, client):
    batch = BatchFactory(reference="DEP-USD", currency="USD")
    response = admin_post(
        client,
        "/admin/donors/donation/add/",
        {
            "reference": "BANK-1",
            "donor": DonorFactory().pk,
            "batch": batch.pk,
            "received_on": "2025-03-02",
            "amount": "10.00",
            "currency": "GBP",
            "method": "bank_transfer",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["currency"] == [
        "Batch DEP-USD is in USD; this donation is in GBP. Choose a GBP batch, or no batch."
    ]
    assert not Donation.objects.exists()


def test_a_batch_without_a_currency_says_why_it_takes_nothing(finance, client):
    batch = BatchFactory(reference="DEP-MIXED", currency="", expected_count=2, expected_total=Decimal("8203937.01"))
    page = client.get(f"/admin/donors/donationbatch/{batch.pk}/change/").content.decode()
    assert (
        "0 of 2 donations, — of 8,203,937.01 (no currency). Batch DEP-MIXED has no currency (it was recorded "
        "before a batch had one); it takes no new donations and cannot be posted until one is set on the batch page."
    ) in page
    assert "Add a donation to this batch" not in page


def test_posting_a_batch_from_the_list_reports_its_totals_in_its_currency(finance, client):
    batch = BatchFactory(reference="DEP-GBP", expected_count=2, expected_total=Decimal("300.00"))
    services.donation_create(
        donor=DonorFactory(), reference="B-1", received_on=dt.date(2025, 3, 1), amount=Decimal("100.00"),
        currency="GBP", batch=batch,
    )  # fmt: skip
    response = client.post(
        "/admin/donors/donationbatch/",
        {"action": "post_selected", "_selected_action": [batch.pk]},
        follow=True,
    )
    assert (
        "DEP-GBP: Batch DEP-GBP cannot be posted: it has 1 donations, 2 expected; "
        "they add up to GBP 100.00, GBP 300.00 expected."
    ) in [str(m) for m in response.context["messages"]]
