from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from . import views

admin.site.site_header = "Fundtrace back office"
admin.site.site_title = "Fundtrace"
admin.site.index_title = "Donors, funding and outputs"
admin.site.site_url = None  # no public site to "View": the navigation (admin/base_site.html) names the places
handler403 = "backoffice.views.permission_denied"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("favicon.ico", views.favicon),
    path("", include("delivery.urls")),
    path("", include("iati.urls")),
    path("reports/", include("reports.urls")),
    path("", include("reports.public_urls")),
    path("dashboard/", include("dashboard.urls")),
    path("privacy/", include("privacy.urls")),
    path("journals/", include("journals.urls")),
    path("spending/", include("spending.urls")),
]
