"""Admin actions that request reports. Registered by DonorAdmin and (by the grants engineer) OutputAdmin."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.template.response import TemplateResponse

from .forms import PeriodForm
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


@admin.action(description="Generate donor summary (choose the period)", permissions=["generate_report"])
def generate_donor_summary(modeladmin, request, queryset):
    """First shows a page asking for the period and currency; its form posts back here with
    `apply`, and then the runs are requested."""
    if not _allowed(modeladmin, request):
        return None
    form = PeriodForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        period = form.cleaned_data
        with transaction.atomic():
            runs = [
                report_run_request(
                    kind=ReportRun.Kind.DONOR_SUMMARY, donor=donor, start=period["start"], end=period["end"],
                    currency=period["currency"], by=request.user,
                )
                for donor in queryset
            ]  # fmt: skip
        _queued(modeladmin, request, runs)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Generate donor summaries",
        "opts": modeladmin.model._meta,
        "form": form,
        "donors": queryset,
        "action": "generate_donor_summary",
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
    }
    return TemplateResponse(request, "reports/admin_period.html", context)


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
