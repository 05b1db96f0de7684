"""Organization pages of the keys app, under /orgs/<org_slug>/settings/security/."""

from django.urls import path

from keys import views

app_name = "keys"

urlpatterns = [
    path("", views.index, name="index"),
]
