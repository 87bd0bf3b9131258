import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from donors import services as ledger
from grants import services
from grants.models import Allocation, Output
from tests.factories import (
    DonationFactory,
    IndicatorFactory,
    ObligationFactory,
    OutputFactory,
    PledgeFactory,
    role_user,
)


@pytest.fixture
def finance(client, db):
    user = role_user("Finance")
    client.force_login(user)
    return user


def posted(user, **kwargs):
    return ledger.donation_post(donation=DonationFactory(**kwargs), by=user)


def login(client, role):
    user = role_user(role)
    client.force_login(user)
    return user


# Outputs ---------------------------------------------------------------------------------


def test_output_list_shows_funding_and_gap_without_a_query_per_row(client, finance):
    url = reverse("admin:grants_output_changelist")
    output = OutputFactory(title="Global Threat Assessment 2025", budget=Decimal("1000.00"))
    services.allocation_create(
        donation=posted(finance, amount=Decimal("400.00")), output=output, amount=Decimal("400.00"), by=finance
    )
    services.allocation_plan(pledge=PledgeFactory(), output=output, amount=Decimal("250.00"), by=finance)
    with CaptureQueriesContext(connection) as one:
        response = client.get(url)
    page = response.content.decode()
    assert "GBP 400.00" in page and "GBP 250.00" in page and "GBP 600.00" in page
    for _ in range(5):
        services.allocation_create(
            donation=posted(finance),
            output=OutputFactory(programme=output.programme),
            amount=Decimal("1.00"),
            by=finance,
        )
    with CaptureQueriesContext(connection) as six:
        assert client.get(url).status_code == 200
    assert len(six) == len(one)


