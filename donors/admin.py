from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from backoffice.admin_tools import HistoryAdmin, PresentValuesFilter, error_text, money, run_each
from grants import services as grant_services
from grants.models import Allocation
from reports.admin_actions import ReportActionsMixin, generate_donor_summary
from transfers.admin import TransferAdminMixin

from . import resources, selectors, services
from .admin_posting import DonationPostingMixin
from .models import Contact, Donation, DonationBatch, Donor, ExchangeRate, Instalment, Pledge, WriteOff


def _base(amount):
    return money(amount, settings.BASE_CURRENCY)


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ("name", "email", "role", "receives_reports")


class PledgeInline(admin.TabularInline):
    model = Pledge
    extra = 0
    fields = ("ref", "title", "total", "currency", "start_date", "end_date")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Donor)
class DonorAdmin(ReportActionsMixin, TransferAdminMixin, HistoryAdmin):
    resource_classes = [resources.DonorResource]
    # What fits a laptop screen; country and largest gift are on the change page, the filters and the export.
    list_display = ("ref", "name", "kind", "status", "lifetime", "this_year", "last_gift_on")
    list_filter = ("kind", "status", ("country", PresentValuesFilter), "publicly_acknowledged")
    search_fields = ("ref", "name", "external_ref")
    inlines = [ContactInline, PledgeInline]
    actions = [generate_donor_summary]
    readonly_fields = ("lifetime", "this_year", "largest", "last_gift_on")
    fieldsets = (
        (None, {"fields": ("ref", "name", "kind", "country", "preferred_currency", "status")}),
        ("Acknowledgement and notes", {"fields": ("publicly_acknowledged", "external_ref", "notes")}),
        ("Giving (base currency, net of reversals)", {"fields": readonly_fields}),
    )

    def get_queryset(self, request):
        return selectors.donors_with_giving(super().get_queryset(request))

    def get_changeform_initial_data(self, request):
        return {"ref": services.next_ref(Donor, "DON"), "preferred_currency": settings.BASE_CURRENCY}

    @admin.display(description="Lifetime", ordering="lifetime_giving")
    def lifetime(self, obj):
        return _base(getattr(obj, "lifetime_giving", None))

    @admin.display(description="This year", ordering="giving_this_year")
    def this_year(self, obj):
        return _base(getattr(obj, "giving_this_year", None))

    @admin.display(description="Largest gift", ordering="largest_gift")
    def largest(self, obj):
        return _base(getattr(obj, "largest_gift", None))

    @admin.display(description="Last gift", ordering="last_gift_on")
    def last_gift_on(self, obj):
        return getattr(obj, "last_gift_on", None) or "—"


@admin.register(Contact)
class ContactAdmin(TransferAdminMixin, HistoryAdmin):
    resource_classes = [resources.ContactResource]
    list_display = ("name", "email", "donor", "role", "receives_reports")
    list_filter = ("receives_reports",)
    list_select_related = ("donor",)
    search_fields = ("name", "email", "donor__name", "donor__ref")
    autocomplete_fields = ("donor",)


