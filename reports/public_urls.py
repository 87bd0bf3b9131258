"""Public pages of the reports app, at the site's root (no login): the verification page."""

from django.urls import path

from . import views

urlpatterns = [path("verify/", views.verify, name="verify")]
