"""The one place that knows how money is rounded, split and validated.

Each currency has its ISO 4217 minor unit (`minor_unit`): JPY and KRW are whole units, BHD, KWD,
OMR, JOD and TND have three places, most others two. Amounts are stored with three places
(`STORED_PLACES`), the most any currency the ledger takes has; every amount written is checked
against its own currency's places (`money_places_check`), and every computed amount is rounded,
half up, to them (`money_round`).
"""

import functools
from decimal import ROUND_HALF_UP, Decimal

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from iso4217 import Currency

from backoffice.errors import LedgerError
from backoffice.formats import number_localise

RATE_PLACES = Decimal("0.00000001")

# Amount columns hold this many places: enough for every currency the ledger takes.
STORED_PLACES = 3
MONEY_DIGITS = 15  # 12 digits before the point, as the two-place columns had
TOTAL_DIGITS = 19  # a sum of many amounts

# ISO 4217 codes that are not money a donor can give: precious metals, units of account
# (CLF and UYW, with four places, among them), testing and "no currency".
_NOT_MONEY = {
    "CLF", "UYW", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX",
}  # fmt: skip

CURRENCY_CODES = frozenset(c.alpha_3 for c in pycountry.currencies if c.alpha_3 not in _NOT_MONEY)
CURRENCY_CHOICES = sorted((code, code) for code in CURRENCY_CODES)

# The ISO 4217 table (the iso4217 package ships it) gives each currency's minor unit. Those the
# alliance's donors and partners use are pinned here too, so a data release cannot move them
# silently: a test checks the table still agrees.
_PINNED_MINOR_UNITS = {
    "JPY": 0, "KRW": 0,
    "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}  # fmt: skip
_MINOR_UNITS = {c.code: c.exponent for c in Currency if c.exponent is not None} | _PINNED_MINOR_UNITS


def base_currency() -> str:
    return settings.BASE_CURRENCY


def minor_unit(currency: str) -> int:
    """The decimal places of an amount in `currency` (ISO 4217): 0 for JPY, 2 for GBP, 3 for KWD."""
    try:
        return _MINOR_UNITS[currency]
    except KeyError:
        raise ValueError(f"{currency!r} is not an ISO 4217 currency with a minor unit") from None


@functools.cache  # a function of the code alone, called for every amount an import or report rounds
def smallest_unit(currency: str) -> Decimal:
    """One unit of the currency's last place: Decimal('1') for JPY, '0.01' for GBP, '0.001' for KWD."""
    return Decimal(1).scaleb(-minor_unit(currency))


def money_round(value: Decimal, currency: str | None = None) -> Decimal:
    """Round to the currency's places (the base currency's when none is named), half up, as
    finance rounds."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be a Decimal, not {type(value).__name__}")
    return value.quantize(smallest_unit(currency or settings.BASE_CURRENCY), rounding=ROUND_HALF_UP)


def money_in_places(amount: Decimal | None, currency: str) -> Decimal | None:
    """A stored amount written with its currency's places ('1234.50' GBP, '1235' JPY, '1.500' KWD),
    as exports write it. Never rounds: an amount recorded with more places than its currency has
    (before they were checked) keeps every place it was stored with."""
    if amount is None:
        return None
    shown = amount.quantize(smallest_unit(currency), rounding=ROUND_HALF_UP)
    return shown if shown == amount else amount


def validate_currency(code: str) -> None:
    if code not in CURRENCY_CODES:
        raise ValidationError(
            "%(code)s is not an ISO 4217 currency code.", code="unknown_currency", params={"code": code}
        )


def money_places_check(amount: Decimal | None, currency: str | None, *, field: str = "") -> None:
    """Refuse an amount with more places than its currency has, instead of rounding it away:
    'JPY has no minor unit: 1,000.5 is not a JPY amount.' A service names the `field` to blame
    (a LedgerError keyed by it); a model's clean() uses `money_places_errors`."""
    if amount is None or currency not in _MINOR_UNITS:
        return  # a missing amount or an unknown currency is its own field's error
    if amount == amount.quantize(smallest_unit(currency), rounding=ROUND_HALF_UP):
        return
    places = minor_unit(currency)
    has = "has no minor unit" if places == 0 else f"has {places} decimal place{'s' if places > 1 else ''}"
    error = ValidationError(
        "%(currency)s %(has)s: %(amount)s is not a %(currency)s amount.",
        code="too_many_places",
        params={"currency": currency, "has": has, "amount": f"{amount.normalize():,f}"},
    )
    raise LedgerError({field: [error]}) if field else error


def money_places_errors(amounts: dict[str, tuple[Decimal | None, str | None]]) -> dict[str, list[str]]:
    """The places check of several fields, as a model's clean() raises them: {field: messages}."""
    errors = {}
    for field, (amount, currency) in amounts.items():
        try:
            money_places_check(amount, currency)
        except ValidationError as e:
            errors[field] = e.messages
    return errors


def validate_cents(value: Decimal) -> None:
    """The two-place check the amount fields had before amounts followed their currency's places;
    the early migrations still name it. Amounts are now checked by `money_places_check`."""


def split_largest_remainder(total: Decimal, weights: list[Decimal], currency: str | None = None) -> list[Decimal]:
    """Split `total` into parts proportional to `weights` that add up exactly to `total`, each
    in the currency's places (the base currency's when none is named): whole yen, cents, fils.

    Each part is first floored to the currency's unit; the units left over go one each to the
    parts with the largest remainders (ties to the earliest part), so the split is deterministic.
    Works for negative totals by splitting the absolute value.
    """
    if not weights:
        raise ValueError("cannot split an amount into no parts")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    currency = currency or settings.BASE_CURRENCY
    unit = smallest_unit(currency)
    sign = -1 if total < 0 else 1
    if abs(total) != abs(total).quantize(unit, rounding=ROUND_HALF_UP):
        places = minor_unit(currency)
        raise ValueError(f"{total} has more than {places} decimal places, the places of {currency}")
    units = int((abs(total) / unit).to_integral_exact())
    # Exact integer arithmetic on units: shares = units * w / weight_sum.
    scaled = [(Decimal(units) * w) / weight_sum for w in weights]
    floors = [int(s) for s in scaled]
    left_over = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(scaled[i] - floors[i]), i))
    for i in order[:left_over]:
        floors[i] += 1
    return [sign * Decimal(f) * unit for f in floors]


def format_money(amount: Decimal | None, currency: str) -> str:
    """'GBP 1,234.50', 'JPY 24,967,757', 'KWD 1,234.500': the currency code, then the amount
    grouped in thousands, half up to the currency's places. The one way money is shown to people
    (admin pages, reports, emails). The separators follow the active language (French: 'GBP 1 234,50');
    the code comes first in every language, as the EU's style guide writes amounts ('EUR 2 500')."""
    if amount is None:
        return "—"
    return f"{currency} {format_amount(amount, currency)}"


def format_amount(amount: Decimal, currency: str) -> str:
    """'1,234.50', '24,967,757': `format_money` without the code, where a heading names the currency."""
    shown = Decimal(amount).quantize(smallest_unit(currency), rounding=ROUND_HALF_UP)
    return number_localise(f"{shown:,.{minor_unit(currency)}f}")


def format_rate(rate: Decimal | None) -> str:
    """A rate is not money: all its significant places, without the trailing zeros
    ('0.8123', '1', '150.25')."""
    if rate is None:
        return "—"
    text = f"{Decimal(rate):f}"
    return number_localise(text.rstrip("0").rstrip(".") if "." in text else text)
