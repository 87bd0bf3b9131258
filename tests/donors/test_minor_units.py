"""The ledger keeps each amount in its currency's places: JPY whole yen, KWD three places. An amount
with more places is refused where it enters (services, forms, imports), never rounded away."""

import csv
import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from donors import services
from donors.models import Donation, Instalment, Pledge
from grants.services import allocation_create
from tests.admin_helpers import admin_post
from tests.factories import DonationFactory, DonorFactory, OutputFactory, PledgeFactory, RateFactory, role_user

START, END = dt.date(2025, 1, 1), dt.date(2027, 12, 31)


@pytest.fixture
def rates(db):
    RateFactory(currency="JPY", date=dt.date(2025, 1, 1), rate=Decimal("0.00512345"))
    RateFactory(currency="KWD", date=dt.date(2025, 1, 1), rate=Decimal("2.57123456"))


def test_a_jpy_pledge_is_scheduled_in_whole_yen(db):
    pledge = services.pledge_create(
        donor=DonorFactory(), title="Core", total=Decimal("25000000"), currency="JPY",
        start_date=START, end_date=END, frequency="quarterly", count=12,
    )  # fmt: skip
    amounts = list(pledge.instalments.values_list("amount", flat=True))
    assert amounts == [Decimal("2083334")] * 4 + [Decimal("2083333")] * 8
    assert sum(amounts) == pledge.total


def test_a_kwd_pledge_is_scheduled_in_fils(db):
    pledge = services.pledge_create(
        donor=DonorFactory(), title="Core", total=Decimal("1000.000"), currency="KWD",
        start_date=START, end_date=END, frequency="quarterly", count=3,
    )  # fmt: skip
    assert list(pledge.instalments.values_list("amount", flat=True)) == [
        Decimal("333.334"),
        Decimal("333.333"),
        Decimal("333.333"),
    ]


def test_a_pledge_with_sen_is_refused_naming_the_field(db):
    with pytest.raises(ValidationError) as error:
        services.pledge_create(
            donor=DonorFactory(), title="Core", total=Decimal("1000.50"), currency="JPY",
            start_date=START, end_date=END,
        )  # fmt: skip
    assert error.value.message_dict == {"total": ["JPY has no minor unit: 1,000.5 is not a JPY amount."]}
    assert not Pledge.objects.exists()


def test_a_jpy_donation_with_sen_is_refused(rates):
    with pytest.raises(ValidationError) as error:
        services.donation_create(
            donor=DonorFactory(), reference="B-1", received_on=dt.date(2025, 3, 1), amount=Decimal("1000.50"),
            currency="JPY",
        )  # fmt: skip
    assert error.value.message_dict["amount"] == ["JPY has no minor unit: 1,000.5 is not a JPY amount."]
    assert not Donation.objects.exists()


def test_a_kwd_donation_keeps_its_three_places_and_its_base_amount_rounds_half_up_to_the_penny(rates, finance_user):
    draft = DonationFactory(currency="KWD", amount=Decimal("1.235"))
    posted = services.donation_post(donation=draft, by=finance_user)
    posted.refresh_from_db()
    assert posted.amount == Decimal("1.235") and str(posted.amount) == "1.235"
    assert posted.base_amount == Decimal("3.18")  # 1.235 × 2.57123456 = 3.1754746… half up to the penny


def test_a_jpy_donation_against_a_gbp_pledge_counts_for_whole_pence_and_a_gbp_one_against_jpy_for_whole_yen(
    rates, finance_user
):
    donor = DonorFactory()
    jpy_pledge = PledgeFactory(donor=donor, currency="JPY", total=Decimal("1000000"))
    gbp = DonationFactory(donor=donor, pledge=jpy_pledge, currency="GBP", amount=Decimal("100.00"))
    posted = services.donation_post(donation=gbp, by=finance_user)
    assert posted.pledge_amount == Decimal("19518")  # 100 / 0.00512345 = 19518.07… whole yen


def test_a_write_off_with_sen_is_refused(db, finance_user):
    pledge = PledgeFactory(currency="JPY", total=Decimal("1000000"))
    with pytest.raises(ValidationError) as error:
        services.pledge_write_off(pledge=pledge, amount=Decimal("0.50"), reason="budget cut", by=finance_user)
    assert "JPY has no minor unit: 0.5 is not a JPY amount." in error.value.messages


