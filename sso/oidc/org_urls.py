"""OIDC organization pages under /orgs/<org_slug>/settings/security/sso/oidc/ (included from sso/org_urls.py)."""

from django.urls import path

from sso.oidc import org_views

app_name = "oidc"

urlpatterns = [
    path("new/", org_views.create, name="create"),
    path("<int:connection_id>/settings/", org_views.update, name="settings"),
]
