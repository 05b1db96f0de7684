"""Support console pages of SSO, under /support/orgs/<org_slug>/domains/ (platform staff only; others get 404)."""

from django.urls import path

from sso import support_views

app_name = "sso_support"

urlpatterns = [
    path("", support_views.domains_page, name="domains"),
    path("<int:domain_id>/verify/", support_views.verify_domain, name="verify_domain"),
]
