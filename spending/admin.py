"""Finance's screens for money out: agreements, budget versions (lines inline), expenses (charges inline,
split across agreements) with Post and Reverse confirmation pages. Every write goes through
`spending.services`; a posted expense and an approved budget are shown read-only."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from backoffice.admin_tools import HistoryAdmin, PresentValuesFilter, RecordAdmin, money, run_each
from backoffice.money import format_rate
from donors.admin import PostedReadOnlyMixin
from donors.admin_posting import ReversalForm, problems
from transfers.admin import TransferAdminMixin

from . import resources, selectors, services
from .models import Agreement, AuditPack, BudgetLine, BudgetVersion, Expense, ExpenseCharge, VarianceExplanation
from .views import AUDIT_PACK


def _table(headers, rows, table_id):
    head = format_html_join("", '<th scope="col">{}</th>', ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows)
    )
    return format_html('<table id="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', table_id, head, body)


# Agreements ------------------------------------------------------------------------------


class VariancePeriodForm(forms.Form):
    """The reporting period whose flagged lines are shown: by default the agreement's start to today (or its end)."""

    start = forms.DateField(label="From", help_text="YYYY-MM-DD")
    end = forms.DateField(label="To", help_text="YYYY-MM-DD")

    def __init__(self, data=None, *, agreement: Agreement):
        self.agreement = agreement
        default = {"start": agreement.start_date, "end": min(timezone.localdate(), agreement.end_date)}
        super().__init__(data if data is not None else None, initial=default)
        self.default = default

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", f"The period ends ({end}) before it starts ({start}).")
            elif start < self.agreement.start_date or end > self.agreement.end_date:
                self.add_error(
                    None,
                    f"The period must lie inside the agreement's, {self.agreement.start_date} to "
                    f"{self.agreement.end_date}.",
                )
        return cleaned

    def period(self):
        if not self.is_bound:
            return self.default["start"], self.default["end"]
        if self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return None, None


class BudgetVersionInline(admin.TabularInline):
    """The agreement's budget versions: listed here, made and approved on the budget version pages."""

    model = BudgetVersion
    extra = 0
    fields = ("number", "status", "approved_on", "approved_by_funder", "reason")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Agreement)