def test_an_allocation_with_more_places_than_the_base_currency_has_is_refused(finance_user):
    donation = services.donation_post(donation=DonationFactory(amount=Decimal("100.00")), by=finance_user)
    with pytest.raises(ValidationError) as error:
        allocation_create(donation=donation, output=OutputFactory(), amount=Decimal("10.005"), by=finance_user)
    assert error.value.message_dict == {"amount": ["GBP has 2 decimal places: 10.005 is not a GBP amount."]}


def _import(tmp_path, kind, content):
    path = tmp_path / f"{kind}.csv"
    path.write_text(content)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_data", kind, str(path), stderr=err)
    return err.getvalue().strip()


def test_an_imported_jpy_donation_with_sen_is_refused_by_line_and_column(rates, tmp_path):
    DonorFactory(ref="DON-0001")
    content = (
        "reference,donor_ref,received_on,amount,currency,method,pledge_ref,rate,note\n"
        "BANK-1,DON-0001,2025-03-02,1000,JPY,,,,\n"
        "BANK-2,DON-0001,2025-03-02,1000.50,JPY,,,,\n"
        "BANK-3,DON-0001,2025-03-02,1.2345,KWD,,,,\n"
    )
    assert _import(tmp_path, "donations", content).splitlines() == [
        "Line 3, column amount: JPY has no minor unit: 1,000.5 is not a JPY amount.",
        "Line 4, column amount: '1.2345' has more than 3 decimal places, more than any currency has.",
    ]
    assert not Donation.objects.exists()


def test_an_imported_jpy_instalment_with_sen_is_refused_by_line_and_column(db, tmp_path):
    PledgeFactory(ref="PLG-0001", currency="JPY", total=Decimal("1000"))
    content = "pledge_ref,due_date,amount\nPLG-0001,2025-01-01,500.50\nPLG-0001,2025-04-01,499.50\n"
    assert _import(tmp_path, "instalments", content).splitlines() == [
        "Line 2, column amount: JPY has no minor unit: 500.5 is not a JPY amount.",
        "Line 3, column amount: JPY has no minor unit: 499.5 is not a JPY amount.",
    ]
    assert not Instalment.objects.exists()


def test_the_pledge_and_instalment_exports_write_each_amount_in_its_currencys_places(db, tmp_path):
    for ref, currency, total in [("PLG-1", "JPY", "25000000"), ("PLG-2", "KWD", "1.5"), ("PLG-3", "GBP", "10.5")]:
        pledge = PledgeFactory(ref=ref, currency=currency, total=Decimal(total))
        Instalment.objects.create(pledge=pledge, due_date=START, amount=Decimal(total))
    rows = {}
    for kind in ("pledges", "instalments"):
        path = tmp_path / f"{kind}.csv"
        call_command("export_data", kind, "--out", str(path), stderr=StringIO())
        with path.open(encoding="utf-8", newline="") as stream:
            rows[kind] = [
                (r.get("ref") or r["pledge_ref"], r.get("total") or r["amount"]) for r in csv.DictReader(stream)
            ]
    expected = [("PLG-1", "25000000"), ("PLG-2", "1.500"), ("PLG-3", "10.50")]
    assert rows == {"pledges": expected, "instalments": expected}


def test_the_pledge_page_shows_yen_and_fils_in_their_places_and_refuses_sen(db, client):
    client.force_login(role_user("Finance"))
    yen = services.pledge_create(
        donor=DonorFactory(), title="Core", total=Decimal("25000000"), currency="JPY",
        start_date=START, end_date=END, frequency="annual", count=3,
    )  # fmt: skip
    page = client.get(f"/admin/donors/pledge/{yen.pk}/change/").content.decode()
    assert 'name="total" value="25000000"' in page
    assert 'name="instalments-0-amount" value="8333334"' in page
    fils = PledgeFactory(ref="PLG-KWD", currency="KWD", total=Decimal("1.5"))
    page = client.get(f"/admin/donors/pledge/{fils.pk}/change/").content.decode()
    assert 'name="total" value="1.500"' in page
    response = admin_post(
        client,
        "/admin/donors/pledge/add/",
        {
            "ref": "PLG-0100", "donor": yen.donor.pk, "title": "Another", "total": "1000.50", "currency": "JPY",
            "start_date": "2025-01-01", "end_date": "2025-12-31",
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["total"] == ["JPY has no minor unit: 1,000.5 is not a JPY amount."]
    assert not Pledge.objects.filter(ref="PLG-0100").exists()
