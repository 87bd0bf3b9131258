from django.contrib import admin, messages
from django.db import transaction

from .models import ReportRun
from .services import report_runs_remake, runs_with_stuck
from .tasks import STUCK_AFTER


@admin.register(ReportRun)
class ReportRunAdmin(admin.ModelAdmin):
    """Read-only: runs are made by the generate actions and the impact_report command; a failed or
    stuck run can be made again."""

    list_display = ("pk", "kind", "subject", "period_start", "period_end", "state", "fingerprint", "queued_at")
    list_filter = ("kind", "status")
    readonly_fields = [f.name for f in ReportRun._meta.fields] + ["fingerprint"]
    list_select_related = ("donor", "output")
    actions = ["make_again"]

    def get_queryset(self, request):
        return runs_with_stuck(super().get_queryset(request), older_than=STUCK_AFTER)

    @admin.display(description="Status", ordering="status")
    def state(self, obj):
        if obj.stuck:
            return f"Stuck: running since {obj.started_at:%Y-%m-%d %H:%M}, past the {STUCK_AFTER} limit"
        if obj.superseded_by_id:
            return f"{obj.get_status_display()}, stale: replaced by #{obj.superseded_by_id}"
        if obj.status == ReportRun.Status.FAILED:
            return f"Failed: {obj.error[:200]}"
        return obj.get_status_display()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_generate_report_permission(self, request):
        return request.user.has_perm("reports.generate_report")

    @admin.action(description="Make again (failed or stuck runs)", permissions=["generate_report"])
    def make_again(self, request, queryset):
        # summary_prepare generates the run, then sends its pending deliveries (a mailing's; other runs have none).
        from delivery.tasks import summary_prepare

        with transaction.atomic():
            ids = report_runs_remake(runs=queryset, older_than=STUCK_AFTER)
            for pk in ids:
                transaction.on_commit(lambda pk=pk: summary_prepare.delay(pk))
        skipped = queryset.count() - len(ids)
        note = f"; {skipped} left alone (done, queued, or still running within the limit)" if skipped else ""
        self.message_user(request, f"{len(ids)} runs queued to be made again{note}.", messages.SUCCESS)
