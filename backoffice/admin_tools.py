"""Shared pieces for admin classes: money display, service errors shown as messages, history."""

import operator
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from simple_history.admin import SimpleHistoryAdmin

from backoffice.money import format_money, money_in_places


def money(amount, currency: str) -> str:
    """An amount as every admin page shows it: 'GBP 1,234.50' (backoffice.money.format_money)."""
    return format_money(amount, currency)


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


class RecordAdmin(admin.ModelAdmin):
    """A record the system writes (a delivery, a report run, an import job, a mailing), or one edited
    elsewhere (an instalment, on its pledge's page): it is read in the admin, never added, changed
    or deleted there; its admin's actions are the only changes."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HistoryAdmin(SimpleHistoryAdmin):
    """History pages that show past versions and never save one.

    simple-history's version page is also a revert form, and it saves a POST after checking
    only the view permission, outside the change path's rules (posted records are immutable,
    money moves through services). Reverting is off for everyone: a past value is typed back
    in on the change page, where every rule applies (SIMPLE_HISTORY_REVERT_DISABLED hides the
    button; this refuses the POST).
    """

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class PresentValuesFilter(admin.ChoicesFieldListFilter):
    """A filter over a long choice list (countries, currencies) that offers only the values the
    records hold, by name: the full list made the donors page 6,487 px tall."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.present = set(model._default_manager.order_by().values_list(field_path, flat=True).distinct())

    def choices(self, changelist):
        offered = super().choices(changelist)
        yield next(offered)  # "All"
        # The rest come in the field's order, one per value (a choice of None comes last, kept).
        values = [value for value, _ in self.field.flatchoices if value is not None]
        for value, choice in zip(values, offered, strict=False):
            if value in self.present:
                yield choice
        yield from offered


class AmountsInPlacesForm(forms.ModelForm):
    """A form whose amount inputs show a stored amount in its currency's places ('8203937.01',
    '25000000', '1.500'), not the column's three. `amount_currency` names each amount field's
    currency: an attribute of the instance ('currency', 'pledge.currency'), or None for the base
    currency. The model's clean() checks what is typed against the same places."""

    amount_currency: dict[str, str | None] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, path in self.amount_currency.items():
            value = self.initial.get(name)
            if not isinstance(value, Decimal):
                continue
            try:
                currency = settings.BASE_CURRENCY if path is None else operator.attrgetter(path)(self.instance)
                self.initial[name] = money_in_places(value, currency)
            except (AttributeError, ValueError):  # no currency yet (a new row), or none recorded
                continue


class ShownAsMixin:
    """On a page the user cannot change, shows each field of `shown_as` through its display
    method: money as 'GBP 1,234.50' (never '1234.50'), a rate without trailing zeros. Where the
    field is an input it stays a plain number."""

    shown_as: dict[str, str] = {}

    def _shown_only(self, request, obj) -> bool:
        return bool(self.shown_as) and obj is not None and not self.has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if self._shown_only(request, obj):
            fields += tuple(name for name in self.shown_as.values() if name not in fields)
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self._shown_only(request, obj):
            return fieldsets
        seen: set[str] = set()

        def swap(names):
            swapped = []
            for name in names:
                if isinstance(name, (list, tuple)):
                    swapped.append(tuple(swap(name)))
                    continue
                name = self.shown_as.get(name, name)
                if name not in seen:
                    seen.add(name)
                    swapped.append(name)
            return swapped

        return [(title, {**options, "fields": swap(options["fields"])}) for title, options in fieldsets]