def test_programme_staff_edit_outputs_and_indicators_and_see_allocations_read_only(client, db):
    login(client, "Programme")
    output = OutputFactory(title="Model National Response toolkit")
    IndicatorFactory(output=output, name="Countries adopting", unit="countries")
    finance = role_user("Finance", username="fin")
    services.allocation_create(
        donation=posted(finance, reference="BANK-ALLOC"), output=output, amount=Decimal("10.00"), by=finance
    )
    page = client.get(reverse("admin:grants_output_change", args=[output.pk])).content.decode()
    assert "Countries adopting" in page and "BANK-ALLOC" in page
    assert 'name="allocations-0-amount"' not in page  # not editable
    response = client.post(
        reverse("admin:grants_output_change", args=[output.pk]),
        {
            "programme": output.programme_id,
            "kind": "resource",
            "title": "Model National Response toolkit",
            "status": "in_progress",
            "budget": "12000.00",
            "indicators-TOTAL_FORMS": "1",
            "indicators-INITIAL_FORMS": "1",
            "indicators-0-id": output.indicators.get().pk,
            "indicators-0-output": output.pk,
            "indicators-0-name": "Countries adopting",
            "indicators-0-unit": "countries",
            "indicators-0-baseline": "0",
            "indicators-0-target": "40",
            "indicators-0-actual": "12",
            "allocations-TOTAL_FORMS": "1",
            "allocations-INITIAL_FORMS": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    output.refresh_from_db()
    assert output.status == "in_progress" and output.indicators.get().actual == Decimal("12.00")
    assert client.get(reverse("admin:grants_allocation_add")).status_code == 403


# Allocations -----------------------------------------------------------------------------


def test_allocation_add_form_shows_the_service_refusal_as_a_form_error(client, finance):
    donation = posted(finance, amount=Decimal("100.00"))
    output = OutputFactory()
    url = reverse("admin:grants_allocation_add")
    assert f'value="{donation.pk}"' in client.get(url, {"donation": donation.pk}).content.decode()  # prefilled
    response = client.post(url, {"donation": donation.pk, "output": output.pk, "amount": "100.01", "note": ""})
    assert response.status_code == 200
    assert "is more than the 100.00 GBP left to allocate" in response.content.decode()
    assert not Allocation.objects.exists()
    response = client.post(url, {"donation": donation.pk, "output": output.pk, "amount": "60.00", "note": "Core"})
    assert response.status_code == 302
    allocation = Allocation.objects.get()
    assert (allocation.amount, allocation.by, allocation.note) == (Decimal("60.00"), finance, "Core")


def test_allocation_add_form_plans_from_a_pledge_and_refuses_both_sources(client, finance):
    pledge = PledgeFactory(total=Decimal("500.00"))
    output = OutputFactory()
    url = reverse("admin:grants_allocation_add")
    both = client.post(url, {"donation": posted(finance).pk, "pledge": pledge.pk, "output": output.pk, "amount": "1"})
    assert "not both" in both.content.decode()
    response = client.post(url, {"pledge": pledge.pk, "output": output.pk, "amount": "500.00"})
    assert response.status_code == 302
    assert Allocation.objects.get().is_planned


def test_posted_allocation_is_read_only_and_reversed_by_action(client, finance):
    allocation = services.allocation_create(
        donation=posted(finance), output=OutputFactory(), amount=Decimal("10.00"), by=finance
    )
    page = client.get(reverse("admin:grants_allocation_change", args=[allocation.pk])).content.decode()
    assert 'name="amount"' not in page
    client.post(
        reverse("admin:grants_allocation_changelist"),
        {"action": "reverse_selected", "_selected_action": [allocation.pk]},
    )
    assert Allocation.objects.get(reversal_of=allocation).amount == Decimal("-10.00")


def test_auto_allocate_action_on_the_donation_page(client, finance):
    OutputFactory(budget=Decimal("1000.00"))
    donation = posted(finance, amount=Decimal("100.00"))
    page = client.get(reverse("admin:donors_donation_change", args=[donation.pk])).content.decode()
    assert "GBP 100.00 unallocated" in page
    assert reverse("admin:grants_allocation_add") + f"?donation={donation.pk}" in page
    response = client.post(
        reverse("admin:donors_donation_changelist"),
        {"action": "auto_allocate_selected", "_selected_action": [donation.pk]},
        follow=True,
    )
    assert "Donations auto-allocated: 1" in response.content.decode()
    assert services.donation_allocated(donation) == Decimal("100.00")
    page = client.get(reverse("admin:donors_donation_change", args=[donation.pk])).content.decode()
    assert "GBP 0.00 unallocated" in page and "Auto-allocated by unfunded budget" in page


def test_only_finance_gets_the_auto_allocate_action(client, db):
    login(client, "Auditor")
    page = client.get(reverse("admin:donors_donation_changelist")).content.decode()
    assert "auto_allocate_selected" not in page


# Obligations -----------------------------------------------------------------------------


def test_obligation_filters_list_due_in_30_days_and_overdue(client, finance):
    today = timezone.localdate()
    soon = ObligationFactory(due_date=today + dt.timedelta(days=10), pledge=PledgeFactory(ref="PLG-SOON"))
    late = ObligationFactory(due_date=today - dt.timedelta(days=3), pledge=PledgeFactory(ref="PLG-LATE"))
    ObligationFactory(due_date=today + dt.timedelta(days=60), pledge=PledgeFactory(ref="PLG-LATER"))
    url = reverse("admin:grants_reportingobligation_changelist")
    due_page = client.get(url, {"due": "30"}).content.decode()
    assert "PLG-SOON" in due_page and "PLG-LATE" not in due_page and "PLG-LATER" not in due_page
    overdue_page = client.get(url, {"due": "overdue"}).content.decode()
    assert "PLG-LATE" in overdue_page and "PLG-SOON" not in overdue_page
    client.post(url, {"action": "submit_today", "_selected_action": [late.pk]})
    late.refresh_from_db()
    assert late.status == "submitted" and late.submitted_on == today
    assert soon.status == "pending"


def test_cancelled_output_is_listed_with_its_status(client, finance):
    OutputFactory(title="Regional workshop, Almaty", status=Output.Status.CANCELLED)
    page = client.get(reverse("admin:grants_output_changelist"), {"status__exact": "cancelled"}).content.decode()
    assert "Regional workshop, Almaty" in page


def test_output_and_allocation_pages_show_amounts_as_money(client, finance):
    output = OutputFactory(budget=Decimal("1250000.00"))
    allocation = services.allocation_create(
        donation=posted(finance, amount=Decimal("20000.00")), output=output, amount=Decimal("12345.60"), by=finance
    )
    page = client.get(reverse("admin:grants_output_change", args=[output.pk])).content.decode()  # view only
    assert '<div class="readonly">GBP 1,250,000.00</div>' in page
    assert re.search(r'<td class="field-amount_display">\s*<p>GBP 12,345.60</p>', page)
    page = client.get(reverse("admin:grants_allocation_change", args=[allocation.pk])).content.decode()
    assert '<div class="readonly">GBP 12,345.60</div>' in page
    assert f"GBP 12,345.60 from {allocation.donation.reference} to {output.title}" in page
