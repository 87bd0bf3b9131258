"""Finance forms refuse a schedule that does not add up and a write-off past what is outstanding."""

import datetime as dt
from decimal import Decimal

from donors.models import Pledge
from donors.selectors import pledge_figures
from tests.admin_helpers import admin_post


def test_pledge_schedule_that_does_not_add_up_is_a_form_error(client, finance_user):
    from tests.factories import DonorFactory

    client.force_login(finance_user)
    donor = DonorFactory()
    response = admin_post(
        client,
        "/admin/donors/pledge/add/",
        {
            "ref": "PLG-0100",
            "donor": donor.pk,
            "title": "t",
            "total": "300.00",
            "currency": "GBP",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "instalments-TOTAL_FORMS": "2",
            "instalments-0-due_date": "2026-01-01",
            "instalments-0-amount": "100.00",
            "instalments-1-due_date": "2026-06-01",
            "instalments-1-amount": "100.00",
        },
    )
    assert response.status_code == 200
    assert "The instalments add up to 200.00 GBP, but the pledge total is 300.00 GBP." in response.content.decode()
    assert not Pledge.objects.exists()


def test_write_off_form_refuses_more_than_outstanding(client, finance_user):
    from tests.factories import PledgeFactory

    client.force_login(finance_user)
    pledge = PledgeFactory(total=Decimal("100.00"))
    response = admin_post(
        client,
        "/admin/donors/writeoff/add/",
        {"pledge": pledge.pk, "amount": "100.01", "reason": "Budget cut", "written_off_on": "2026-01-01"},
    )
    assert response.status_code == 200
    assert "100.01 GBP is more than the 100.00 GBP outstanding." in response.content.decode()
    response = admin_post(
        client,
        "/admin/donors/writeoff/add/",
        {"pledge": pledge.pk, "amount": "", "reason": "Budget cut", "written_off_on": "2026-01-01"},
    )
    assert response.status_code == 302
    assert pledge_figures(pledge).written_off == Decimal("100.00")
    assert pledge.write_offs.get().written_off_on == dt.date(2026, 1, 1)
