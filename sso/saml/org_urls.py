"""SAML admin pages under /orgs/<org_slug>/settings/security/sso/saml/."""

from django.urls import path

from sso.saml import views

app_name = "saml"

urlpatterns = [
    path("new/", views.create, name="create"),
    path("<int:connection_id>/idp/", views.update_idp, name="idp"),
    path("<int:connection_id>/refresh/", views.refresh_metadata, name="refresh"),
    path("<int:connection_id>/options/", views.update_options, name="options"),
    path("<int:connection_id>/preset/", views.apply_preset, name="preset"),
]
