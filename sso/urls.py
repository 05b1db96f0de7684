"""Public SSO endpoints that IdPs and browsers reach, under /sso/<org_slug>/.

These are not organization pages: the enforcement pipeline does not run here (people are signing in). The SAML and
OIDC packages add their own endpoints (metadata, ACS, SLO; callback) below.
"""

from django.urls import include, path

from sso.setup_links import public_views as setup
from sso.signin import public_views

app_name = "sso_public"

urlpatterns = [
    path("login/", public_views.login, name="login"),
    path("finish/", public_views.finish, name="finish"),
    path("oidc/", include("sso.oidc.urls")),
    path("saml/", include("sso.saml.urls")),
    # The IdP admin's set-up through a set-up link (sso.setup_links.public_views)
    path("setup/", setup.setup, name="setup"),
    path("setup/metadata.xml", setup.sp_metadata, name="setup_metadata"),
    path("setup/saml/", setup.saml_idp, name="setup_saml"),
    path("setup/saml/preset/", setup.saml_preset, name="setup_saml_preset"),
    path("setup/oidc/", setup.oidc_settings, name="setup_oidc"),
    path("setup/test/", setup.start_test, name="setup_test"),
    path("setup/tests/<int:run_id>/", setup.test_run, name="setup_test_run"),
    path("setup/<str:token>/", setup.open_link, name="setup_open"),
]
