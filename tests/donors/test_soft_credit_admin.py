"""The soft credit pages: Finance records a soft credit from the donation page; both donors' pages show it."""

from decimal import Decimal

import pytest

from donors import services
from donors.models import DonorRelationship, SoftCredit
from tests.factories import DonationFactory, DonorFactory, role_user

ADD = "/admin/donors/softcredit/add/"


@pytest.fixture
def gift(db):
    donation = DonationFactory(donor=DonorFactory(name="Example Foundation"), amount=Decimal("1000.00"))
    return services.donation_post(donation=donation, by=None)


def test_finance_credits_a_donation_from_its_page(client, gift):
    company = DonorFactory(name="Example Company")
    client.force_login(role_user("Finance"))
    page = client.get(f"/admin/donors/donation/{gift.pk}/change/").content.decode()
    assert f"{ADD}?donation={gift.pk}" in page and "Credit this donation to another donor" in page
    response = client.post(
        f"{ADD}?donation={gift.pk}", {"donation": gift.pk, "donor": company.pk, "kind": "on_behalf", "amount": "400"}
    )
    assert response.status_code == 302
    credit = SoftCredit.objects.get()
    assert (credit.donor, credit.amount, credit.base_amount) == (company, Decimal("400.00"), Decimal("400.00"))
    page = client.get(f"/admin/donors/donation/{gift.pk}/change/").content.decode()
    assert "GBP 400.00 of GBP 1,000.00 credited to other donors" in page and "Example Company" in page


def test_a_refusal_shows_on_the_form_and_writes_nothing(client, gift):
    client.force_login(role_user("Finance"))
    response = client.post(ADD, {"donation": gift.pk, "donor": gift.donor_id, "kind": "on_behalf", "amount": "1000.00"})
    assert response.status_code == 200
    assert "a donor cannot soft-credit itself" in response.content.decode()
    response = client.post(
        ADD, {"donation": gift.pk, "donor": DonorFactory().pk, "kind": "matched", "amount": "1000.01"}
    )
    assert "at most GBP 1,000.00" in response.content.decode()
    assert not SoftCredit.objects.exists()


def test_blank_amount_credits_what_is_left(client, gift):
    client.force_login(role_user("Finance"))
    services.soft_credit_create(donation=gift, donor=DonorFactory(), kind="matched", amount=Decimal("250.00"), by=None)
    client.post(ADD, {"donation": gift.pk, "donor": DonorFactory().pk, "kind": "pooled_member", "amount": ""})
    assert sorted(SoftCredit.objects.values_list("amount", flat=True)) == [Decimal("250.00"), Decimal("750.00")]


def test_both_donors_pages_show_the_soft_credit_and_the_group_labels_hard_and_soft(client, gift):
    company = DonorFactory(name="Example Company")
    DonorRelationship.objects.create(donor=gift.donor, parent=company, kind="foundation")
    outsider = services.donation_post(donation=DonationFactory(donor=DonorFactory(), amount=Decimal("90.00")), by=None)
    services.soft_credit_create(donation=gift, donor=company, kind="on_behalf", by=None)
    services.soft_credit_create(donation=outsider, donor=company, kind="matched", by=None)
    client.force_login(role_user("Leadership"))
    theirs = client.get(f"/admin/donors/donor/{company.pk}/change/").content.decode()
    assert "Received through others" in theirs and "Example Foundation" in theirs and gift.reference in theirs
    assert "Group total, hard credit" in theirs
    # The foundation's 1,000.00 is the group's hard credit; only the outsider's 90.00 is soft credit.
    assert "GBP 1,000.00" in theirs and "Soft credit: paid for the group by donors outside it" in theirs
    assert "GBP 90.00" in theirs
    payers = client.get(f"/admin/donors/donor/{gift.donor_id}/change/").content.decode()
    assert "credited to others" in payers and "Example Company" in payers


@pytest.mark.parametrize("role", ["Leadership", "Auditor", "Programme"])
def test_only_finance_records_or_removes_soft_credits(client, gift, role):
    credit = services.soft_credit_create(donation=gift, donor=DonorFactory(), kind="matched", by=None)
    client.force_login(role_user(role))
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {"donation": gift.pk, "donor": DonorFactory().pk, "kind": "matched"}).status_code == 403
    assert client.post(f"/admin/donors/softcredit/{credit.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SoftCredit.objects.count() == 1


def test_finance_takes_a_soft_credit_back(client, gift):
    credit = services.soft_credit_create(donation=gift, donor=DonorFactory(), kind="matched", by=None)
    finance = role_user("Finance")
    client.force_login(finance)
    assert client.post(f"/admin/donors/softcredit/{credit.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not SoftCredit.objects.exists()
    assert SoftCredit.history.filter(id=credit.pk, history_type="-").get().history_user == finance


@pytest.mark.parametrize("role", ["Finance", "Leadership", "Auditor"])
def test_a_recorded_soft_credit_is_shown_read_only(client, gift, role):
    credit = services.soft_credit_create(
        donation=gift, donor=DonorFactory(name="Example Agency"), kind="on_behalf", by=None
    )
    client.force_login(role_user(role))
    page = client.get(f"/admin/donors/softcredit/{credit.pk}/change/")
    assert page.status_code == 200
    assert "Example Agency" in page.content.decode() and 'name="amount"' not in page.content.decode()
    before = SoftCredit.objects.values_list("donor", "amount").get()
    client.post(f"/admin/donors/softcredit/{credit.pk}/change/", {"amount": "1.00", "kind": "matched"})
    assert SoftCredit.objects.values_list("donor", "amount").get() == before
