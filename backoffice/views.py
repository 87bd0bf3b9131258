"""Pages every part of the site shares: the favicon, and the page a refused request gets."""

from pathlib import Path
from urllib.parse import urlsplit

from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.http import FileResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from .access import roles_phrase
from .roles import ROLES

FAVICON = Path(__file__).resolve().parent / "static" / "backoffice" / "favicon.ico"


@require_safe
@cache_control(public=True, max_age=7 * 24 * 3600)
def favicon(request):
    """Browsers ask for /favicon.ico whatever a page links to; the same file as the static one."""
    return FileResponse(FAVICON.open("rb"), content_type="image/x-icon")


def _back_url(request) -> str:
    """The page the user came from when it is on this site and not this page; else the back office's home."""
    referer = request.headers.get("Referer", "")
    safe = url_has_allowed_host_and_scheme(referer, {request.get_host()}, require_https=request.is_secure())
    if safe and urlsplit(referer).path != request.path:
        return referer
    return reverse("admin:index")


def permission_denied(request, exception):
    """handler403: what was refused, which roles it is open to (from the refusal), who the user is, a way back."""
    if not hasattr(request, "user"):  # refused before AuthenticationMiddleware (CommonMiddleware's user agents)
        request.user = AnonymousUser()
    user = request.user
    if user.is_superuser:
        who = "an administrator"
    else:
        who = "with " + roles_phrase(list(user.groups.filter(name__in=ROLES).values_list("name", flat=True)))
    context = {
        **admin.site.each_context(request),
        "is_nav_sidebar_enabled": False,
        "title": "This page is not open to you",
        "reason": str(exception) if exception else "",
        "who": who,
        "back_url": _back_url(request),
    }
    return render(request, "403.html", context, status=403)
