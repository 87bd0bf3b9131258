from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from backoffice.admin_tools import (
    AmountsInPlacesForm,
    HistoryAdmin,
    PresentValuesFilter,
    RecordAdmin,
    ShownAsMixin,
    error_text,
    money,
    run_each,
)
from backoffice.money import MONEY_DIGITS, STORED_PLACES, format_rate
from delivery.models import Delivery
from grants import services as grant_services
from grants.models import Allocation
from reports.admin_actions import ReportActionsMixin, generate_donor_summary
from transfers.admin import DonorImportForm, TransferAdminMixin

from . import resources, selectors, services
from .admin_merge import DonorMergeMixin
from .admin_posting import DonationPostingMixin
from .models import (
    Activity,
    Contact,
    Donation,
    DonationBatch,
    Donor,
    DonorRelationship,
    ExchangeRate,
    Instalment,
    Pledge,
    SoftCredit,
    WriteOff,
)

LOG_ENTRIES = 10  # the donor page's latest activity; the activity list has the rest


def _base(amount):
    return money(amount, settings.BASE_CURRENCY)


def _autocomplete(request, model_name: str, field_name: str) -> bool:
    """Is this the admin's autocomplete search for `model_name.field_name`?"""
    return (
        getattr(request.resolver_match, "url_name", None) == "autocomplete"
        and request.GET.get("model_name") == model_name
        and request.GET.get("field_name") == field_name
    )


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ("name", "email", "role", "receives_reports")
    show_change_link = True  # phone, address and the data-protection record are on the contact's page


class PartOfInline(admin.TabularInline):
    model = DonorRelationship
    fk_name = "donor"
    extra = 0
    fields = ("kind", "parent")
    autocomplete_fields = ("parent",)
    verbose_name = "part of another donor"
    verbose_name_plural = "part of (a government's ministry or agency, a company's foundation, a fund's member)"


class PledgeInline(admin.TabularInline):
    model = Pledge
    extra = 0
    fields = ("ref", "title", "total_display", "start_date", "end_date")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Total")
    def total_display(self, obj):
        return money(obj.total, obj.currency)


