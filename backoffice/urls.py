from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Fundtrace back office"
admin.site.site_title = "Fundtrace"
admin.site.index_title = "Donors, funding and outputs"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("delivery.urls")),
    path("reports/", include("reports.urls")),
    path("dashboard/", include("dashboard.urls")),
]