class AgreementAdmin(HistoryAdmin):
    list_display = ("funder_ref", "pledge", "start_date", "end_date", "currency", "status")
    list_filter = ("status",)
    list_select_related = ("pledge",)
    search_fields = ("funder_ref", "pledge__ref", "pledge__donor__name")
    autocomplete_fields = ("pledge",)
    inlines = [BudgetVersionInline]
    readonly_fields = ("currency", "budget_against_actual")
    fieldsets = [
        (None, {"fields": ("pledge", "funder_ref", "status", ("start_date", "end_date"), "currency")}),
        ("Terms", {"fields": ("variance_threshold", ("indirect_rate", "indirect_base"))}),
        ("Reporting", {"fields": ("reporting_frequency", "reporting_days_after")}),
        ("Budget against actual, to date", {"fields": ("budget_against_actual",)}),
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "pledge") if obj is not None and obj.pk else fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The audit packs show to the roles that may make and download them (spending/views.py).
        extra = dict(extra_context or {})
        if AUDIT_PACK.allows(request.user) and str(object_id).isdigit():
            extra["audit_pack_url"] = reverse("spending:audit_pack_new", args=[object_id])
            extra["audit_packs"] = AuditPack.objects.filter(agreement_id=object_id).select_related("requested_by")[:20]
        return super().change_view(request, object_id, form_url, extra_context=extra)

    # Variance explanations ---------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/variances/", view(self.variances_view), name="spending_agreement_variances"),
            *super().get_urls(),
        ]

    def variances_view(self, request, object_id):
        """The lines of a period whose variance passes the threshold, each with its explanation to the funder:
        Finance writes them here before the financial report of that period is made."""
        if not request.user.has_perm("spending.view_varianceexplanation"):
            raise PermissionDenied
        agreement = self.get_object(request, unquote(object_id))
        if agreement is None:
            raise Http404(f"There is no agreement with id {object_id}.")
        can_write = request.user.has_perm("spending.add_varianceexplanation")
        period = VariancePeriodForm(request.GET or None, agreement=agreement)
        start, end = period.period()
        figures = selectors.budget_vs_actual(agreement, start=start, end=end) if start else None
        flagged = figures.flagged if figures else []
        explained = selectors.explanations_for(agreement, start=start, end=end) if start else {}
        errors = {}
        if request.method == "POST" and figures is not None:
            if not can_write:
                raise PermissionDenied
            texts = {line.code: request.POST.get(f"text-{line.code}", "").strip() for line in flagged}
            try:
                with transaction.atomic():
                    for code, text in texts.items():
                        if text and (code not in explained or explained[code].text != text):
                            services.variance_explanation_save(
                                agreement=agreement, start=start, end=end, line_code=code, text=text, by=request.user
                            )
            except ValidationError as error:
                errors = {"": problems(error)}
            else:
                missing = [code for code, text in texts.items() if not text]
                self.message_user(
                    request,
                    f"Explanations saved for {start} to {end}."
                    + (f" Still to explain: {', '.join(missing)}." if missing else " Every flagged line is explained."),
                    messages.WARNING if missing else messages.SUCCESS,
                )
                return HttpResponseRedirect(request.get_full_path())
        c = agreement.currency
        rows = [
            {
                "line": line,
                "budget": money(line.period_budget, c),
                "actual": money(line.actual_period, c),
                "variance": money(line.variance, c),
                "pct": selectors.variance_text(line, c),
                "text": request.POST.get(f"text-{line.code}")
                if errors
                else getattr(explained.get(line.code), "text", ""),
                "written": explained.get(line.code),
            }
            for line in flagged
        ]
        return TemplateResponse(
            request,
            "admin/spending/agreement/variances.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Variance explanations: {agreement}",
                "agreement": agreement,
                "period_form": period,
                "start": start,
                "end": end,
                "rows": rows,
                "errors": errors.get("", []),
                "can_write": can_write,
                "threshold": f"{agreement.variance_threshold.normalize():f}",
                "change_url": reverse("admin:spending_agreement_change", args=[agreement.pk]),
            },
        )

    def save_model(self, request, obj, form, change):
        if change:
            obj.full_clean()
            obj.save()
            services.agreement_obligations_generate(agreement=obj)
            return
        data = {f: form.cleaned_data[f] for f in form.cleaned_data if f != "pledge"}
        created = services.agreement_create(pledge=form.cleaned_data["pledge"], **data)
        obj.pk, obj.currency, obj.created_at = created.pk, created.currency, created.created_at
        obj._state.adding = False

    @admin.display(description="Budget against actual")
    def budget_against_actual(self, obj):
        if obj is None or not obj.pk:
            return "—"
        end = min(timezone.localdate(), obj.end_date)
        if end < obj.start_date:
            return "The agreement has not started."
        figures = selectors.budget_vs_actual(obj, start=obj.start_date, end=end)
        c = obj.currency
        rows = [
            (
                f"{line.code} {line.description}",
                money(line.original, c),
                money(line.current, c),
                money(line.actual_to_date, c),
                money(line.remaining, c),
                money(line.forecast, c),
            )
            for line in figures.lines
        ]
        table = _table(
            ["Line", "Original budget", "Current budget", "Actual to date", "Remaining", "Forecast to the end"],
            rows,
            "budget-vs-actual",
        )
        return format_html(
            "{}<p>Received from the funder: {}. Spent, indirect costs included: {}. Balance held: {}.<br>"
            "Spend in other currencies converts at the {}.</p>"
            '<p><a href="{}" id="variance-explanations-link">Explain the variances of a reporting period</a></p>',
            table,
            money(figures.received_to_date, c),
            money(figures.spent_to_date, c),
            money(figures.balance, c),
            figures.method_text,
            reverse("admin:spending_agreement_variances", args=[obj.pk]),
        )


# Budget versions -------------------------------------------------------------------------


class BudgetLineFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        agreement = getattr(self.instance, "agreement", None)
        if agreement is None:
            return
        for form in self.forms:
            if not form.has_changed() or self._should_delete_form(form) or not form.is_valid():
                continue
            try:
                services.budget_line_check(agreement, form.instance)
            except ValidationError as error:
                for field, errors in error.error_dict.items():
                    form.add_error(field, errors)


