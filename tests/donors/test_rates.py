"""The closing rate book answers exactly what the full rate book answers on its date."""

import datetime as dt
from decimal import Decimal

import pytest

from donors.rates import MissingRate, RateBook
from tests.factories import RateFactory

RATES = [
    ("USD", dt.date(2025, 1, 1), "0.80000000"),
    ("USD", dt.date(2025, 6, 30), "0.78500000"),
    ("USD", dt.date(2025, 12, 31), "0.75000000"),
    ("EUR", dt.date(2024, 12, 31), "0.84000000"),
    ("EUR", dt.date(2025, 7, 1), "0.85500000"),
    ("JPY", dt.date(2026, 1, 2), "0.00520000"),  # only after the dates asked below
]


@pytest.fixture
def rates(db):
    for currency, date, rate in RATES:
        RateFactory(currency=currency, date=date, rate=Decimal(rate))


@pytest.mark.parametrize(
    "on", [dt.date(2025, 1, 1), dt.date(2025, 6, 29), dt.date(2025, 6, 30), dt.date(2025, 7, 15), dt.date(2025, 12, 31)]
)
def test_closing_book_gives_the_latest_rate_on_or_before_the_day(rates, on):
    full, closing = RateBook(), RateBook.closing(on)
    for currency in ("USD", "EUR"):
        assert closing.lookup(currency, on) == full.lookup(currency, on)
    assert closing.lookup("GBP", on) == (Decimal("1"), on, "base currency")


def test_closing_book_holds_one_rate_per_currency(rates, django_assert_num_queries):
    with django_assert_num_queries(1):
        book = RateBook.closing(dt.date(2025, 7, 15))
    assert book.lookup("USD", dt.date(2025, 7, 15))[:2] == (Decimal("0.78500000"), dt.date(2025, 6, 30))
    assert book.lookup("EUR", dt.date(2025, 7, 15))[:2] == (Decimal("0.85500000"), dt.date(2025, 7, 1))


def test_closing_book_has_no_rate_for_a_currency_quoted_only_later(rates):
    with pytest.raises(MissingRate, match="No exchange rate for JPY on or before 2025-12-31"):
        RateBook.closing(dt.date(2025, 12, 31)).lookup("JPY", dt.date(2025, 12, 31))


@pytest.mark.parametrize("on", [dt.date(2024, 12, 31), dt.date(2025, 1, 1), dt.date(2025, 7, 15), dt.date(2026, 3, 1)])
def test_one_rate_is_looked_up_with_the_books_rule_in_one_query(rates, on, django_assert_num_queries):
    from donors.rates import rate_lookup

    full = RateBook()
    for currency in ("USD", "EUR", "JPY"):
        try:
            expected = full.lookup(currency, on)
        except MissingRate as missing:
            with django_assert_num_queries(1), pytest.raises(MissingRate) as error:
                rate_lookup(currency=currency, on=on)
            assert error.value.messages == missing.messages
        else:
            with django_assert_num_queries(1):
                assert rate_lookup(currency=currency, on=on) == expected
    with django_assert_num_queries(0):
        assert rate_lookup(currency="GBP", on=on) == (Decimal("1"), on, "base currency")
