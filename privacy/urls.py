from django.urls import path

from . import views, views_erasure

app_name = "privacy"
urlpatterns = [
    path("subject-access/<int:pk>/download/", views.subject_access_download, name="subject_access_download"),
    path("erasure/contact/<int:pk>/", views_erasure.erasure_ask, {"kind": "contact"}, name="erasure_ask_contact"),
    path("erasure/donor/<int:pk>/", views_erasure.erasure_ask, {"kind": "donor"}, name="erasure_ask_donor"),
    path("erasure/<int:pk>/", views_erasure.erasure_page, name="erasure"),
]
