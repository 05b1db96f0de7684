"""The allowlist's part of the platform support console, under /support/orgs/<org_slug>/allowlist/."""

from django.urls import path

from allowlist import support_views

app_name = "allowlist_support"

urlpatterns = [
    path("disable/", support_views.disable, name="disable"),
]
