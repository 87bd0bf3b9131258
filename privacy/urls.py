from django.urls import path

from . import views

app_name = "privacy"
urlpatterns = [
    path("subject-access/<int:pk>/download/", views.subject_access_download, name="subject_access_download"),
]
