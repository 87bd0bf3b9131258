"""A logged journal file, downloaded: the bytes exported then, never made again."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache

from backoffice.access import PageAccess

from .models import JournalExport

EXPORT = "journals.export_journal"

JOURNAL_EXPORT = PageAccess(
    name="Export a journal",
    about="This exports the postings not yet sent to the general ledger as a journal file.",
    rule=lambda has: has(EXPORT),
)
JOURNAL_FILE = PageAccess(
    name="Journal file",
    about="This downloads a journal file exported for the general ledger.",
    rule=lambda has: has("journals.download_journal"),
)


def journal_file_response(export: JournalExport) -> HttpResponse:
    response = HttpResponse(bytes(export.content), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Content-SHA256"] = export.sha256
    return response


@never_cache
@login_required
def export_download(request, pk: int):
    JOURNAL_FILE.check(request.user)
    return journal_file_response(get_object_or_404(JournalExport, pk=pk))
