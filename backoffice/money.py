"""The one place that knows how money is rounded, split and validated."""

from decimal import ROUND_HALF_UP, Decimal

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError

CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.00000001")

# ISO 4217 codes that are not money a donor can give: precious metals, units of
# account, testing and "no currency".
_NOT_MONEY = {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}

CURRENCY_CODES = frozenset(c.alpha_3 for c in pycountry.currencies if c.alpha_3 not in _NOT_MONEY)
CURRENCY_CHOICES = sorted((code, code) for code in CURRENCY_CODES)


def base_currency() -> str:
    return settings.BASE_CURRENCY


def money_round(value: Decimal) -> Decimal:
    """Round to cents, half up, as finance rounds."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be a Decimal, not {type(value).__name__}")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def validate_currency(code: str) -> None:
    if code not in CURRENCY_CODES:
        raise ValidationError(
            "%(code)s is not an ISO 4217 currency code.", code="unknown_currency", params={"code": code}
        )


def validate_cents(value: Decimal) -> None:
    """Refuse an amount with more than two decimal places instead of rounding it away."""
    if value is None:
        return
    if value != value.quantize(CENT):
        raise ValidationError(
            "%(value)s has more than 2 decimal places.", code="too_many_places", params={"value": value}
        )


def split_largest_remainder(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` into parts proportional to `weights` that add up exactly to `total`.

    Each part is first floored to the cent; the cents left over go one each to the parts
    with the largest remainders (ties to the earliest part), so the split is deterministic.
    Works for negative totals by splitting the absolute value.
    """
    if not weights:
        raise ValueError("cannot split an amount into no parts")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    sign = -1 if total < 0 else 1
    cents = int((abs(total) / CENT).to_integral_exact()) if abs(total) == money_round(abs(total)) else None
    if cents is None:
        raise ValueError(f"{total} has more than 2 decimal places")
    # Exact integer arithmetic on cents: shares = cents * w / weight_sum.
    scaled = [(Decimal(cents) * w) / weight_sum for w in weights]
    floors = [int(s) for s in scaled]
    left_over = cents - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(scaled[i] - floors[i]), i))
    for i in order[:left_over]:
        floors[i] += 1
    return [sign * Decimal(f) * CENT for f in floors]


def minor_unit(currency: str) -> int:
    """The decimal places an amount in `currency` is shown with."""
    return 2


def format_money(amount: Decimal | None, currency: str) -> str:
    """'GBP 1,234.50': the currency code, then the amount grouped in thousands, half up to the
    currency's places. The one way money is shown to people (admin pages, reports)."""
    if amount is None:
        return "—"
    places = minor_unit(currency)
    shown = Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{currency} {shown:,.{places}f}"


def format_rate(rate: Decimal | None) -> str:
    """A rate is not money: all its significant places, without the trailing zeros
    ('0.8123', '1', '150.25')."""
    if rate is None:
        return "—"
    text = f"{Decimal(rate):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
