"""Organization pages of two-factor authentication, under /orgs/<org_slug>/settings/security/two-factor/."""

from django.urls import path

from twofactor import org_views

app_name = "twofactor_org"

urlpatterns = [
    path("", org_views.index, name="index"),
    path("members/", org_views.members, name="members"),
    path("members/<int:membership_id>/reset/", org_views.reset, name="reset"),
]
