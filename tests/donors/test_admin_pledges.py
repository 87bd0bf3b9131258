"""The pledge side of the donation form and the pledge page: the pledge picker offers the chosen
donor's pledges, another donor's pledge is refused, and each instalment says where it stands and
what paid it."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest

from donors import services
from donors.models import Donation
from tests.admin_helpers import admin_post
from tests.factories import DonationFactory, DonorFactory, PledgeFactory, role_user


@pytest.fixture
def finance(db, client):
    user = role_user("Finance")
    client.force_login(user)
    return user


def pledge_search(client, **params):
    query = {"app_label": "donors", "model_name": "donation", "field_name": "pledge", "term": ""} | params
    response = client.get("/admin/autocomplete/", query)
    assert response.status_code == 200
    return [r["text"] for r in json.loads(response.content)["results"]]


def test_the_pledge_picker_offers_only_the_chosen_donors_pledges(finance, client):
    ours, theirs = DonorFactory(), DonorFactory()
    PledgeFactory(ref="PLG-0001", donor=ours, title="Hotline")
    PledgeFactory(ref="PLG-0002", donor=ours, title="Summit")
    PledgeFactory(ref="PLG-0003", donor=theirs, title="Hotline")
    assert sorted(pledge_search(client, donor=ours.pk)) == ["PLG-0001: Hotline", "PLG-0002: Summit"]
    assert pledge_search(client, donor=ours.pk, term="hotline") == ["PLG-0001: Hotline"]
    assert pledge_search(client, donor=theirs.pk) == ["PLG-0003: Hotline"]
    assert len(pledge_search(client)) == 3  # no donor chosen yet: every pledge


def test_the_donation_form_loads_the_narrowing_script_after_the_admins_autocomplete(finance, client):
    page = client.get("/admin/donors/donation/add/").content.decode()
    assert page.index('src="/static/admin/js/autocomplete.js"') < page.index('src="/static/donors/donation_form.js"')


def test_a_pledge_of_another_donor_is_refused_on_the_donation_form(finance, client):
    ours, theirs = DonorFactory(name="Ministry A"), DonorFactory(name="Foundation B")
    pledge = PledgeFactory(ref="PLG-0009", donor=theirs)
    response = admin_post(
        client,
        "/admin/donors/donation/add/",
        {
            "reference": "BANK-1",
            "donor": ours.pk,
            "pledge": pledge.pk,
            "received_on": "2025-03-02",
            "amount": "10.00",
            "currency": "GBP",
            "method": "bank_transfer",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["pledge"] == [
        f"Pledge PLG-0009 belongs to Foundation B ({theirs.ref}), not to Ministry A ({ours.ref}): "
        "choose one of this donor's pledges."
    ]
    assert not Donation.objects.exists()


def test_the_pledge_page_shows_each_instalments_state_and_the_donations_that_paid_it(finance, client):
    pledge = PledgeFactory(total=Decimal("300000.00"))
    services.instalments_replace(
        pledge=pledge,
        rows=[(dt.date(2025, 1, 1), Decimal("100000.00")), (dt.date(2025, 4, 1), Decimal("100000.00")),
              (dt.date(2099, 1, 1), Decimal("100000.00"))],
    )  # fmt: skip
    gifts = [
        services.donation_post(
            donation=DonationFactory(
                reference=ref, donor=pledge.donor, pledge=pledge, amount=Decimal(amount), received_on=on
            ),
            by=finance,
        )
        for ref, amount, on in (
            ("BANK-1", "60000.00", dt.date(2025, 1, 5)),
            ("BANK-2", "90000.00", dt.date(2025, 5, 1)),
        )
    ]
    page = client.get(f"/admin/donors/pledge/{pledge.pk}/change/").content.decode()
    link = '<a href="/admin/donors/donation/{}/change/">{}</a> ({})'
    rows = [
        ("Paid", link.format(gifts[0].pk, "BANK-1", "GBP 60,000.00") + ", "
         + link.format(gifts[1].pk, "BANK-2", "GBP 40,000.00")),
        ("Overdue: GBP 50,000.00 paid", link.format(gifts[1].pk, "BANK-2", "GBP 50,000.00")),
        ("Due", "—"),
    ]  # fmt: skip
    assert list(zip(cells(page, "state"), cells(page, "paid_by"), strict=True)) == rows


def cells(page: str, field: str) -> list[str]:
    """The contents of a read-only inline column, row by row (the empty form's row left out)."""
    return re.findall(rf'<td class="field-{field}">\s*<p>(.*?)</p>', page)[:-1]


def test_the_instalment_list_shows_states_and_payers_and_filters_by_state(
    finance, client, django_assert_max_num_queries
):
    pledges = []
    for n in range(3):
        pledge = PledgeFactory(total=Decimal("200.00"))
        services.instalments_replace(
            pledge=pledge, rows=[(dt.date(2025, 1, 1), Decimal("100.00")), (dt.date(2025, 4, 1), Decimal("100.00"))]
        )
        donation = DonationFactory(donor=pledge.donor, pledge=pledge, amount=Decimal("150.00"), reference=f"GIFT-{n}")
        pledges.append((pledge, services.donation_post(donation=donation, by=finance)))
    with django_assert_max_num_queries(15):  # the same for 3 pledges as for 6: a constant for the page
        page = client.get("/admin/donors/instalment/?o=0.1").content.decode()
    pledge, gift = pledges[0]
    link = f'<a href="/admin/donors/donation/{gift.pk}/change/">GIFT-0</a>'
    pledge_names = [re.sub("<[^>]+>", "", cell) for cell in column(page, "pledge")]
    rows = list(zip(pledge_names, column(page, "state"), column(page, "paid_by_display"), strict=True))
    assert rows[:2] == [
        (str(pledge), "Paid", f"{link} (GBP 100.00)"),
        (str(pledge), "Overdue: GBP 50.00 paid", f"{link} (GBP 50.00)"),
    ]
    page = client.get("/admin/donors/instalment/", {"state": "overdue"}).content.decode()
    assert column(page, "state") == ["Overdue: GBP 50.00 paid"] * 3


def column(page: str, field: str) -> list[str]:
    return re.findall(rf'<t[dh] class="field-{field}[^"]*">(.*?)</t[dh]>', page)
