from django.urls import path

from . import views

app_name = "iati"
urlpatterns = [
    path("reports/iati/export/", views.export_start, name="export_start"),
    path("reports/iati/<int:pk>/download/", views.export_download, name="export_download"),
]
