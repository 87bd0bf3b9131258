import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone

from backoffice.admin_tools import AmountsInPlacesForm, HistoryAdmin, ShownAsMixin, money, run_each
from donors.admin import PostedReadOnlyMixin
from reports.admin_actions import ReportActionsMixin, generate_output_statement
from transfers.admin import TransferAdminMixin

from . import resources, selectors, services
from .models import Allocation, Indicator, Output, Programme, ReportingObligation


def _base(amount):
    return money(amount, settings.BASE_CURRENCY)


def add_service_errors(form, error: ValidationError) -> None:
    """Show a service's LedgerError on the form, field by field where it names a field."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


class OutputInline(ShownAsMixin, admin.TabularInline):
    model = Output
    extra = 0
    fields = ("title", "kind", "status", "start_date", "end_date", "budget")
    shown_as = {"budget": "budget_display"}
    show_change_link = True

    @admin.display(description="Budget")
    def budget_display(self, obj):
        return _base(obj.budget)


@admin.register(Programme)
class ProgrammeAdmin(HistoryAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")
    inlines = [OutputInline]


class IndicatorInline(admin.TabularInline):
    model = Indicator
    extra = 0
    fields = ("name", "unit", "baseline", "target", "actual", "as_of")


class OutputAllocationInline(admin.TabularInline):
    """Allocations are immutable: listed here, made and reversed on the allocation pages."""

    model = Allocation
    fk_name = "output"
    extra = 0
    fields = ("allocated_on", "donation", "pledge", "amount_display", "note", "reversal_of")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("donation", "pledge", "reversal_of")

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return _base(obj.amount)


class OutputForm(AmountsInPlacesForm):
    amount_currency = {"budget": None}


@admin.register(Output)
class OutputAdmin(ShownAsMixin, ReportActionsMixin, TransferAdminMixin, HistoryAdmin):
    form = OutputForm
    resource_classes = [resources.OutputResource]
    shown_as = {"budget": "budget_display"}
    list_display = (
        "title",
        "programme",
        "status",
        "budget_display",
        "allocated_display",
        "planned_display",
        "gap_display",
    )
    list_filter = ("programme", "kind", "status")
    list_select_related = ("programme",)
    search_fields = ("title", "programme__name", "programme__code", "location")
    date_hierarchy = "start_date"
    inlines = [IndicatorInline, OutputAllocationInline]
    actions = [generate_output_statement]
    readonly_fields = ("allocated_display", "planned_display", "gap_display")
    fieldsets = (
        (None, {"fields": ("programme", "kind", "title", "description", "status", "public_url")}),
        ("When and where", {"fields": ("start_date", "end_date", "location")}),
        (
            f"Funding ({settings.BASE_CURRENCY}, net of reversals)",
            {"fields": ("budget", "allocated_display", "planned_display", "gap_display")},
        ),
    )

    def get_queryset(self, request):
        return selectors.outputs_with_funding(super().get_queryset(request))

    @admin.display(description="Budget", ordering="budget")
    def budget_display(self, obj):
        return _base(obj.budget)

    @admin.display(description="Allocated (received)", ordering="allocated")
    def allocated_display(self, obj):
        return _base(getattr(obj, "allocated", None))

    @admin.display(description="Planned (pledges)", ordering="planned")
    def planned_display(self, obj):
        return _base(getattr(obj, "planned", None))

    @admin.display(description="Funding gap", ordering="gap")
    def gap_display(self, obj):
        return _base(getattr(obj, "gap", None))


@admin.register(Indicator)
class IndicatorAdmin(TransferAdminMixin, HistoryAdmin):
    resource_classes = [resources.IndicatorResource]
    list_display = ("name", "output", "unit", "baseline", "target", "actual", "as_of")
    list_select_related = ("output",)
    list_filter = ("output__programme", "unit")
    search_fields = ("name", "output__title")
    autocomplete_fields = ("output",)


class AllocationForm(forms.ModelForm):
    """Checked by the service's own rules in clean, so a refusal shows as a form error."""

    class Meta:
        model = Allocation
        fields = ("donation", "pledge", "output", "amount", "note")
        help_texts = {
            "donation": "Received money: a posted donation.",
            "pledge": "Or, for a planned allocation, a pledge (leave the donation blank).",
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        donation, pledge, output, amount = (cleaned.get(f) for f in ("donation", "pledge", "output", "amount"))
        if bool(donation) == bool(pledge):
            raise ValidationError("Choose a donation (received money) or a pledge (planned), not both.")
        try:
            if donation:
                services.allocation_check(donation=donation, output=output, amount=amount)
            else:
                services.plan_check(pledge=pledge, output=output, amount=amount)
        except ValidationError as error:
            add_service_errors(self, error)
        return cleaned

    def _post_clean(self):
        # The model's checks (sign, source) apply to what the service creates.
        pass


@admin.register(Allocation)
class AllocationAdmin(PostedReadOnlyMixin, TransferAdminMixin, HistoryAdmin):
    resource_classes = [resources.AllocationResource]
    form = AllocationForm
    list_display = ("allocated_on", "output", "amount_display", "source", "donor", "planned")
    list_filter = (("pledge", admin.EmptyFieldListFilter), "output__programme", "allocated_on")
    list_select_related = ("output", "donation__donor", "pledge__donor", "by", "reversal_of")
    search_fields = ("output__title", "donation__reference", "pledge__ref", "donation__donor__name", "note")
    date_hierarchy = "allocated_on"
    autocomplete_fields = ("donation", "pledge", "output")
    actions = ["reverse_selected"]

    def get_readonly_fields(self, request, obj=None):
        if obj:
            return ("donation", "pledge", "output", "amount_display", "allocated_on", "note", "by", "reversal_of")
        return ()

    def get_fields(self, request, obj=None):
        if obj:
            return self.get_readonly_fields(request, obj)
        return ("donation", "pledge", "output", "amount", "note")

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if data.get("donation"):
            made = services.allocation_create(
                donation=data["donation"],
                output=data["output"],
                amount=data["amount"],
                by=request.user,
                note=data.get("note", ""),
            )
        else:
            made = services.allocation_plan(
                pledge=data["pledge"],
                output=data["output"],
                amount=data["amount"],
                by=request.user,
                note=data.get("note", ""),
            )
        # The admin logs and redirects with `obj`: make it the allocation the service made.
        for field in Allocation._meta.concrete_fields:
            setattr(obj, field.attname, getattr(made, field.attname))
        form.instance = obj

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return _base(obj.amount)

    @admin.display(description="From")
    def source(self, obj):
        return obj.donation.reference if obj.donation_id else obj.pledge.ref

    @admin.display(description="Donor")
    def donor(self, obj):
        return (obj.donation or obj.pledge).donor.name

    @admin.display(description="Planned", boolean=True)
    def planned(self, obj):
        return obj.is_planned

    def has_reverse_permission(self, request):
        return request.user.has_perm("grants.reverse_allocation")

    @admin.action(description="Reverse selected allocations", permissions=["reverse"])
    def reverse_selected(self, request, queryset):
        run_each(
            self,
            request,
            queryset,
            lambda a: services.allocation_reverse(allocation=a, by=request.user),
            "Allocations reversed",
        )


class ObligationDueFilter(admin.SimpleListFilter):
    title = "when due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("30", "Due in 30 days"), ("overdue", "Overdue")]

    def queryset(self, request, queryset):
        if self.value() == "30":
            return queryset.filter(pk__in=selectors.obligations_due(within_days=30).values("pk"))
        if self.value() == "overdue":
            return queryset.filter(pk__in=selectors.obligations_overdue().values("pk"))
        return queryset


class ObligationForm(forms.ModelForm):
    class Meta:
        model = ReportingObligation
        fields = ("pledge", "kind", "period_end", "due_date", "status", "submitted_on")


@admin.register(ReportingObligation)
class ReportingObligationAdmin(HistoryAdmin):
    form = ObligationForm
    list_display = ("due_date", "kind", "pledge", "donor", "status", "is_overdue")
    list_filter = (ObligationDueFilter, "status", "kind")
    list_select_related = ("pledge__donor",)
    search_fields = ("pledge__ref", "pledge__donor__name", "pledge__title")
    date_hierarchy = "due_date"
    autocomplete_fields = ("pledge",)
    actions = ["submit_today"]

    @admin.display(description="Donor", ordering="pledge__donor__name")
    def donor(self, obj):
        return obj.pledge.donor.name

    @admin.display(description="Overdue", boolean=True)
    def is_overdue(self, obj):
        return obj.status == ReportingObligation.Status.PENDING and obj.due_date < timezone.localdate()

    def has_submit_permission(self, request):
        return request.user.has_perm("grants.change_reportingobligation")

    @admin.action(description="Mark selected reports submitted today", permissions=["submit"])
    def submit_today(self, request, queryset):
        today: dt.date = timezone.localdate()
        run_each(
            self,
            request,
            queryset,
            lambda o: services.obligation_submit(obligation=o, on=today),
            "Reports marked submitted",
        )
