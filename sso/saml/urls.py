"""Public SAML endpoints under /sso/<org_slug>/saml/: what IdPs and browsers reach."""

from django.urls import path

from sso.saml import views

app_name = "saml"

urlpatterns = [
    path("metadata/", views.metadata, name="metadata"),
    path("login/", views.login, name="login"),
    path("acs/", views.acs, name="acs"),
    path("sls/", views.sls, name="sls"),
    path("logout/", views.logout, name="logout"),
]