class BudgetLineInline(admin.TabularInline):
    model = BudgetLine
    formset = BudgetLineFormSet
    extra = 0
    fields = ("code", "category", "description", "year", "amount", "output", "indirect_eligible")
    autocomplete_fields = ("output",)

    def has_change_permission(self, request, obj=None):
        return not (obj and obj.is_approved) and super().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return not (obj and obj.is_approved) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not (obj and obj.is_approved) and super().has_change_permission(request, obj)


@admin.register(BudgetVersion)
class BudgetVersionAdmin(PostedReadOnlyMixin, HistoryAdmin):
    list_display = ("__str__", "agreement", "number", "status", "approved_on", "approved_by_funder")
    list_filter = ("status",)
    list_select_related = ("agreement",)
    search_fields = ("agreement__funder_ref", "reason", "approved_by_funder")
    autocomplete_fields = ("agreement",)
    inlines = [BudgetLineInline]
    actions = ["approve_selected"]
    readonly_fields = ("number", "status", "revision_moves")
    fields = ("agreement", "number", "status", "reason", "approved_by_funder", "approved_on", "revision_moves")

    def is_posted(self, obj):
        return obj is not None and obj.pk is not None and obj.is_approved

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "agreement") if obj is not None and obj.pk else fields

    def has_approve_permission(self, request):
        return request.user.has_perm("spending.approve_budgetversion")

    def save_model(self, request, obj, form, change):
        if change:
            obj.full_clean()
            obj.save()
            return
        created = services.budget_version_create(
            agreement=obj.agreement, lines=[], reason=obj.reason, approved_by_funder=obj.approved_by_funder
        )
        if obj.approved_on:
            BudgetVersion.objects.filter(pk=created.pk).update(approved_on=obj.approved_on)
        obj.pk, obj.number, obj.created_at = created.pk, created.number, created.created_at
        obj._state.adding = False

    @admin.action(description="Approve the selected draft budget versions", permissions=["approve"])
    def approve_selected(self, request, queryset):
        run_each(
            self,
            request,
            queryset,
            lambda v: services.budget_version_approve(version=v, approved_on=v.approved_on or timezone.localdate()),
            "Budget versions approved",
        )

    @admin.display(description="Moves from the version before")
    def revision_moves(self, obj):
        if obj is None or not obj.pk or obj.number == 1:
            return "—"
        c = obj.agreement.currency
        rows = [
            (
                m.code,
                money(m.before, c),
                money(m.after, c),
                money(m.move, c),
                "—" if m.pct is None else f"{m.pct}%",
                "Needs the funder's prior approval" if m.flagged else "",
            )
            for m in selectors.revision_moves(obj)
        ]
        return _table(["Line", "Before", "After", "Move", "Move %", "Flag"], rows, "revision-moves")


# Expenses --------------------------------------------------------------------------------


class ChargeLineField(forms.ModelChoiceField):
    def label_from_instance(self, line):
        return f"{line.version.agreement.funder_ref} · {line.code} {line.description} ({line.year})"


def current_lines():
    """The lines of each agreement's current budget (its latest approved version), direct costs only."""
    latest = (
        BudgetVersion.objects.approved()
        .filter(agreement=OuterRef("version__agreement"))
        .order_by()
        .values("agreement")
        .annotate(n=Max("number"))
        .values("n")
    )
    return (
        BudgetLine.objects.filter(version__status=BudgetVersion.Status.APPROVED, version__number=Subquery(latest))
        .exclude(category=BudgetLine.Category.INDIRECT)
        .select_related("version__agreement")
        .order_by("version__agreement__funder_ref", "code", "year")
    )


class ChargeFormSet(forms.BaseInlineFormSet):
    """The charges are checked together, by the services' rules, before the expense is saved."""

    def asked(self) -> list[services.NewCharge]:
        return [
            services.NewCharge(
                line=form.cleaned_data["line"],
                amount=form.cleaned_data.get("amount"),
                share=form.cleaned_data.get("share"),
                output=form.cleaned_data.get("output"),
            )
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]

    def clean(self):
        super().clean()
        expense = self.instance
        if any(self.errors) or expense.amount is None or expense.incurred_on is None:
            return  # the expense's own fields are refused on the form above
        try:
            services.charges_check(expense=self.instance, charges=self.asked())
        except ValidationError as error:
            raise forms.ValidationError(problems(error)) from None


