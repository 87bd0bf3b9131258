from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("", views.index, name="index"),
    path("report/", views.report_request, name="report_request"),
    path("report/<int:pk>/", views.report_status, name="report_status"),
]