class InstalmentFormSet(BaseInlineFormSet):
    """The schedule must add up to the pledge total, whatever rows were edited."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        amounts = [
            form.cleaned_data["amount"]
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("amount")
        ]
        if amounts:
            try:
                services.instalments_check_total(pledge=self.instance, amounts=amounts)
            except ValidationError as error:
                raise ValidationError(error.messages) from None


class InstalmentInline(admin.TabularInline):
    model = Instalment
    formset = InstalmentFormSet
    extra = 0
    fields = ("due_date", "amount")


class PledgeForm(forms.ModelForm):
    frequency = forms.ChoiceField(
        required=False,
        choices=[("", "— no schedule —"), ("monthly", "Monthly"), ("quarterly", "Quarterly"), ("annual", "Annual")],
        help_text="Generate the instalment schedule from the start date (replaces the current schedule).",
    )
    count = forms.IntegerField(required=False, min_value=1, max_value=600, label="Number of instalments")

    class Meta:
        model = Pledge
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("frequency") and not cleaned.get("count"):
            self.add_error("count", "Say how many instalments to generate.")
        return cleaned


@admin.register(Pledge)
class PledgeAdmin(TransferAdminMixin, HistoryAdmin):
    resource_classes = [resources.PledgeResource]
    form = PledgeForm
    list_display = ("ref", "title", "donor", "total_display", "outstanding_display", "status_display")
    list_filter = (("currency", PresentValuesFilter), "donor__kind")
    list_select_related = ("donor",)
    search_fields = ("ref", "title", "donor__name", "donor__ref", "agreement_ref")
    date_hierarchy = "start_date"
    autocomplete_fields = ("donor",)
    inlines = [InstalmentInline]
    readonly_fields = (
        "status_display",
        "received_display",
        "written_off_display",
        "outstanding_display",
        "overpaid_display",
        "overdue_instalments",
    )
    fieldsets = (
        (None, {"fields": ("ref", "donor", "title", "total", "currency", "start_date", "end_date", "agreement_ref")}),
        ("Restriction", {"fields": ("restricted_programme", "restricted_output")}),
        ("Schedule", {"fields": ("frequency", "count")}),
        ("Where it stands", {"fields": readonly_fields}),
        ("Cancellation", {"classes": ("collapse",), "fields": ("cancelled_on",)}),
    )

    def get_queryset(self, request):
        return selectors.pledges_with_figures(super().get_queryset(request))

    def get_changeform_initial_data(self, request):
        return {"ref": services.next_ref(Pledge, "PLG")}

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.cleaned_data.get("frequency"):
            try:
                services.instalments_generate(
                    pledge=form.instance, frequency=form.cleaned_data["frequency"], count=form.cleaned_data["count"]
                )
            except ValidationError as error:
                messages.error(request, f"The schedule was not generated: {error_text(error)}")

    def _money(self, obj, field):
        return money(getattr(obj, field, None), obj.currency) if obj.pk else "—"

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj):
        return money(obj.total, obj.currency)

    @admin.display(description="Received", ordering="received")
    def received_display(self, obj):
        return self._money(obj, "received")

    @admin.display(description="Written off")
    def written_off_display(self, obj):
        return self._money(obj, "written_off")

    @admin.display(description="Outstanding", ordering="outstanding")
    def outstanding_display(self, obj):
        return self._money(obj, "outstanding")

    @admin.display(description="Overpaid")
    def overpaid_display(self, obj):
        return self._money(obj, "overpaid")

    @admin.display(description="Status", ordering="status")
    def status_display(self, obj):
        return dict(Pledge.Status.choices).get(getattr(obj, "status", None), "—")

    @admin.display(description="Overdue instalments")
    def overdue_instalments(self, obj):
        if not obj.pk:
            return "—"
        overdue = [s for s in selectors.pledge_instalment_states(obj) if s.status == "overdue"]
        if not overdue:
            return "None"
        return format_html_join(
            ", ",
            "{} due {} ({} covered)",
            (
                (money(s.instalment.amount, obj.currency), s.instalment.due_date, money(s.covered, obj.currency))
                for s in overdue
            ),
        )


class PostedReadOnlyMixin:
    """Posted money records are shown read-only and only a superuser deletes anything."""

    def is_posted(self, obj) -> bool:
        return obj is not None and obj.pk is not None

    def has_change_permission(self, request, obj=None):
        if self.is_posted(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if self.is_posted(obj):
            return False
        return request.user.is_superuser


class DonationForm(forms.ModelForm):
    class Meta:
        model = Donation
        fields = "__all__"

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            services.donation_amounts(self.instance)
        except ValidationError as error:
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)


class DonationAllocationInline(admin.TabularInline):
    """A donation's allocations, read-only: they are made and reversed on the allocation pages."""

    model = Allocation
    fk_name = "donation"
    extra = 0
    fields = ("allocated_on", "output", "amount", "note", "reversal_of")
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    verbose_name_plural = "allocations (base currency)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("output", "reversal_of")