class ChargeForm(forms.ModelForm):
    line = ChargeLineField(queryset=BudgetLine.objects.none(), label="Agreement and budget line")
    amount = forms.DecimalField(max_digits=14, decimal_places=2, required=False)

    class Meta:
        model = ExpenseCharge
        fields = ("line", "amount", "share", "output")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = current_lines()

    def _post_clean(self):
        pass  # checked by the formset through the services, and written by them


class ExpenseChargeInline(admin.TabularInline):
    model = ExpenseCharge
    form = ChargeForm
    formset = ChargeFormSet
    extra = 2
    autocomplete_fields = ("output",)

    def get_fields(self, request, obj=None):
        if obj is not None and obj.is_posted:
            return ("agreement", "line", "output", "amount_display", "base_display", "spot_display")
        return ("line", "amount", "share", "output")

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None and obj.is_posted else ()

    def get_extra(self, request, obj=None, **kwargs):
        return 0 if obj is not None and obj.is_posted else self.extra

    def has_change_permission(self, request, obj=None):
        return not (obj and obj.is_posted) and super().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return not (obj and obj.is_posted) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not (obj and obj.is_posted) and super().has_change_permission(request, obj)

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.expense.currency)

    @admin.display(description="Base amount")
    def base_display(self, obj):
        return money(obj.base_amount, settings.BASE_CURRENCY)

    @admin.display(description="At the spot rate")
    def spot_display(self, obj):
        return money(obj.spot_amount, obj.agreement.currency)


class ExpenseForm(forms.ModelForm):
    class Meta:
        model = Expense
        fields = "__all__"

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            services.expense_amounts(self.instance)
        except ValidationError as error:
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)


