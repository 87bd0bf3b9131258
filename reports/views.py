"""The reports page: runs with their status, a permission-checked download, and each run's HTML version; the
public /verify/ page."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_ratelimit.core import get_usage
from django_ratelimit.decorators import ratelimit

from backoffice.access import PageAccess
from backoffice.models import Organisation

from .forms import ReportRequestForm, VerifiedReport, VerifyForm
from .html import report_page
from .models import ReportRun
from .services import ReportError, report_run_request, report_verify, runs_with_stuck
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
    can_generate = REPORT_REQUEST.allows(request.user)
    form = ReportRequestForm(request.POST or None) if can_generate else None
    if request.method == "POST":
        REPORT_REQUEST.check(request.user)
        if form.is_valid():
            try:
                run = report_run_request(by=request.user, **form.request_kwargs())
            except ReportError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request, f"Report #{run.pk} requested: {run.subject}. This page shows when it is done."
                )
                return redirect("reports:run_list")
    runs = ReportRun.objects.select_related("donor", "output", "requested_by")
    runs = list(runs_with_stuck(runs, older_than=STUCK_AFTER)[:200])
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
    }
    return render(request, "reports/run_list.html", context)


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
