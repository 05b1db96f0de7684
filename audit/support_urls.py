"""The platform support console, under /support/ (staff only, read-only)."""

from django.urls import path

from audit import support_views

app_name = "support"

urlpatterns = [
    path("", support_views.index, name="index"),
]