@admin.register(Donor)
class DonorAdmin(DonorMergeMixin, ReportActionsMixin, TransferAdminMixin, HistoryAdmin):
    resource_classes = [resources.DonorResource]
    change_list_template = "admin/donors/donor/change_list.html"  # import-export's extends it
    import_form_class = DonorImportForm
    # What fits a laptop screen; country and largest gift are on the change page, the filters and the export.
    list_display = ("ref", "name", "kind", "status", "lifetime", "this_year", "last_gift_on")
    list_filter = ("kind", "status", ("country", PresentValuesFilter), "publicly_acknowledged")
    search_fields = ("ref", "name", "external_ref")
    inlines = [ContactInline, PartOfInline, PledgeInline]
    actions = [generate_donor_summary]
    readonly_fields = ("lifetime", "this_year", "largest", "last_gift_on", "soft_credits", "group", "activity_log")
    fieldsets = (
        (None, {"fields": ("ref", "name", "kind", "country", "preferred_currency", "language", "status")}),
        ("Acknowledgement and notes", {"fields": ("publicly_acknowledged", "external_ref", "notes")}),
        ("Giving (base currency, net of reversals)", {"fields": ("lifetime", "this_year", "largest", "last_gift_on")}),
        ("Soft credits", {"fields": ("soft_credits",)}),
        ("Group", {"fields": ("group",)}),
        ("Activity", {"fields": ("activity_log",)}),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # nothing to show of a donor not yet recorded
            return self.fieldsets[:3]
        return self.fieldsets

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "language":
            # A form posted without the field (a script written before languages) keeps the donor's
            # language, English for a new donor; the page's select always sends one.
            kwargs["required"], kwargs["empty_value"] = False, db_field.default
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="Group giving")
    def group(self, obj):
        group = selectors.donor_group(obj)
        if len(group.members) == 1:
            return "Not part of a group. Add a relationship below to join it to its government, company or fund."
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td class="num">{}</td></tr>',
            (
                (reverse("admin:donors_donor_change", args=[m.pk]), m.name,
                 "; ".join(group.relations.get(m.pk, [])) or "—", _base(m.lifetime_giving or Decimal(0)))
                for m in group.members
            ),
        )  # fmt: skip
        return format_html(
            "<table class=\"group-giving\"><caption>The group's lifetime giving, each donor's own gifts "
            '(hard credit)</caption><thead><tr><th scope="col">Donor</th><th scope="col">Relationship</th>'
            '<th scope="col" class="num">Lifetime giving</th></tr></thead><tbody>{}</tbody><tfoot><tr>'
            '<th scope="row" colspan="2">Group total, hard credit</th><td class="num">{}</td></tr><tr>'
            '<th scope="row" colspan="2">Soft credit: paid for the group by donors outside it</th>'
            '<td class="num">{}</td></tr></tfoot></table>',
            rows,
            _base(group.lifetime_hard),
            _base(group.soft_from_outside),
        )

    @admin.display(description="Soft credits")
    def soft_credits(self, obj):
        """Gifts others paid for this donor, and this donor's gifts credited to others (standing ones only)."""
        received = selectors.soft_credits_received(donor=obj)
        given = selectors.soft_credits_given(donor=obj)
        if not received and not given:
            return "None: no other donor's gift is credited to this donor, and none of its gifts to another."

        def table(caption, other_label, rows):
            body = format_html_join(
                "",
                '<tr><td>{}</td><td><a href="{}">{}</a></td><td><a href="{}">{}</a></td><td>{}</td>'
                '<td class="num">{}</td><td class="num">{}</td></tr>',
                rows,
            )
            return format_html(
                '<table class="soft-credits"><caption>{}</caption><thead><tr><th scope="col">Received</th>'
                '<th scope="col">Donation</th><th scope="col">{}</th><th scope="col">Kind</th>'
                '<th scope="col" class="num">Amount</th><th scope="col" class="num">Base amount</th></tr></thead>'
                "<tbody>{}</tbody></table>",
                caption,
                other_label,
                body,
            )

        def rows(credits, other):
            return [
                (
                    f"{c.donation.received_on:%-d %b %Y}",
                    reverse("admin:donors_donation_change", args=[c.donation_id]),
                    c.donation.reference,
                    reverse("admin:donors_donor_change", args=[other(c).pk]),
                    other(c).name,
                    c.get_kind_display(),
                    money(c.amount, c.donation.currency),
                    _base(c.base_amount),
                )
                for c in credits
            ]

        parts = []
        if received:
            parts.append(
                table(
                    "Received through others: soft credit (the payer keeps the hard credit)",
                    "Paid by",
                    rows(received, lambda c: c.donation.donor),
                )
            )
        if given:
            parts.append(
                table(
                    "This donor's gifts credited to others (hard credit here)",
                    "Credited to",
                    rows(given, lambda c: c.donor),
                )
            )
        return format_html_join("", "{}", ((p,) for p in parts))

    @admin.display(description="Latest activity")
    def activity_log(self, obj):
        """Meetings, calls, emails and notes recorded here, and the reports Fundtrace emailed, newest first."""
        entries = [
            (a.happened_on, a.get_kind_display(), a.contact.name if a.contact else "—", a.summary,
             f"{a.next_step} (by {a.next_step_on:%-d %b %Y})" if a.next_step and not a.next_step_done_on else "—")
            for a in obj.activities.select_related("contact")[:LOG_ENTRIES]
        ]  # fmt: skip
        sent = Delivery.objects.filter(run__donor=obj, status=Delivery.Status.SENT).select_related("contact", "run")
        entries += [
            (timezone.localdate(d.sent_at), "Email sent by Fundtrace", d.contact.name,
             f"{d.run.get_kind_display()}, {d.run.period_start:%-d %b %Y} – {d.run.period_end:%-d %b %Y}, "
             f"to {d.email}", "—")
            for d in sent.order_by("-sent_at")[:LOG_ENTRIES]
        ]  # fmt: skip
        entries = sorted(entries, key=lambda e: e[0], reverse=True)[:LOG_ENTRIES]
        add = f"{reverse('admin:donors_activity_add')}?donor={obj.pk}"
        if not entries:
            return format_html('Nothing recorded yet. <a href="{}">Record a meeting, call or note</a>.', add)
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((f"{day:%-d %b %Y}", kind, who, summary, step) for day, kind, who, summary, step in entries),
        )  # fmt: skip
        return format_html(
            '<table class="activity-log"><thead><tr><th scope="col">Day</th><th scope="col">What</th>'
            '<th scope="col">With</th><th scope="col">Summary</th><th scope="col">Next step</th></tr></thead>'
            '<tbody>{}</tbody></table><p><a href="{}">Record a meeting, call or note</a> · '
            '<a href="{}">All of this donor\'s activity</a></p>',
            rows,
            add,
            f"{reverse('admin:donors_activity_changelist')}?donor__id__exact={obj.pk}",
        )

    def get_queryset(self, request):
        return selectors.donors_with_giving(super().get_queryset(request))

    def get_search_results(self, request, queryset, search_term):
        """The donor pickers (the admin's autocomplete) offer no merged donor: its records lead to its survivor."""
        queryset, distinct = super().get_search_results(request, queryset, search_term)
        if getattr(request.resolver_match, "url_name", None) == "autocomplete":
            queryset = queryset.filter(merged_into__isnull=True)
        return queryset, distinct

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


