from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.run_list, name="run_list"),
    path("<int:pk>/download/", views.run_download, name="run_download"),
    path("<int:pk>/report/", views.run_html, name="run_html"),
    path("<int:pk>/workbook/", views.run_xlsx, name="run_xlsx"),
    path("<int:pk>/submit/", views.run_submit, name="run_submit"),
]
