"""Public OIDC endpoints under /sso/<org_slug>/oidc/ (included from sso/urls.py)."""

from django.urls import path

from sso.oidc import views

app_name = "oidc"

urlpatterns = [
    path("login/", views.login, name="login"),
    path("callback/", views.callback, name="callback"),
]