@admin.register(Donation)
class DonationAdmin(DonationPostingMixin, TransferAdminMixin, PostedReadOnlyMixin, HistoryAdmin):
    resource_classes = [resources.DonationResource]
    form = DonationForm
    inlines = [DonationAllocationInline]
    # Method, batch and the reversed donation are on the change page, the filters and the export.
    list_display = ("reference", "received_on", "donor", "amount_display", "base_display", "status", "pledge")
    list_filter = (
        "status",
        "method",
        ("currency", PresentValuesFilter),
        "received_on",
        ("batch", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("donor", "pledge", "batch", "reversal_of")
    search_fields = ("reference", "donor__name", "donor__ref", "pledge__ref", "note")
    date_hierarchy = "received_on"
    autocomplete_fields = ("donor", "pledge")
    raw_id_fields = ("instalment", "batch")
    actions = ["post_selected", "reverse_selected", "auto_allocate_selected"]
    readonly_fields = (
        "allocation_summary",
        "status",
        "rate_date",
        "rate_source",
        "base_amount",
        "pledge_amount",
        "posted_at",
        "posted_by",
        "reversal_info",
    )

    def is_posted(self, obj):
        return obj is not None and obj.status == Donation.Status.POSTED

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.currency)

    @admin.display(description="Base amount", ordering="base_amount")
    def base_display(self, obj):
        return _base(obj.base_amount)

    def has_post_permission(self, request):
        return request.user.has_perm("donors.post_donation")

    def has_reverse_permission(self, request):
        return request.user.has_perm("donors.reverse_donation")

    def has_allocate_permission(self, request):
        return request.user.has_perm("grants.add_allocation")

    @admin.display(description="Allocation")
    def allocation_summary(self, obj):
        if obj is None or not obj.pk or not obj.is_posted or obj.is_reversal:
            return "—"
        left = grant_services.donation_unallocated(obj)
        text = f"{_base(left)} unallocated, restriction: {obj.pledge.restriction_label if obj.pledge_id else 'none'}"
        if left <= 0 or Donation.objects.filter(reversal_of=obj).exists():
            return text
        url = reverse("admin:grants_allocation_add") + f"?donation={obj.pk}"
        return format_html('{} — <a href="{}">Allocate from this donation</a>', text, url)

    @admin.action(description="Auto-allocate selected posted donations", permissions=["allocate"])
    def auto_allocate_selected(self, request, queryset):
        def allocate(donation):
            made = grant_services.donation_auto_allocate(donation=donation, by=request.user)
            if not made:
                self.message_user(
                    request,
                    f"{donation}: nothing allocated (fully allocated, or no unfunded output in its restriction).",
                    messages.WARNING,
                )

        run_each(self, request, queryset, allocate, "Donations auto-allocated")

    @admin.action(description="Post selected draft donations", permissions=["post"])
    def post_selected(self, request, queryset):
        run_each(
            self,
            request,
            queryset.select_related("pledge"),
            lambda d: services.donation_post(donation=d, by=request.user),
            "Donations posted",
        )


class BatchDonationInline(admin.TabularInline):
    model = Donation
    fields = ("reference", "donor", "received_on", "amount", "currency", "status")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("donor")


@admin.register(DonationBatch)
class DonationBatchAdmin(HistoryAdmin):
    list_display = (
        "reference",
        "status",
        "expected_count",
        "entered_count",
        "expected_total",
        "entered_total",
        "currency",
        "posted_at",
    )
    list_filter = ("status",)
    search_fields = ("reference",)
    inlines = [BatchDonationInline]
    readonly_fields = ("status", "posted_at", "posted_by")
    actions = ["post_selected"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(entered_count=Count("donations"), entered_total=Sum("donations__amount"))
        )

    @admin.display(description="Entered", ordering="entered_count")
    def entered_count(self, obj):
        return obj.entered_count

    @admin.display(description="Entered total", ordering="entered_total")
    def entered_total(self, obj):
        return obj.entered_total if obj.entered_total is not None else "0.00"

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status == DonationBatch.Status.POSTED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and (obj is None or obj.status != DonationBatch.Status.POSTED)

    def has_post_permission(self, request):
        return request.user.has_perm("donors.post_donation")

    @admin.action(description="Post selected batches (count and total must match)", permissions=["post"])
    def post_selected(self, request, queryset):
        run_each(self, request, queryset, lambda b: services.batch_post(batch=b, by=request.user), "Batches posted")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(TransferAdminMixin, HistoryAdmin):
    resource_classes = [resources.ExchangeRateResource]
    list_display = ("currency", "date", "rate", "source")
    list_filter = (("currency", PresentValuesFilter), "source")
    search_fields = ("currency",)
    date_hierarchy = "date"

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class WriteOffForm(forms.ModelForm):
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, required=False, help_text="Leave blank to write off the rest."
    )

    class Meta:
        model = WriteOff
        fields = ("pledge", "amount", "reason", "written_off_on")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("pledge") and not self.errors:
            try:
                services.write_off_amount(
                    pledge=cleaned["pledge"], amount=cleaned.get("amount"), reason=cleaned.get("reason", "")
                )
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for field, errors in error.error_dict.items():
                        self.add_error(field if field in self.fields else None, errors)
                else:
                    self.add_error(None, error)
        return cleaned

    def _post_clean(self):
        # The model's own checks (amount sign, by) apply to what the service creates.
        pass


@admin.register(WriteOff)
class WriteOffAdmin(PostedReadOnlyMixin, HistoryAdmin):
    form = WriteOffForm
    list_display = ("pledge", "amount", "written_off_on", "by", "reason", "reversal_of")
    list_select_related = ("pledge", "by", "reversal_of")
    search_fields = ("pledge__ref", "pledge__donor__name", "reason")
    date_hierarchy = "written_off_on"
    autocomplete_fields = ("pledge",)
    actions = ["reverse_selected"]

    def save_model(self, request, obj, form, change):
        written = services.pledge_write_off(
            pledge=form.cleaned_data["pledge"],
            amount=form.cleaned_data.get("amount"),
            reason=form.cleaned_data["reason"],
            on=form.cleaned_data["written_off_on"],
            by=request.user,
        )
        # The admin logs and redirects using `obj`: make it the row the service wrote.
        for field in WriteOff._meta.concrete_fields:
            setattr(obj, field.attname, getattr(written, field.attname))
        obj._state.adding = False

    def get_readonly_fields(self, request, obj=None):
        return ("pledge", "amount", "reason", "written_off_on", "by", "reversal_of") if obj else ()

    def has_reverse_permission(self, request):
        return request.user.has_perm("donors.reverse_writeoff")

    @admin.action(description="Reverse selected write-offs", permissions=["reverse"])
    def reverse_selected(self, request, queryset):
        run_each(
            self,
            request,
            queryset,
            lambda w: services.writeoff_reverse(write_off=w, by=request.user, reason=""),
            "Write-offs reversed",
        )
