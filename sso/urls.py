"""Public SSO endpoints that IdPs and browsers reach, under /sso/<org_slug>/.

These are not organization pages: the enforcement pipeline does not run here (people are signing in). The SAML and
OIDC packages add their own endpoints (metadata, ACS, SLO; callback) below.
"""

from django.urls import include, path

from sso.signin import public_views

app_name = "sso_public"

urlpatterns = [
    path("login/", public_views.login, name="login"),
    path("finish/", public_views.finish, name="finish"),
    path("oidc/", include("sso.oidc.urls")),
    path("saml/", include("sso.saml.urls")),
]
