"""The reports page: runs with their status, a permission-checked download, and each run's HTML version; the
public /verify/ page."""

import datetime as dt
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST
from django_ratelimit.core import get_usage
from django_ratelimit.decorators import ratelimit

from backoffice.access import PageAccess
from backoffice.models import Organisation

from .financial_xlsx import XLSX_CONTENT_TYPE, financial_workbook
from .forms import ReportRequestForm, VerifiedReport, VerifyForm
from .html import report_page
from .models import ReportRun
from .services import (
    ReportError,
    obligations_open_for,
    report_run_request,
    report_run_submit,
    report_verify,
    runs_with_stuck,
)
from .tasks import STUCK_AFTER

GENERATE, DOWNLOAD = "reports.generate_report", "reports.download_report"

REPORTS = PageAccess(
    name="Reports",
    about="The reports page is where PDF reports (donor summaries, portfolio reports, output statements) "
    "are asked for and downloaded.",
    rule=lambda has: has(GENERATE) or has(DOWNLOAD),
)
REPORT_REQUEST = PageAccess(
    name="New report",
    about="This asks for a new PDF report.",
    rule=lambda has: has(GENERATE),
)
REPORT_PDF = PageAccess(
    name="Report PDF",
    about="This downloads a report's PDF.",
    rule=lambda has: has(DOWNLOAD),
)
REPORT_XLSX = PageAccess(
    name="Financial report workbook",
    about="This downloads a financial report's figures as an XLSX workbook.",
    rule=lambda has: has(DOWNLOAD),
)
# Whoever may make a report may send a financial report to its funder: Finance and Leadership.
REPORT_SUBMIT = PageAccess(
    name="Submit a financial report",
    about="This records a financial report as submitted to its funder, which freezes it.",
    rule=lambda has: has(GENERATE),
)
# Whoever may download a report's PDF may read its HTML version: the same figures.
REPORT_HTML = PageAccess(
    name="Report (accessible version)",
    about="This shows a report's accessible HTML version, with the same figures as its PDF.",
    rule=REPORT_PDF.rule,
)


@never_cache
@login_required
def run_list(request):
    REPORTS.check(request.user)
    explain_url = ""
    can_generate = REPORT_REQUEST.allows(request.user)
    form = ReportRequestForm(request.POST or None) if can_generate else None
    if request.method == "POST":
        REPORT_REQUEST.check(request.user)
        if form.is_valid():
            try:
                run = report_run_request(by=request.user, **form.request_kwargs())
            except ReportError as error:
                form.add_error(None, error)
                explain_url = _explain_url(form.cleaned_data)
            else:
                messages.success(
                    request, f"Report #{run.pk} requested: {run.subject}. This page shows when it is done."
                )
                return redirect("reports:run_list")
    runs = ReportRun.objects.select_related(
        "donor", "output", "requested_by", "agreement__pledge", "obligation", "submitted_by"
    )
    runs = list(runs_with_stuck(runs, older_than=STUCK_AFTER)[:200])
    can_submit = REPORT_SUBMIT.allows(request.user)
    for run in runs:  # a done financial report not yet sent can answer an obligation still owed
        submittable = can_submit and run.status == ReportRun.Status.DONE and not run.is_frozen
        run.open_obligations = list(obligations_open_for(run)) if submittable and not run.superseded_by_id else []
    context = {
        **admin.site.each_context(request),  # the back office's header, user links and theme
        "title": "Reports",
        "runs": runs,
        "form": form,
        "can_download": REPORT_PDF.allows(request.user),
        # Refresh while runs are generated, but never over a form being corrected.
        "working": not (form and form.is_bound)
        and any(r.status in (ReportRun.Status.QUEUED, ReportRun.Status.RUNNING) and not r.stuck for r in runs),
        "stuck_after": STUCK_AFTER,
        "explain_url": explain_url,
        "today": timezone.localdate(),
    }
    return render(request, "reports/run_list.html", context)


def _explain_url(data: dict) -> str:
    """Where Finance writes the explanations a refused financial report lacks."""
    agreement = data.get("agreement")
    if data.get("kind") != ReportRun.Kind.FINANCIAL_REPORT or agreement is None:
        return ""
    query = urlencode({"start": data["start"], "end": data["end"]})
    return f"{reverse('admin:spending_agreement_variances', args=[agreement.pk])}?{query}"


