from django.contrib import admin

from backoffice.admin_tools import RecordAdmin

from .models import ReportRun
from .services import runs_with_stuck
from .tasks import STUCK_AFTER


@admin.register(ReportRun)
class ReportRunAdmin(RecordAdmin):
    """Read-only: runs are made by the generate actions and the impact_report command. Making a
    failed or stuck run again is delivery's action (delivery.admin), since a mailing's run then
    sends its pending emails."""

    list_display = ("pk", "kind", "subject", "period_start", "period_end", "state", "fingerprint", "queued_at")
    list_filter = ("kind", "status")
    readonly_fields = [f.name for f in ReportRun._meta.fields] + ["fingerprint"]
    list_select_related = ("donor", "output")

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
