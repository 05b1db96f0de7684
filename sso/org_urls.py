"""Organization pages of the sso app, under /orgs/<org_slug>/settings/security/."""

from django.urls import path

from sso import views

app_name = "sso"

urlpatterns = [
    path("", views.index, name="index"),
]
