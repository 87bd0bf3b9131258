from django.urls import path

from . import views

app_name = "delivery"
urlpatterns = [
    path("d/<str:token>/", views.download, name="download"),
    path("d/<str:token>/report/", views.report, name="report"),
    path("reports/summaries/preview/", views.summaries_preview, name="summaries_preview"),
    path("reports/summaries/sample/", views.summaries_sample, name="summaries_sample"),
    path("reports/summaries/send/", views.summaries_send, name="summaries_send"),
]
