"""Each currency's ISO 4217 minor unit: JPY and KRW whole, BHD, KWD, OMR, JOD and TND three places;
amounts are refused with more places than their currency has, split and shown in them."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st
from iso4217 import Currency

from backoffice.money import (
    CURRENCY_CODES,
    STORED_PLACES,
    format_money,
    minor_unit,
    money_in_places,
    money_places_check,
    money_round,
    split_largest_remainder,
)
from reports.snapshot import money

LISTED = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "GBP": 2, "EUR": 2, "USD": 2}


@pytest.mark.parametrize(("currency", "places"), sorted(LISTED.items()))
def test_the_listed_currencies_have_their_iso_4217_places(currency, places):
    assert minor_unit(currency) == places
    assert Currency(currency).exponent == places  # the ISO table the package ships agrees


def test_every_currency_the_ledger_takes_fits_the_stored_places():
    assert all(0 <= minor_unit(code) <= STORED_PLACES for code in CURRENCY_CODES)
    assert "CLF" not in CURRENCY_CODES  # a unit of account with four places, not money a donor gives


def test_money_is_shown_with_its_currencys_places():
    assert format_money(Decimal("24967756.66"), "JPY") == "JPY 24,967,757"
    assert format_money(Decimal("1234.5"), "KWD") == "KWD 1,234.500"
    assert format_money(Decimal("0.0005"), "BHD") == "BHD 0.001"  # half up
    assert format_money(Decimal("1234.5"), "GBP") == "GBP 1,234.50"


def test_a_snapshot_writes_each_amount_in_its_currencys_places():
    assert money(Decimal("24967756.66"), "JPY") == {"amount": "24967757", "currency": "JPY"}
    assert money(Decimal("1.5"), "KWD") == {"amount": "1.500", "currency": "KWD"}
    assert money(Decimal("1.500"), "GBP") == {"amount": "1.50", "currency": "GBP"}


def test_money_round_rounds_half_up_to_the_currency_and_to_the_base_currency_by_default():
    assert money_round(Decimal("2.5"), "JPY") == Decimal("3")
    assert money_round(Decimal("-2.5"), "JPY") == Decimal("-3")
    assert money_round(Decimal("1.2345"), "KWD") == Decimal("1.235")
    assert money_round(Decimal("1.2345")) == Decimal("1.23")  # GBP, the base currency


def test_an_amount_with_more_places_than_its_currency_has_is_refused_with_a_clear_message():
    with pytest.raises(ValidationError) as error:
        money_places_check(Decimal("1000.50"), "JPY")
    assert error.value.messages == ["JPY has no minor unit: 1,000.5 is not a JPY amount."]
    with pytest.raises(ValidationError) as error:
        money_places_check(Decimal("1.2345"), "KWD")
    assert error.value.messages == ["KWD has 3 decimal places: 1.2345 is not a KWD amount."]
    with pytest.raises(ValidationError) as error:
        money_places_check(Decimal("10.005"), "GBP")
    assert error.value.messages == ["GBP has 2 decimal places: 10.005 is not a GBP amount."]
    for amount, currency in [("1000.00", "JPY"), ("1.234", "KWD"), ("10.50", "GBP"), ("10.500", "GBP")]:
        money_places_check(Decimal(amount), currency)  # trailing zeros are not places


def test_an_export_writes_a_stored_amount_in_its_currencys_places_and_never_rounds_one_away():
    assert str(money_in_places(Decimal("1000.000"), "JPY")) == "1000"
    assert str(money_in_places(Decimal("1.500"), "KWD")) == "1.500"
    assert str(money_in_places(Decimal("12.300"), "GBP")) == "12.30"
    assert str(money_in_places(Decimal("24967756.670"), "JPY")) == "24967756.670"  # recorded before the check


def test_a_jpy_split_is_in_whole_yen_and_a_kwd_split_in_fils():
    assert split_largest_remainder(Decimal("1000"), [Decimal(1)] * 3, "JPY") == [
        Decimal("334"),
        Decimal("333"),
        Decimal("333"),
    ]
    assert split_largest_remainder(Decimal("1.000"), [Decimal(1)] * 3, "KWD") == [
        Decimal("0.334"),
        Decimal("0.333"),
        Decimal("0.333"),
    ]
    with pytest.raises(ValueError, match="more than 0 decimal places, the places of JPY"):
        split_largest_remainder(Decimal("1000.50"), [Decimal(1)], "JPY")


weights = st.lists(st.integers(min_value=0, max_value=10**9).map(Decimal), min_size=1, max_size=40).filter(
    lambda ws: sum(ws) > 0
)


@pytest.mark.parametrize("currency", ["JPY", "GBP", "KWD"])
@given(units=st.integers(min_value=-(10**12), max_value=10**12), weights=weights)
def test_split_parts_add_up_exactly_and_each_has_the_currencys_places(currency, units, weights):
    unit = Decimal(1).scaleb(-minor_unit(currency))
    total = units * unit
    parts = split_largest_remainder(total, weights, currency)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    assert all(p == p.quantize(unit) for p in parts)
    whole = sum(weights)
    assert all(abs(p - total * w / whole) < unit for p, w in zip(parts, weights, strict=True))


def test_the_dashboard_shows_a_received_amount_in_its_own_currencys_places():
    from dashboard.templatetags.dashboard import amount

    assert amount(Decimal("24967756.66"), "JPY") == "24,967,757"
    assert amount(Decimal("1234.5"), "KWD") == "1,234.500"
    assert amount(Decimal("1234.5")) == "1,234.50"  # the base currency's