@never_cache
@login_required
def run_xlsx(request, pk: int):
    """A financial report's figures as a workbook, drawn from its stored snapshot (the same bytes each time)."""
    REPORT_XLSX.check(request.user)
    run = get_object_or_404(ReportRun, pk=pk, kind=ReportRun.Kind.FINANCIAL_REPORT)
    if run.status != ReportRun.Status.DONE or not run.snapshot:
        raise Http404("This report is not made yet.")
    filename = run.filename.removesuffix(".pdf") + ".xlsx"
    response = HttpResponse(financial_workbook(run.snapshot), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@never_cache
@login_required
@require_POST
def run_submit(request, pk: int):
    """Record a financial report as sent to its funder against one of the obligations it answers."""
    REPORT_SUBMIT.check(request.user)
    run = get_object_or_404(ReportRun.objects.select_related("agreement"), pk=pk)
    obligation = obligations_open_for(run).filter(pk=request.POST.get("obligation") or None).first()
    if obligation is None:
        messages.error(request, f"Report #{run.pk}: choose a financial report still owed under its pledge.")
        return redirect("reports:run_list")
    try:
        on = dt.date.fromisoformat(request.POST.get("submitted_on") or str(timezone.localdate()))
    except ValueError:
        messages.error(request, f"Report #{run.pk}: the submission date is not a date (YYYY-MM-DD).")
        return redirect("reports:run_list")
    try:
        report_run_submit(run=run, obligation=obligation, by=request.user, on=on)
    except ValidationError as error:
        messages.error(request, f"Report #{run.pk} was not submitted: {' '.join(error.messages)}")
    else:
        messages.success(
            request, f"Report #{run.pk} submitted for the {obligation}: the obligation is marked submitted and "
            "the report is frozen.",
        )  # fmt: skip
    return redirect("reports:run_list")


@never_cache
@login_required
def run_download(request, pk: int):
    REPORT_PDF.check(request.user)
    run = get_object_or_404(ReportRun, pk=pk)
    if run.redacted_on:
        raise Http404("This report was redacted under an erasure request: its PDF was deleted.")
    if run.status != ReportRun.Status.DONE or not run.pdf:
        raise Http404("This report has no PDF yet.")
    return FileResponse(run.pdf.open("rb"), as_attachment=True, filename=run.filename, content_type="application/pdf")


@never_cache
@login_required
def run_html(request, pk: int):
    """The run's accessible HTML version, from its stored snapshot (reports/html.py)."""
    REPORT_HTML.check(request.user)
    run = get_object_or_404(ReportRun.objects.select_related("donor", "output"), pk=pk)
    if run.status != ReportRun.Status.DONE or not run.snapshot:
        raise Http404("This report is not made yet.")
    if run.kind == ReportRun.Kind.FINANCIAL_REPORT:
        raise Http404("A financial report has no HTML version: its PDF and its workbook hold the figures.")
    return report_page(request, run, pdf_url=reverse("reports:run_download", args=[run.pk]))


# The public verification page ------------------------------------------------------------------


def _verify_rate(group, request) -> str:
    return settings.VERIFY_RATE_LIMIT  # read at each request, as the download links' rate


VERIFY_LIMIT = {"group": "reports.verify", "key": "ip", "rate": _verify_rate, "method": "POST"}


# Outside the request's transaction, as the download links: an error must not undo the request's count.
@transaction.non_atomic_requests
@csrf_protect
@never_cache
@ratelimit(**VERIFY_LIMIT, block=False)
def verify(request):
    """Anyone may upload a report PDF and learn whether it is one the organisation made, and what it was
    made from. The answer names no donor and shows no amount (reports.forms.VerifiedReport)."""
    organisation = Organisation.current()
    context = {"organisation": organisation, "max_mb": settings.VERIFY_MAX_BYTES // (1024 * 1024)}
    if request.method == "POST" and request.limited:
        usage = get_usage(request, **VERIFY_LIMIT)
        wait = max(usage["time_left"], 1) if usage else 60
        response = render(request, "reports/verify.html", context | {"wait": wait, "form": VerifyForm()}, status=429)
        response["Retry-After"] = str(wait)
        return response
    form = VerifyForm(request.POST, request.FILES) if request.method == "POST" else VerifyForm()
    status = 200
    if request.method == "POST":
        if form.is_valid():
            result = report_verify(form.cleaned_data["pdf"])
            context["result"] = VerifiedReport.of(result)
        else:
            status = 400
    response = render(request, "reports/verify.html", context | {"form": form}, status=status)
    response["X-Robots-Tag"] = "noindex"
    return response
