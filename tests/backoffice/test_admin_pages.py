"""Listings that do not query per row, rollups and history."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import DonationFactory, PledgeFactory

PAGES = sorted(
    m._meta.label_lower for m in admin.site._registry if m._meta.app_label in ("donors", "grants", "reports")
)


def test_donor_list_shows_giving_rollups_in_base_currency(admin_client, db, finance_user):
    from donors import services

    pledge = PledgeFactory(donor__name="Oakridge Foundation")
    for amount in ("100.00", "250.50"):
        services.donation_post(donation=DonationFactory(donor=pledge.donor, amount=amount), by=finance_user)
    page = admin_client.get("/admin/donors/donor/").content.decode()
    assert "GBP 350.50" in page  # lifetime
    # The largest gift is on the donor's page: the list keeps to what fits a laptop screen.
    donor_page = admin_client.get(f"/admin/donors/donor/{pledge.donor.pk}/change/").content.decode()
    assert "GBP 250.50" in donor_page


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/donors/donor/",
        "/admin/donors/pledge/",
        "/admin/donors/donation/",
        "/admin/donors/donationbatch/",
        "/admin/donors/writeoff/",
        "/admin/donors/contact/",
    ],
)
def test_listing_query_count_does_not_grow_with_rows(admin_client, db, finance_user, url):
    from donors import services

    def add_rows(n):
        for _ in range(n):
            pledge = PledgeFactory()
            donation = services.donation_post(
                donation=DonationFactory(donor=pledge.donor, pledge=pledge), by=finance_user
            )
            services.pledge_write_off(pledge=pledge, reason="r", by=finance_user)
            pledge.donor.contacts.create(name="c", email=f"c{donation.pk}@example.org")

    add_rows(2)
    few = _queries(admin_client, url)
    add_rows(15)
    many = _queries(admin_client, url)
    assert many == few


def test_history_shows_who_changed_what_before_and_after(client, db, finance_user):
    from donors import services
    from tests.admin_helpers import admin_post

    client.force_login(finance_user)
    donor = services.donor_create(name="Helix Social Inc.", kind="company", country="US", preferred_currency="USD")
    response = admin_post(
        client,
        f"/admin/donors/donor/{donor.pk}/change/",
        {
            "ref": donor.ref,
            "name": "Helix Social, Inc.",
            "kind": "company",
            "country": "US",
            "preferred_currency": "USD",
            "status": "active",
        },
    )
    assert response.status_code == 302
    latest = donor.history.latest()
    assert latest.history_user == finance_user
    change = latest.diff_against(latest.prev_record).changes
    assert [(c.field, c.old, c.new) for c in change] == [("name", "Helix Social Inc.", "Helix Social, Inc.")]
    page = client.get(f"/admin/donors/donor/{donor.pk}/history/").content.decode()
    assert "Helix Social Inc." in page and "Helix Social, Inc." in page and "finance" in page
