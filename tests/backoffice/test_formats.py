"""Amounts, numbers and dates as each language prints them (backoffice.formats, the one home):
the figure read back from its French or English text is the amount rounded to its currency's
places, the code always first."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from backoffice.formats import format_day, format_percent, number_localise
from backoffice.money import format_money, money_round

NBSP = "\xa0"
SEPARATORS = {"en-gb": (",", "."), "fr": (NBSP, ",")}


@given(
    amount=st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=3, allow_nan=False),
    currency=st.sampled_from(["GBP", "JPY", "KWD", "EUR"]),
    language=st.sampled_from(sorted(SEPARATORS)),
)
def test_an_amount_reads_back_as_itself_in_its_currencys_places(amount, currency, language):
    with translation.override(language):
        text = format_money(amount, currency)
    thousands, decimal = SEPARATORS[language]
    code, figure = text.split(" ", 1)
    assert code == currency
    assert " " not in figure and (decimal not in figure) == (currency == "JPY")
    assert Decimal(figure.replace(thousands, "").replace(decimal, ".")) == money_round(amount, currency)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en-gb", ("GBP 1,234,567.89", "JPY 24,967,757", "12.5%", "6 Dec 2026", "1 December 2026")),
     ("fr", (f"GBP 1{NBSP}234{NBSP}567,89", f"JPY 24{NBSP}967{NBSP}757", f"12,5{NBSP}%", "6 décembre 2026",
             "1er décembre 2026"))],
)  # fmt: skip
def test_each_language_writes_figures_and_days_its_own_way(language, expected):
    with translation.override(language):
        shown = (
            format_money(Decimal("1234567.891"), "GBP"),
            format_money(Decimal("24967757"), "JPY"),
            format_percent("12.5"),
            format_day(dt.date(2026, 12, 6)),
            format_day(dt.date(2026, 12, 1), long=True),
        )
    assert shown == expected


def test_with_translations_deactivated_numbers_are_english():
    with translation.override(None):
        assert number_localise("1,234.5") == "1,234.5"
