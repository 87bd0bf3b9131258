"""The reports page: runs with their status, and a permission-checked download."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render

from .models import ReportRun

GENERATE, DOWNLOAD = "reports.generate_report", "reports.download_report"


@login_required
def run_list(request):
    if not (request.user.has_perm(GENERATE) or request.user.has_perm(DOWNLOAD)):
        raise PermissionDenied
    runs = ReportRun.objects.select_related("donor", "output", "requested_by")[:200]
    return render(request, "reports/run_list.html", {"runs": runs, "can_download": request.user.has_perm(DOWNLOAD)})


@login_required
def run_download(request, pk: int):
    if not request.user.has_perm(DOWNLOAD):
        raise PermissionDenied
    run = get_object_or_404(ReportRun, pk=pk)
    if run.status != ReportRun.Status.DONE or not run.pdf:
        raise Http404("This report has no PDF yet.")
    return FileResponse(run.pdf.open("rb"), as_attachment=True, filename=run.filename, content_type="application/pdf")
