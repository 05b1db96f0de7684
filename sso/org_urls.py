"""Organization pages of SSO, under /orgs/<org_slug>/settings/security/sso/."""

from django.urls import include, path

from sso import views

app_name = "sso"

urlpatterns = [
    path("", views.index, name="index"),
    path("saml/", include("sso.saml.org_urls")),
    path("link/", views.start_link, name="link"),
    path("identities/<int:identity_id>/unlink/", views.unlink, name="unlink"),
    path("<int:connection_id>/", views.connection_detail, name="connection"),
    path("<int:connection_id>/settings/", views.connection_settings, name="connection_settings"),
    path("<int:connection_id>/status/", views.connection_status, name="connection_status"),
    path("<int:connection_id>/test/", views.start_test, name="start_test"),
    path("<int:connection_id>/tests/<int:run_id>/", views.test_run, name="test_run"),
    path("oidc/", include("sso.oidc.org_urls")),
]
