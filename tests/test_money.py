from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.money import format_money, format_rate, money_round, split_largest_remainder

cents = st.integers(min_value=-(10**12), max_value=10**12).map(lambda c: Decimal(c) / 100)
weights = st.lists(st.integers(min_value=0, max_value=10**9).map(Decimal), min_size=1, max_size=40).filter(
    lambda ws: sum(ws) > 0
)


@given(total=cents, weights=weights)
def test_split_parts_add_up_exactly_to_the_whole(total, weights):
    parts = split_largest_remainder(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    assert all(p == p.quantize(Decimal("0.01")) for p in parts)


@given(total=cents, weights=weights)
def test_each_part_is_within_a_cent_of_its_exact_share(total, weights):
    parts = split_largest_remainder(total, weights)
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = total * weight / whole
        assert abs(part - exact) < Decimal("0.01")


def test_split_gives_leftover_cents_to_largest_remainders_then_earliest():
    assert split_largest_remainder(Decimal("1000.00"), [Decimal(1)] * 3) == [
        Decimal("333.34"),
        Decimal("333.33"),
        Decimal("333.33"),
    ]
    assert split_largest_remainder(Decimal("0.05"), [Decimal(1), Decimal(3)]) == [Decimal("0.01"), Decimal("0.04")]


def test_split_refuses_sub_cent_totals_and_empty_weights():
    with pytest.raises(ValueError, match="more than 2 decimal places"):
        split_largest_remainder(Decimal("1.001"), [Decimal(1)])
    with pytest.raises(ValueError):
        split_largest_remainder(Decimal("1.00"), [])
    with pytest.raises(ValueError):
        split_largest_remainder(Decimal("1.00"), [Decimal(0)])


def test_money_round_is_half_up_and_refuses_float():
    assert money_round(Decimal("2.345")) == Decimal("2.35")
    assert money_round(Decimal("-2.345")) == Decimal("-2.35")
    with pytest.raises(TypeError):
        money_round(2.345)


def test_format_money_keeps_the_currency_beside_the_amount():
    assert format_money(Decimal("1234.5"), "EUR") == "EUR 1,234.50"


def test_format_money_groups_thousands_and_rounds_half_up_to_the_currencys_places():
    assert format_money(Decimal("8203937.01000000"), "USD") == "USD 8,203,937.01"
    assert format_money(Decimal("4189418"), "NOK") == "NOK 4,189,418.00"
    assert format_money(Decimal("0.125"), "GBP") == "GBP 0.13"  # half up, not to even
    assert format_money(None, "GBP") == "—"


def test_format_rate_drops_trailing_zeros_only():
    assert [format_rate(Decimal(r)) for r in ("0.79000000", "1.00000000", "150.25000000", "0.00000001")] == [
        "0.79",
        "1",
        "150.25",
        "0.00000001",
    ]
