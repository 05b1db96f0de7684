"""Organization pages of the sessions_policy app, under /orgs/<org_slug>/settings/security/."""

from django.urls import path

from sessions_policy import views

app_name = "sessions_policy"

urlpatterns = [
    path("", views.index, name="index"),
]
