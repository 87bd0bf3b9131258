from django.urls import path

from . import views

app_name = "journals"
urlpatterns = [
    path("<int:pk>/download/", views.export_download, name="export_download"),
]
