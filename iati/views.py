"""The IATI export on the reports page: Leadership starts one; the ZIP is downloaded when a worker has made it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from backoffice.access import PageAccess

from .models import IatiExport
from .services import iati_export_request

IATI_EXPORT = PageAccess(
    name="IATI export",
    about="This publishes the alliance's funded activities as IATI 2.03 files.",
    rule=lambda has: has("iati.export_iati"),
)
IATI_DOWNLOAD = PageAccess(
    name="IATI files",
    about="This downloads the IATI 2.03 files of an export.",
    rule=lambda has: has("iati.download_iati"),
)


@require_POST
@never_cache
@login_required
def export_start(request):
    IATI_EXPORT.check(request.user)
    export = iati_export_request(by=request.user)
    messages.success(request, f"IATI export #{export.pk} started. This page shows when its files are ready.")
    return redirect("reports:run_list")


@never_cache
@login_required
def export_download(request, pk: int):
    IATI_DOWNLOAD.check(request.user)
    export = get_object_or_404(IatiExport, pk=pk)
    if export.status != IatiExport.Status.DONE:
        raise Http404("This export has no files.")
    return FileResponse(
        export.file.open("rb"), as_attachment=True, filename=export.filename, content_type="application/zip"
    )
