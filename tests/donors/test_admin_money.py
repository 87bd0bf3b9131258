"""Money is shown one way on every admin page: the currency code, then the amount grouped in
thousands with the currency's places ('USD 4,189,418.00'); rates without trailing zeros. Inputs
stay plain numbers."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from donors import services
from tests.factories import BatchFactory, DonationFactory, PledgeFactory, RateFactory, role_user


@pytest.fixture
def ledger(db):
    finance = role_user("Finance")
    RateFactory(currency="USD", rate=Decimal("0.79000000"))
    pledge = PledgeFactory(ref="PLG-0001", total=Decimal("8203937.01"), currency="USD")
    services.instalments_replace(
        pledge=pledge,
        rows=[(dt.date(2025, 1, 1), Decimal("4189418.00")), (dt.date(2025, 6, 1), Decimal("4014519.01"))],
    )
    batch = BatchFactory(reference="DEP-USD", currency="USD", expected_count=2, expected_total=Decimal("8203937.01"))
    for ref, amount in (("BANK-1", "4189418.00"), ("BANK-2", "4014519.01")):
        DonationFactory(
            reference=ref, donor=pledge.donor, pledge=pledge, batch=batch, amount=Decimal(amount), currency="USD"
        )
    services.batch_post(batch=batch, by=finance)
    services.pledge_write_off(pledge=PledgeFactory(total=Decimal("1234.50")), reason="Budget cut", by=finance)
    return {"pledge": pledge, "batch": batch, "finance": finance}


def readonly(page: str, label: str) -> str:
    return re.search(rf'<label[^>]*>{label}:</label>\s*<div class="readonly">(.*?)</div>', page).group(1)


def column(page: str, field: str) -> list[str]:
    return re.findall(rf'<td class="field-{field}[^"]*">\s*(?:<p>)?(.*?)(?:</p>)?\s*</td>', page)


def get(client, user, url) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_the_donation_list_and_page(ledger, client):
    page = get(client, ledger["finance"], "/admin/donors/donation/")
    # Its donations are on the donation list, filtered to the batch (the page links there).
    page = get(client, ledger["finance"], f"/admin/donors/donation/?batch__id__exact={ledger['batch'].pk}")
    assert sorted(column(page, "amount_display")) == ["USD 4,014,519.01", "USD 4,189,418.00"]
    assert column(page, "base_display") == ["GBP 3,171,470.02", "GBP 3,309,640.22"]

    bank_1 = ledger["batch"].donations.get(reference="BANK-1")
    page = get(client, ledger["finance"], f"/admin/donors/donation/{bank_1.pk}/change/")
    assert "<h2>BANK-1: USD 4,189,418.00</h2>" in page
    shown = {label: readonly(page, label) for label in ("Amount", "Rate", "Base amount", "Pledge amount")}
    assert shown == {
        "Amount": "USD 4,189,418.00",
        "Rate": "0.79",
        "Base amount": "GBP 3,309,640.22",
        "Pledge amount": "USD 4,189,418.00",
    }


def test_the_batch_list_and_page(ledger, client):
    page = get(client, ledger["finance"], "/admin/donors/donationbatch/")
    assert column(page, "expected_total_display") == ["USD 8,203,937.01"]
    assert column(page, "entered_total") == ["USD 8,203,937.01"]

    page = get(client, ledger["finance"], f"/admin/donors/donationbatch/{ledger['batch'].pk}/change/")
    assert readonly(page, "Expected total") == "USD 8,203,937.01"
    assert readonly(page, "Entered so far").startswith("2 of 2 donations, USD 8,203,937.01 of USD 8,203,937.01.")
    # Its donations are on the donation list, filtered to the batch (the page links there).
    page = get(client, ledger["finance"], f"/admin/donors/donation/?batch__id__exact={ledger['batch'].pk}")
    assert sorted(column(page, "amount_display")) == ["USD 4,014,519.01", "USD 4,189,418.00"]


@pytest.mark.parametrize("role", ["Finance", "Leadership"])
def test_the_pledge_page(ledger, client, role):
    user = ledger["finance"] if role == "Finance" else role_user(role)
    page = get(client, user, f"/admin/donors/pledge/{ledger['pledge'].pk}/change/")
    assert readonly(page, "Received") == "USD 8,203,937.01"
    assert readonly(page, "Outstanding") == "USD 0.00"
    if role == "Leadership":  # a page it cannot change: every amount is shown as money
        assert readonly(page, "Total") == "USD 8,203,937.01"
        assert column(page, "amount_display")[:2] == ["USD 4,189,418.00", "USD 4,014,519.01"]
    else:  # inputs stay plain numbers
        assert 'name="total" value="8203937.01"' in page
        assert 'name="instalments-0-amount" value="4189418.00"' in page


def test_the_donor_page_the_write_offs_the_rates_and_the_history(ledger, client):
    finance = ledger["finance"]
    page = get(client, finance, f"/admin/donors/donor/{ledger['pledge'].donor.pk}/change/")
    assert column(page, "total_display")[0] == "USD 8,203,937.01"
    page = get(client, finance, "/admin/donors/writeoff/")
    assert column(page, "amount_display") == ["GBP 1,234.50"]
    page = get(client, finance, "/admin/donors/exchangerate/")
    assert column(page, "rate_display") == ["0.79"]
    bank_1 = ledger["batch"].donations.get(reference="BANK-1")
    page = get(client, finance, f"/admin/donors/donation/{bank_1.pk}/history/")
    assert "BANK-1: USD 4,189,418.00" in page and "4189418.00" not in page
