"""Organization pages of the allowlist app, under /orgs/<org_slug>/settings/security/allowlist/."""

from django.urls import path

from allowlist import views

app_name = "allowlist"

urlpatterns = [
    path("", views.index, name="index"),
    path("check/", views.check, name="check"),
    path("settings/", views.save_settings, name="settings"),
    path("settings/confirm/", views.confirm_settings, name="confirm_settings"),
    path("entries/add/", views.add, name="add"),
    path("entries/bulk/", views.bulk_add, name="bulk_add"),
    path("entries/remove/", views.remove, name="remove"),
    path("entries/remove/confirm/", views.confirm_remove, name="confirm_remove"),
]