class RetentionReviewFilter(admin.SimpleListFilter):
    title = "retention review"
    parameter_name = "retention"

    def lookups(self, request, model_admin):
        return (("due", f"No activity or gift in {settings.RETENTION_REVIEW_YEARS} years"),)

    def queryset(self, request, queryset):
        if self.value() == "due":
            return queryset.filter(pk__in=selectors.contacts_for_retention_review().values("pk"))
        return queryset


@admin.register(Contact)
class ContactAdmin(TransferAdminMixin, HistoryAdmin):
    resource_classes = [resources.ContactResource]
    list_display = ("name", "email", "donor", "role", "receives_reports", "objected_to_email_on")
    list_filter = (
        "receives_reports", "lawful_basis", ("objected_to_email_on", admin.EmptyFieldListFilter),
        RetentionReviewFilter,
    )  # fmt: skip
    list_select_related = ("donor",)
    search_fields = ("name", "email", "phone", "donor__name", "donor__ref")
    autocomplete_fields = ("donor",)
    fieldsets = (
        (None, {"fields": ("donor", "name", "email", "role", "phone", "address", "receives_reports", "owner")}),
        (
            "Data protection",
            {
                "fields": ("lawful_basis", "consent_given_on", "consent_method", "objected_to_email_on"),
                "description": "Under UK GDPR: the basis on which the alliance holds this person's data, and "
                "whether they objected to email. No report email goes to a contact who objected; the "
                "delivery log says so.",
            },
        ),
    )


class NextStepFilter(admin.SimpleListFilter):
    title = "next step"
    parameter_name = "next_step"

    def lookups(self, request, model_admin):
        return (("mine", "Mine, open"), ("open", "Open"), ("overdue", "Overdue"), ("done", "Done"))

    def queryset(self, request, queryset):
        open_steps = queryset.filter(next_step_on__isnull=False, next_step_done_on__isnull=True)
        match self.value():
            case "mine":
                return open_steps.filter(owner=request.user)
            case "open":
                return open_steps
            case "overdue":
                return open_steps.filter(next_step_on__lt=timezone.localdate())
            case "done":
                return queryset.filter(next_step_done_on__isnull=False)
        return queryset


