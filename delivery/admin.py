from django.contrib import admin, messages
from django.db import transaction

from backoffice.admin_tools import RecordAdmin
from reports.admin import ReportRunAdmin as ReportRunReadAdmin
from reports.models import ReportRun
from reports.services import report_runs_remake
from reports.tasks import STUCK_AFTER

from . import services
from .models import Delivery, DeliveryAttempt, DownloadLog, Mailing, ReminderSent
from .tasks import summary_prepare


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = readonly_fields = ("number", "started_at", "finished_at", "outcome", "smtp_code", "error")


class DownloadInline(ReadOnlyInline):
    model = DownloadLog
    fields = readonly_fields = ("downloaded_at", "format", "ip")


@admin.register(Delivery)
class DeliveryAdmin(RecordAdmin):
    """Read-only record of every delivery; the only changes are the revoke and resend actions."""

    list_display = ("pk", "run", "email", "status", "attempts", "sent_at", "is_stuck", "revoked_at")
    list_filter = ("status", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("email", "run__donor__ref", "run__donor__name", "message_id")
    list_select_related = ("run__donor", "run__output")
    readonly_fields = [f.name for f in Delivery._meta.fields] + ["is_stuck"]
    inlines = [AttemptInline, DownloadInline]
    actions = ["revoke_links", "resend"]

    @admin.display(boolean=True, description="Stuck: check the mail log")
    def is_stuck(self, obj):
        return obj.is_stuck

    def has_revoke_permission(self, request):
        return request.user.has_perm("delivery.revoke_delivery")

    def has_send_permission(self, request):
        return request.user.has_perm("delivery.send_donor_summaries")

    @admin.action(description="Revoke the download links", permissions=["revoke"])
    def revoke_links(self, request, queryset):
        n = services.deliveries_revoke(deliveries=queryset, by=request.user)
        self.message_user(request, f"Revoked {n} download links.", messages.SUCCESS)

    @admin.action(description="Resend failed or stuck deliveries (check the mail log first)", permissions=["send"])
    def resend(self, request, queryset):
        ids = services.deliveries_resend(deliveries=queryset)
        self.message_user(request, f"{len(ids)} deliveries queued to send again.", messages.SUCCESS)


@admin.register(ReminderSent)
class ReminderSentAdmin(admin.ModelAdmin):
    list_display = ("week", "status", "recipients", "overdue_instalments", "obligations_due", "sent_at")
    readonly_fields = [f.name for f in ReminderSent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Mailing)
class MailingAdmin(RecordAdmin):
    """Who confirmed which mailing from the reports page, and what it queued; a record, never edited."""

    list_display = ("confirmed_at", "period_start", "period_end", "everyone", "reports", "contacts", "skipped",
                    "confirmed_by")  # fmt: skip
    list_filter = ("everyone",)
    readonly_fields = [f.name for f in Mailing._meta.fields]


admin.site.unregister(ReportRun)


@admin.register(ReportRun)
class ReportRunAdmin(ReportRunReadAdmin):
    """The report runs' page with "Make again": it lives here, above reports, because making a
    mailing's run again also sends its pending emails (summary_prepare)."""

    actions = ["make_again"]

    def has_generate_report_permission(self, request):
        return request.user.has_perm("reports.generate_report")

    @admin.action(description="Make again (failed or stuck runs)", permissions=["generate_report"])
    def make_again(self, request, queryset):
        with transaction.atomic():
            ids = report_runs_remake(runs=queryset, older_than=STUCK_AFTER)
            for pk in ids:
                transaction.on_commit(lambda pk=pk: summary_prepare.delay(pk))
        skipped = queryset.count() - len(ids)
        note = f"; {skipped} left alone (done, queued, or still running within the limit)" if skipped else ""
        self.message_user(request, f"{len(ids)} runs queued to be made again{note}.", messages.SUCCESS)
