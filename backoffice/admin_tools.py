"""Shared pieces for admin classes: money display and service errors shown as messages."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError

from backoffice.money import format_money, money_round


def money(amount, currency: str) -> str:
    if amount is None:
        return "—"
    return format_money(money_round(Decimal(amount)), currency)


def error_text(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
    return " ".join(error.messages)


def run_each(modeladmin, request, queryset, action, done: str):
    """Apply a service to each selected row; report successes and every failure by row."""
    ok = 0
    for obj in queryset:
        try:
            action(obj)
        except ValidationError as error:
            modeladmin.message_user(request, f"{obj}: {error_text(error)}", messages.ERROR)
        else:
            ok += 1
    if ok:
        modeladmin.message_user(request, f"{done}: {ok}.", messages.SUCCESS)
