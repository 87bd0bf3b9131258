"""The navigation at the top of every page (admin pages, the dashboard, the reports page, a refusal):
the places the signed-in user may open, and no other. A context processor, so the admin's own pages
get it through `admin/base_site.html` without an admin class of ours; it lives here, at the top of the
layers, because it names the pages of the apps below."""

from django.contrib import admin
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from reports.views import REPORTS

from .views import DASHBOARD


def nav_links(request) -> dict:
    """`nav_links`: label, url and whether it is the current place; worked out only by a page that shows it."""
    return {"nav_links": SimpleLazyObject(lambda: places(request))}


def places(request) -> list[dict]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    found = []
    if admin.site.has_permission(request):
        found.append(("Back office", reverse("admin:index")))
    for page, url_name in ((DASHBOARD, "dashboard:index"), (REPORTS, "reports:run_list")):
        if page.allows(user):
            found.append((page.name, reverse(url_name)))
    return [{"label": label, "url": url, "current": request.path.startswith(url)} for label, url in found]
