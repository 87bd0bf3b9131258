"""The finance demo login records a donor, a pledge with a schedule and a donation, posts and reverses it."""

from decimal import Decimal

from donors.models import Donation, Donor, Pledge
from donors.selectors import pledge_figures
from tests.admin_helpers import admin_post


def test_finance_records_posts_and_reverses_in_the_admin(client, demo_data, db):
    response = client.post("/admin/login/?next=/admin/", {"username": "finance", "password": "fundtrace-demo"})
    assert response.status_code == 302 and response["Location"] == "/admin/"

    response = admin_post(
        client,
        "/admin/donors/donor/add/",
        {
            "ref": "DON-9001",
            "name": "Ministry of Digital Affairs, Estonia",
            "kind": "government",
            "country": "EE",
            "preferred_currency": "EUR",
            "status": "active",
            "contacts-0-name": "Kadri Tamm",
            "contacts-0-email": "kadri@example.ee",
            "contacts-0-receives_reports": "on",
            "contacts-TOTAL_FORMS": "1",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    donor = Donor.objects.get(ref="DON-9001")
    assert donor.contacts.get().email == "kadri@example.ee"

    response = admin_post(
        client,
        "/admin/donors/pledge/add/",
        {
            "ref": "PLG-9001",
            "donor": donor.pk,
            "title": "Cyber tipline support",
            "total": "100000.00",
            "currency": "EUR",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "frequency": "quarterly",
            "count": "4",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    pledge = Pledge.objects.get(ref="PLG-9001")
    assert list(pledge.instalments.values_list("amount", flat=True)) == [Decimal("25000.00")] * 4

    response = admin_post(
        client,
        "/admin/donors/donation/add/",
        {
            "reference": "EE-2026-0001",
            "donor": donor.pk,
            "pledge": pledge.pk,
            "received_on": "2026-02-10",
            "amount": "25000.00",
            "currency": "EUR",
            "method": "bank_transfer",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    donation = Donation.objects.get(reference="EE-2026-0001")
    assert donation.status == "draft"

    response = client.post(
        "/admin/donors/donation/", {"action": "post_selected", "_selected_action": [donation.pk]}, follow=True
    )
    assert "Donations posted: 1." in response.content.decode()
    donation.refresh_from_db()
    assert donation.is_posted and donation.base_amount > 0
    assert pledge_figures(pledge).outstanding == Decimal("75000.00")

    page = client.get(f"/admin/donors/donation/{donation.pk}/change/")
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False  # posted: read-only

    reverse = {"action": "reverse_selected", "_selected_action": [donation.pk]}
    asked = client.post("/admin/donors/donation/", reverse)
    assert "Reason for the reversal" in asked.content.decode() and not Donation.objects.filter(reversal_of=donation)
    confirmed = reverse | {"confirm_reversal": "1", "reason": "Bank recall"}
    response = client.post("/admin/donors/donation/", confirmed, follow=True)
    assert "Donations reversed: 1." in response.content.decode()
    reversal = Donation.objects.get(reversal_of=donation)
    assert reversal.amount == Decimal("-25000.00") and reversal.base_amount == -donation.base_amount
    assert reversal.reversal_reason == "Bank recall"
    assert pledge_figures(pledge).outstanding == Decimal("100000.00")

    response = client.post("/admin/donors/donation/", confirmed, follow=True)
    assert "has already been reversed" in response.content.decode()
    assert Donation.objects.filter(donor=donor).count() == 2
