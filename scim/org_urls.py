"""SCIM set-up pages under /orgs/<org_slug>/settings/security/scim/ (the section itself is on the SSO page)."""

from django.urls import path

from scim import org_views

urlpatterns = [
    path("tokens/", org_views.create_token, name="scim_create_token"),
    path("tokens/<int:token_pk>/secret/<str:ticket>/", org_views.token_secret, name="scim_token_secret"),
    path("tokens/<int:token_pk>/revoke/", org_views.revoke_token, name="scim_revoke_token"),
    path("settings/", org_views.update_settings, name="scim_settings"),
    path("mappings/", org_views.mappings, name="scim_mappings"),
]