@admin.register(Expense)
class ExpenseAdmin(TransferAdminMixin, PostedReadOnlyMixin, HistoryAdmin):
    resource_classes = [resources.ExpenseResource]
    form = ExpenseForm
    inlines = [ExpenseChargeInline]
    list_display = ("reference", "incurred_on", "paid_on", "payee", "amount_display", "base_display", "status")
    list_filter = ("status", ("currency", PresentValuesFilter), "incurred_on")
    search_fields = ("reference", "payee", "description", "charges__agreement__funder_ref")
    date_hierarchy = "incurred_on"
    readonly_fields = ("status", "rate_date", "rate_source", "base_display", "posted_at", "posted_by", "reversal_info")
    fieldsets = [
        (None, {"fields": ("reference", ("incurred_on", "paid_on"), "payee", "description")}),
        ("Amount", {"fields": (("amount", "currency"), "rate", "rate_date", "rate_source", "base_display")}),
        ("Evidence", {"fields": ("evidence",)}),
        ("Posting", {"fields": ("status", "posted_at", "posted_by", "reversal_info")}),
    ]

    def is_posted(self, obj):
        return obj is not None and obj.pk is not None and obj.is_posted

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.currency)

    @admin.display(description="Base amount", ordering="base_amount")
    def base_display(self, obj):
        return money(obj.base_amount, settings.BASE_CURRENCY)

    def save_formset(self, request, form, formset, change):
        if formset.model is ExpenseCharge:
            made = services.expense_charges_set(expense=form.instance, charges=formset.asked())
            # What the change message reads: the charges are replaced as a whole.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = made, [], []
            return
        super().save_formset(request, form, formset, change)

    # Post and Reverse ----------------------------------------------------------------

    def has_post_permission(self, request):
        return request.user.has_perm("spending.post_expense")

    def has_reverse_permission(self, request):
        return request.user.has_perm("spending.reverse_expense")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/post/", view(self.post_view), name="spending_expense_post"),
            path("<path:object_id>/reverse/", view(self.reverse_view), name="spending_expense_reverse"),
            *super().get_urls(),
        ]

    def _expense(self, request, object_id) -> Expense:
        expense = self.get_object(request, unquote(object_id))
        if expense is None:
            raise Http404(f"There is no expense with id {object_id}.")
        return expense

    def _page(self, request, template, expense, title, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "expense": expense,
                "change_url": reverse("admin:spending_expense_change", args=[expense.pk]),
                **context,
            },
        )

    def post_view(self, request, object_id):
        if not self.has_post_permission(request):
            raise PermissionDenied
        expense = self._expense(request, object_id)
        refused = []
        if request.method == "POST":
            try:
                posted = services.expense_post(expense=expense, by=request.user)
            except ValidationError as error:
                refused = problems(error)
            else:
                self.message_user(
                    request,
                    f"Expense {posted.reference} posted: {money(posted.amount, posted.currency)} = "
                    f"{money(posted.base_amount, settings.BASE_CURRENCY)}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:spending_expense_change", args=[posted.pk]))
        rows, charges = [], []
        try:
            preview = services.expense_post_preview(expense)
        except ValidationError as error:
            refused = refused or problems(error)
        else:
            rows = [
                ("Payee", expense.payee),
                ("Incurred on", str(expense.incurred_on)),
                ("Paid on", str(expense.paid_on)),
                ("Amount", money(expense.amount, expense.currency)),
                ("Rate", f"1 {expense.currency} = {format_rate(preview['rate'])} {settings.BASE_CURRENCY}"),
                ("Rate date", f"{preview['rate_date']} ({preview['rate_source']})"),
                ("Base amount", money(preview["base_amount"], settings.BASE_CURRENCY)),
            ]
            charges = [
                (
                    str(charge.agreement),
                    f"{charge.line.code} {charge.line.description}",
                    money(charge.amount, expense.currency),
                    money(posting["base_amount"], settings.BASE_CURRENCY),
                )
                for charge, posting in preview["charges"]
            ]
        return self._page(
            request,
            "admin/spending/expense/post_confirmation.html",
            expense,
            f"Post expense {expense.reference}",
            rows=rows,
            charges=charges,
            refused=refused,
        )

    def reverse_view(self, request, object_id):
        if not self.has_reverse_permission(request):
            raise PermissionDenied
        expense = self._expense(request, object_id)
        form = ReversalForm(request.POST if request.method == "POST" else None)
        refused = []
        try:
            services.expense_reverse_check(expense)
        except ValidationError as error:
            refused = problems(error)
        if not refused and form.is_bound and form.is_valid():
            try:
                reversal = services.expense_reverse(
                    expense=expense, by=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                refused = problems(error)
            else:
                self.message_user(
                    request,
                    f"Expense {expense.reference} reversed by {reversal.reference}: "
                    f"{money(reversal.amount, reversal.currency)}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:spending_expense_change", args=[expense.pk]))
        return self._page(
            request,
            "admin/spending/expense/reverse_confirmation.html",
            expense,
            f"Reverse expense {expense.reference}",
            form=form,
            refused=refused,
            amount=money(expense.amount, expense.currency),
            reversal_amount=money(-expense.amount, expense.currency),
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            if not obj.is_posted and self.has_post_permission(request):
                context["post_url"] = reverse("admin:spending_expense_post", args=[obj.pk])
            reversible = obj.is_posted and obj.reversal_of_id is None and not hasattr(obj, "reversed_by")
            if reversible and self.has_reverse_permission(request):
                context["reverse_url"] = reverse("admin:spending_expense_reverse", args=[obj.pk])
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.display(description="Reversal")
    def reversal_info(self, obj):
        if obj is None or not obj.pk:
            return "—"
        if obj.reversal_of_id:
            original = obj.reversal_of
            url = reverse("admin:spending_expense_change", args=[original.pk])
            return format_html('Reverses <a href="{}">{}</a>. Reason: {}', url, original.reference, obj.reversal_reason)
        reversal = Expense.objects.filter(reversal_of=obj).first()
        if reversal is None:
            return "—"
        url = reverse("admin:spending_expense_change", args=[reversal.pk])
        return format_html(
            'Reversed by <a href="{}">{}</a>. Reason: {}', url, reversal.reference, reversal.reversal_reason
        )


@admin.register(VarianceExplanation)
class VarianceExplanationAdmin(RecordAdmin, HistoryAdmin):
    """Read here; written on each agreement's "Variance explanations" page, beside the flagged lines."""

    list_display = ("agreement", "period_start", "period_end", "line_code", "written_by", "written_at")
    list_filter = ("period_end",)
    list_select_related = ("agreement", "written_by")
    search_fields = ("agreement__funder_ref", "line_code", "text")
    readonly_fields = ("agreement", "period_start", "period_end", "line_code", "text", "written_by", "written_at")
