"""Admin actions that request reports. Registered by DonorAdmin and (by the grants engineer) OutputAdmin."""

import datetime as dt

from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from .models import ReportRun
from .services import report_run_request

PERMISSION = "reports.generate_report"


def _allowed(modeladmin, request) -> bool:
    if request.user.has_perm(PERMISSION):
        return True
    modeladmin.message_user(request, "You do not have permission to generate reports.", messages.ERROR)
    return False


def _queued(modeladmin, request, runs) -> None:
    modeladmin.message_user(
        request,
        f"Requested {len(runs)} report(s): " + ", ".join(f"#{r.pk}" for r in runs) + ". See the reports page.",
        messages.SUCCESS,
    )


class ReportActionsMixin:
    """For admin classes that offer report actions: only those who may generate see them."""

    def has_generate_report_permission(self, request) -> bool:
        return request.user.has_perm(PERMISSION)


@admin.action(description="Generate donor summary (this calendar year to date)", permissions=["generate_report"])
def generate_donor_summary(modeladmin, request, queryset):
    if not _allowed(modeladmin, request):
        return
    today = timezone.localdate()
    with transaction.atomic():
        runs = [
            report_run_request(
                kind=ReportRun.Kind.DONOR_SUMMARY, donor=donor, start=dt.date(today.year, 1, 1), end=today,
                by=request.user,
            )
            for donor in queryset
        ]  # fmt: skip
    _queued(modeladmin, request, runs)


@admin.action(description="Generate output statement (for external use)", permissions=["generate_report"])
def generate_output_statement(modeladmin, request, queryset):
    if not _allowed(modeladmin, request):
        return
    with transaction.atomic():
        runs = [
            report_run_request(kind=ReportRun.Kind.OUTPUT_STATEMENT, output=output, by=request.user)
            for output in queryset
        ]
    _queued(modeladmin, request, runs)
