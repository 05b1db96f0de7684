"""Organization pages of the allowlist app, under /orgs/<org_slug>/settings/security/."""

from django.urls import path

from allowlist import views

app_name = "allowlist"

urlpatterns = [
    path("", views.index, name="index"),
]
