from decimal import Decimal

from django import template
from django.conf import settings

from backoffice.money import format_amount, format_money

register = template.Library()


@register.filter
def amount(value, currency: str = "") -> str:
    """An amount without its currency code (the heading or column names it), in its currency's
    places: the base currency's unless one is given."""
    if value is None:
        return "—"
    return format_amount(Decimal(value), currency or settings.BASE_CURRENCY)


@register.filter
def money(value, currency: str) -> str:
    return format_money(Decimal(value), currency)


@register.filter
def short_money(value) -> str:
    """1,234,567.89 → 1.23m: for the headline tiles, with the exact figure beside it."""
    value = Decimal(value)
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:,.2f}m"
    if abs(value) >= 10_000:
        return f"{value / 1_000:,.0f}k"
    return f"{value:,.2f}"