@admin.register(Activity)
class ActivityAdmin(HistoryAdmin):
    list_display = (
        "happened_on",
        "donor",
        "kind",
        "contact",
        "next_step",
        "next_step_on",
        "next_step_done_on",
        "owner",
    )
    list_filter = (NextStepFilter, "kind", ("owner", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("donor", "contact", "owner")
    search_fields = ("summary", "next_step", "donor__name", "donor__ref", "contact__name")
    autocomplete_fields = ("donor", "contact")
    date_hierarchy = "happened_on"
    actions = ["mark_next_steps_done"]
    fieldsets = (
        (None, {"fields": ("donor", "contact", "kind", "happened_on", "summary")}),
        ("Next step", {"fields": ("next_step", "next_step_on", "owner", "next_step_done_on")}),
    )

    def get_changeform_initial_data(self, request):
        return {"happened_on": timezone.localdate(), **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        services.activity_save(activity=obj, by=request.user)

    @admin.action(description="Mark the selected next steps done today", permissions=["change"])
    def mark_next_steps_done(self, request, queryset):
        done = services.next_steps_done(activities=queryset)
        self.message_user(request, f"{done} next step{'' if done == 1 else 's'} marked done.", messages.SUCCESS)


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


class InstalmentForm(AmountsInPlacesForm):
    amount_currency = {"amount": "pledge.currency"}


class BatchForm(AmountsInPlacesForm):
    amount_currency = {"expected_total": "currency"}


class InstalmentInline(ShownAsMixin, admin.TabularInline):
    """The schedule, each instalment with whether it is paid, part paid, overdue or due, and the
    donations (and write-offs) that pay it: `selectors.pledge_instalment_states`, the rule's home."""

    model = Instalment
    form = InstalmentForm
    formset = InstalmentFormSet
    extra = 0
    fields = ("due_date", "amount", "state", "paid_by")
    readonly_fields = ("state", "paid_by")
    shown_as = {"amount": "amount_display"}

    def _state(self, obj):
        if obj is None or obj.pk is None:
            return None
        states = getattr(self, "_states", {})
        if obj.pledge_id not in states:
            states[obj.pledge_id] = {s.instalment.pk: s for s in selectors.pledge_instalment_states(obj.pledge)}
            self._states = states
        return states[obj.pledge_id].get(obj.pk)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("pledge")  # each row's currency, in one query

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.pledge.currency)

    @admin.display(description="State")
    def state(self, obj):
        state = self._state(obj)
        return _state_text(state.status, state.covered, obj.pledge.currency) if state else "—"

    @admin.display(description="Paid by")
    def paid_by(self, obj):
        state = self._state(obj)
        return _paid_by(state.paid_by, obj.pledge.currency) if state else "—"


INSTALMENT_STATES = {"paid": "Paid", "part_paid": "Part paid", "overdue": "Overdue", "due": "Due"}


def _state_text(status: str, covered, currency: str) -> str:
    if status in ("part_paid", "overdue") and covered:
        return f"{INSTALMENT_STATES[status]}: {money(covered, currency)} paid"
    return INSTALMENT_STATES[status]


def _paid_by(payments, currency: str):
    """Links to the donations (and write-offs) that pay an instalment, each with the part it pays."""
    if not payments:
        return "—"
    return format_html_join(
        ", ",
        '<a href="{}">{}</a> ({})',
        (
            (
                reverse(f"admin:donors_{p.kind.replace('_', '')}_change", args=[p.entry_id]),
                p.label,
                money(p.amount, currency),
            )
            for p in payments
        ),
    )


class InstalmentStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return list(INSTALMENT_STATES.items())

    def queryset(self, request, queryset):
        return queryset.filter(cover_status=self.value()) if self.value() in INSTALMENT_STATES else queryset


class InstalmentChangeList(ChangeList):
    def get_results(self, request):
        """The page's instalments, each with what pays it (`selectors.instalments_paid_by`: three
        queries for the page, not three per row)."""
        super().get_results(request)
        paid_by = selectors.instalments_paid_by({i.pledge_id for i in self.result_list})
        for instalment in self.result_list:
            instalment.paid_by = paid_by.get(instalment.pk, ())


@admin.register(Instalment)
class InstalmentAdmin(RecordAdmin, HistoryAdmin):
    """Every pledge's instalments, where each stands and what paid it. Read-only: a schedule is
    edited on its pledge's page, where it must still add up to the pledge total."""

    # The donor is on the page and in the search; the list keeps to what fits 1366 px.
    list_display = ("pledge", "due_date", "amount_display", "state", "paid_by_display")
    fields = ("pledge", "donor", "due_date", "amount_display", "state", "paid_by_display")
    readonly_fields = fields
    list_select_related = ("pledge__donor",)
    list_filter = (InstalmentStateFilter,)
    search_fields = ("pledge__ref", "pledge__title", "pledge__donor__name", "pledge__donor__ref")
    ordering = ("due_date", "id")

    def get_queryset(self, request):
        # Whole pledges only: an instalment's cover depends on the instalments due before it.
        return selectors.instalments_with_cover(super().get_queryset(request))

    def get_changelist(self, request, **kwargs):
        return InstalmentChangeList

    @admin.display(description="Donor", ordering="pledge__donor__name")
    def donor(self, obj):
        return obj.pledge.donor

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.pledge.currency)

    # A past version (history) has no cover: where an instalment stands is today's figure.

    @admin.display(description="State", ordering="cover_status")
    def state(self, obj):
        if not hasattr(obj, "cover_status"):
            return "—"
        return _state_text(obj.cover_status, obj.covered, obj.pledge.currency)

    @admin.display(description="Paid by")
    def paid_by_display(self, obj):
        if not hasattr(obj, "cover_status"):
            return "—"
        if not hasattr(obj, "paid_by"):  # the instalment's own page
            obj.paid_by = selectors.instalments_paid_by([obj.pledge_id]).get(obj.pk, ())
        return _paid_by(obj.paid_by, obj.pledge.currency)


class PledgeForm(AmountsInPlacesForm):
    amount_currency = {"total": "currency"}

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
class PledgeAdmin(ShownAsMixin, TransferAdminMixin, HistoryAdmin):
    resource_classes = [resources.PledgeResource]
    form = PledgeForm
    shown_as = {"total": "total_display"}
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

    def get_search_results(self, request, queryset, search_term):
        """The donation form's pledge picker sends the chosen donor (donors/static/donors/donation_form.js):
        it offers that donor's pledges only."""
        queryset, distinct = super().get_search_results(request, queryset, search_term)
        donor = request.GET.get("donor", "")
        if _autocomplete(request, "donation", "pledge") and donor.isdigit():
            queryset = queryset.filter(donor_id=int(donor))
        return queryset, distinct

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


class DonationForm(AmountsInPlacesForm):
    amount_currency = {"amount": "currency"}

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
    fields = ("allocated_on", "output", "amount_display", "note", "reversal_of")
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

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return _base(obj.amount)


class DonationSoftCreditInline(admin.TabularInline):
    """A donation's soft credits, read-only: they are recorded and removed on the soft credit pages."""

    model = SoftCredit
    fk_name = "donation"
    extra = 0
    fields = ("donor", "kind", "amount_display", "base_display", "created_by", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    verbose_name_plural = "soft credits (the donor above keeps the hard credit)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("donor", "donation", "created_by")

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.donation.currency)

    @admin.display(description="Base amount")
    def base_display(self, obj):
        return _base(obj.base_amount)


class PledgeOfDonorSelect(AutocompleteSelect):
    """The pledge picker of the donation form. Its script, loaded after the admin's autocomplete
    script, adds the chosen donor to each search (PledgeAdmin.get_search_results)."""

    @property
    def media(self):
        # One list, after autocomplete.js: Media orders files within a list, not between lists.
        admin_media = super().media
        return forms.Media(css=admin_media._css, js=[*admin_media._js, "donors/donation_form.js"])


@admin.register(Donation)
class DonationAdmin(ShownAsMixin, DonationPostingMixin, TransferAdminMixin, PostedReadOnlyMixin, HistoryAdmin):
    resource_classes = [resources.DonationResource]
    shown_as = {"amount": "amount_display", "rate": "rate_display"}
    form = DonationForm
    inlines = [DonationAllocationInline, DonationSoftCreditInline]
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
    autocomplete_fields = ("donor", "pledge", "batch")
    raw_id_fields = ("instalment",)
    actions = ["post_selected", "reverse_selected", "auto_allocate_selected"]
    readonly_fields = (
        "allocation_summary",
        "soft_credit_summary",
        "status",
        "rate_date",
        "rate_source",
        "base_display",
        "pledge_amount_display",
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

    @admin.display(description="Pledge amount")
    def pledge_amount_display(self, obj):
        """What the donation counts for in the pledge's currency."""
        return money(obj.pledge_amount, obj.pledge.currency) if obj.pledge_id else "—"

    @admin.display(description="Rate")
    def rate_display(self, obj):
        return format_rate(obj.rate)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "pledge":
            kwargs["widget"] = PledgeOfDonorSelect(db_field, self.admin_site)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

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

    @admin.display(description="Soft credit")
    def soft_credit_summary(self, obj):
        if obj is None or not obj.pk or not obj.is_posted or obj.is_reversal:
            return "—"
        credited = obj.soft_credits.aggregate(s=Sum("amount"))["s"] or Decimal(0)
        text = f"{money(credited, obj.currency)} of {money(obj.amount, obj.currency)} credited to other donors"
        if credited >= obj.amount or Donation.objects.filter(reversal_of=obj).exists():
            return text
        url = reverse("admin:donors_softcredit_add") + f"?donation={obj.pk}"
        return format_html('{} — <a href="{}">Credit this donation to another donor</a>', text, url)

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


@admin.register(DonationBatch)
class DonationBatchAdmin(ShownAsMixin, HistoryAdmin):
    form = BatchForm
    list_display = (
        "reference",
        "status",
        "expected_count",
        "entered_count",
        "expected_total_display",
        "entered_total",
        "posted_at",
    )
    list_filter = ("status",)
    search_fields = ("reference",)
    ordering = ("-created_at", "-id")  # the model's ordering is dropped by the counts' GROUP BY
    fields = (
        ("reference", "currency"),
        ("expected_count", "expected_total"),
        "entered",
        ("status", "posted_at", "posted_by"),
    )
    readonly_fields = ("entered", "status", "posted_at", "posted_by")
    shown_as = {"expected_total": "expected_total_display"}
    actions = ["post_selected"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(entered_count=Count("donations"), entered_total=Sum("donations__amount"))
        )

    def get_search_results(self, request, queryset, search_term):
        """The donation form's batch search offers the batches that take donations: open, with a currency."""
        queryset, distinct = super().get_search_results(request, queryset, search_term)
        if _autocomplete(request, "donation", "batch"):
            queryset = queryset.filter(status=DonationBatch.Status.OPEN).exclude(currency="")
        return queryset, distinct

    def _entered_total(self, obj) -> str:
        if not obj.currency:  # a batch recorded in several currencies (migration 0013)
            return "several currencies" if obj.entered_count else "—"
        return money(obj.entered_total or Decimal("0.00"), obj.currency)

    @admin.display(description="Entered", ordering="entered_count")
    def entered_count(self, obj):
        return obj.entered_count

    @admin.display(description="Expected total", ordering="expected_total")
    def expected_total_display(self, obj):
        if not obj.currency:
            return f"{obj.expected_total:,.2f} (no currency)"
        return money(obj.expected_total, obj.currency)

    @admin.display(description="Entered total", ordering="entered_total")
    def entered_total(self, obj):
        return self._entered_total(obj)

    @admin.display(description="Entered so far")
    def entered(self, obj):
        """The expected and the entered count and total side by side, and a way to add the next donation."""
        if obj is None or obj.pk is None:
            return "—"
        text = (
            f"{obj.entered_count} of {obj.expected_count} donations, "
            f"{self._entered_total(obj)} of {self.expected_total_display(obj)}"
        )
        if refusal := obj.refusal():
            return f"{text}. {refusal}"
        match = obj.entered_count == obj.expected_count and (obj.entered_total or 0) == obj.expected_total
        text += ": they match the batch." if match else "."
        # A link to the donation list, not an inline: an imported batch can hold 100,000 donations.
        listed = reverse("admin:donors_donation_changelist") + "?" + urlencode({"batch__id__exact": obj.pk})
        add = reverse("admin:donors_donation_add") + "?" + urlencode({"batch": obj.pk, "currency": obj.currency})
        return format_html(
            '{} <a href="{}">See its donations</a> · <a href="{}">Add a donation to this batch</a>', text, listed, add
        )

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
class ExchangeRateAdmin(ShownAsMixin, TransferAdminMixin, HistoryAdmin):
    resource_classes = [resources.ExchangeRateResource]
    list_display = ("currency", "date", "rate_display", "source")
    shown_as = {"rate": "rate_display"}
    list_filter = (("currency", PresentValuesFilter), "source")
    search_fields = ("currency",)
    date_hierarchy = "date"

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.display(description="Rate", ordering="rate")
    def rate_display(self, obj):
        return format_rate(obj.rate)


class WriteOffForm(forms.ModelForm):
    amount = forms.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=STORED_PLACES,
        required=False,
        help_text="Leave blank to write off the rest.",
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
    list_display = ("pledge", "amount_display", "written_off_on", "by", "reason", "reversal_of")
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
        return ("pledge", "amount_display", "reason", "written_off_on", "by", "reversal_of") if obj else ()

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) if obj else super().get_fields(request, obj)

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.pledge.currency)

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


