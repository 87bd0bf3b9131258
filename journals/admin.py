"""The account map Finance keeps, the journal log, and the exports started from the back office:
"Export a journal" (everything not yet exported, from a day on) and the batch list's actions."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from backoffice.admin_tools import PresentValuesFilter, RecordAdmin, error_text, money

from . import services
from .models import AccountMap, JournalEntry, JournalExport, LedgerBatch
from .views import EXPORT, JOURNAL_EXPORT, journal_file_response


@admin.register(AccountMap)
class AccountMapAdmin(admin.ModelAdmin):
    list_display = ("kind", "key", "account_code", "account_name", "tracking_category", "tax_rate")
    list_filter = ("kind",)
    search_fields = ("account_code", "account_name", "programme__name", "programme__code")
    fields = (
        "kind",
        ("restriction", "method"),
        "category",
        "currency",
        "programme",
        ("account_code", "account_name"),
        "tax_rate",
        "tracking_category",
    )

    @admin.display(description="Postings")
    def key(self, obj):
        return obj.key_label()


class JournalEntryInline(admin.TabularInline):
    model = JournalEntry
    fields = ("number", "day", "kind", "narration", "total")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Debits")
    def total(self, obj):
        return money(obj.total_debits, obj.export.currency)


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=JournalExport.Format.choices)
    since = forms.DateField(
        required=False,
        help_text="Postings from this day on (YYYY-MM-DD); blank: every posting not yet exported. "
        "A posting already exported is never exported again.",
    )


@admin.register(JournalExport)
class JournalExportAdmin(RecordAdmin):
    list_display = ("__str__", "format", "since", "entry_count", "debits", "exported_by", "exported_at", "file")
    list_filter = ("format",)
    fields = ("filename", "format", "since", "entry_count", "debits", "sha256", "exported_by", "exported_at", "file")
    readonly_fields = fields
    inlines = [JournalEntryInline]

    @admin.display(description="Total debits")
    def debits(self, obj):
        return money(obj.total_debits, obj.currency)

    @admin.display(description="File")
    def file(self, obj):
        return format_html('<a href="{}">Download {}</a>', reverse("journals:export_download", args=[obj.pk]),
                           obj.filename)  # fmt: skip

    def get_urls(self):
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="journals_journalexport_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_export": request.user.has_perm(EXPORT)}
        return super().changelist_view(request, extra_context)

    def export_view(self, request):
        if not request.user.has_perm(EXPORT):
            raise JOURNAL_EXPORT.refusal()
        form = ExportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                export = services.journal_export(
                    format=form.cleaned_data["format"], since=form.cleaned_data["since"], by=request.user
                )
            except ValidationError as error:
                form.add_error(None, error_text(error))
            else:
                self.message_user(request, f"{export}: {export.entry_count} entries.", messages.SUCCESS)
                return redirect("admin:journals_journalexport_change", export.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Export a journal",
            "form": form,
            "opts": self.model._meta,
            "today": timezone.localdate(),
        }
        return TemplateResponse(request, "admin/journals/export.html", context)


@admin.register(LedgerBatch)
class LedgerBatchAdmin(RecordAdmin):
    list_display = ("reference", "currency", "status", "posted_at", "exported_in")
    list_filter = ("status", ("currency", PresentValuesFilter))
    search_fields = ("reference",)
    ordering = ("-posted_at", "-id")
    actions = ["export_xero", "export_quickbooks", "export_generic"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("journal_entry__export")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(EXPORT) or request.user.has_perm("journals.download_journal")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_export_permission(self, request):
        return request.user.has_perm(EXPORT)

    @admin.display(description="Exported in")
    def exported_in(self, obj):
        entry = getattr(obj, "journal_entry", None)
        if entry is None:
            return "—"
        url = reverse("journals:export_download", args=[entry.export_id])
        return format_html('<a href="{}">{}</a> ({})', url, entry.number, entry.export.filename)

    def _export(self, request, queryset, format):
        ids = list(queryset.values_list("pk", flat=True))
        exported = services.exports_of_batches(ids)
        if exported and not queryset.filter(journal_entry__isnull=True).exists():
            if len(exported) == 1:  # asked again: the file as it was exported, never new entries
                return journal_file_response(exported[0])
            self.message_user(
                request,
                "These batches were exported already, in "
                + ", ".join(e.filename for e in exported)
                + ": download each from the journal exports.",
                messages.WARNING,
            )
            return None
        try:
            export = services.journal_export(format=format, batch_ids=ids, by=request.user)
        except ValidationError as error:
            self.message_user(request, error_text(error), messages.ERROR)
            return None
        return journal_file_response(export)

    @admin.action(description="Export the journal of the selected batches: Xero", permissions=["export"])
    def export_xero(self, request, queryset):
        return self._export(request, queryset, JournalExport.Format.XERO)

    @admin.action(description="Export the journal of the selected batches: QuickBooks Online", permissions=["export"])
    def export_quickbooks(self, request, queryset):
        return self._export(request, queryset, JournalExport.Format.QUICKBOOKS)

    @admin.action(description="Export the journal of the selected batches: generic CSV", permissions=["export"])
    def export_generic(self, request, queryset):
        return self._export(request, queryset, JournalExport.Format.GENERIC)
