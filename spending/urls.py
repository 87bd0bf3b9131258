from django.urls import path

from . import views

app_name = "spending"
urlpatterns = [
    path("agreements/<int:agreement_id>/audit-pack/", views.audit_pack_new, name="audit_pack_new"),
    path("audit-packs/<int:pk>/download/", views.audit_pack_download, name="audit_pack_download"),
]