class SoftCreditForm(forms.ModelForm):
    """Checked by the service's own rules in clean, so a refusal shows as a form error."""

    class Meta:
        model = SoftCredit
        fields = ("donation", "donor", "kind", "amount")
        help_texts = {
            "donation": "A posted donation. Its donor (the payer) keeps the hard credit.",
            "donor": "The donor the gift is credited to.",
            "amount": "In the donation's currency. Leave blank to credit what is left of the donation.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "amount" in self.fields:  # the add form; a recorded soft credit's page shows it read-only
            self.fields["amount"].required = False

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            cleaned["amount"] = services.soft_credit_check(
                donation=cleaned["donation"], donor=cleaned["donor"], amount=cleaned.get("amount")
            )
        except ValidationError as error:
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned

    def _post_clean(self):
        # The model's checks apply to what the service creates (with its base amount).
        pass


@admin.register(SoftCredit)
class SoftCreditAdmin(HistoryAdmin):
    form = SoftCreditForm
    list_display = ("donation", "payer", "donor", "kind", "amount_display", "base_display", "created_at")
    list_filter = ("kind", "created_at")
    list_select_related = ("donation__donor", "donor")
    search_fields = ("donation__reference", "donation__donor__name", "donor__name", "donor__ref")
    autocomplete_fields = ("donation", "donor")

    def get_fields(self, request, obj=None):
        if obj:
            return self.get_readonly_fields(request, obj)
        return ("donation", "donor", "kind", "amount")

    def get_readonly_fields(self, request, obj=None):
        if obj:
            return ("donation", "payer", "donor", "kind", "amount_display", "base_display", "created_by", "created_at")
        return ()

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("donors.delete_softcredit")

    def get_changeform_initial_data(self, request):
        return {"donation": request.GET.get("donation"), "kind": SoftCredit.Kind.ON_BEHALF}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "donor":
            kwargs["queryset"] = Donor.objects.unmerged()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        made = services.soft_credit_create(
            donation=data["donation"], donor=data["donor"], kind=data["kind"], amount=data["amount"], by=request.user
        )
        # The admin logs and redirects with `obj`: make it the soft credit the service made.
        for field in SoftCredit._meta.concrete_fields:
            setattr(obj, field.attname, getattr(made, field.attname))
        form.instance = obj

    def delete_model(self, request, obj):
        services.soft_credit_remove(soft_credit=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for soft_credit in queryset:
            services.soft_credit_remove(soft_credit=soft_credit, by=request.user)

    @admin.display(description="Paid by")
    def payer(self, obj):
        return obj.donation.donor

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.donation.currency)

    @admin.display(description="Base amount", ordering="base_amount")
    def base_display(self, obj):
        return _base(obj.base_amount)
