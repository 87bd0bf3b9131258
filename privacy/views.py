from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache

from backoffice.access import PageAccess

from .models import SubjectAccessRequest

SUBJECT_ACCESS_ZIP = PageAccess(
    name="Subject access export",
    about="This downloads everything held about a person, made for their subject access request.",
    rule=lambda has: has("privacy.view_subjectaccessrequest"),
)


@never_cache
@login_required
def subject_access_download(request, pk: int):
    SUBJECT_ACCESS_ZIP.check(request.user)
    made = get_object_or_404(SubjectAccessRequest, pk=pk)
    if made.status != SubjectAccessRequest.Status.DONE:
        raise Http404("This export is not ready.")
    return FileResponse(
        made.file.open("rb"),
        as_attachment=True,
        filename=f"subject-access-{made.pk}.zip",
        content_type="application/zip",
    )
