"""Organization pages of the keys app, under /orgs/<org_slug>/settings/security/keys/."""

from django.urls import path

from keys import views

app_name = "keys"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("<int:key_pk>/rotate/", views.rotate, name="rotate"),
    path("<int:key_pk>/secret/<str:ticket>/", views.secret, name="secret"),
    path("<int:key_pk>/revoke/", views.revoke, name="revoke"),
    path("<int:key_pk>/reviewed/", views.mark_reviewed, name="mark_reviewed"),
    path("policy/", views.policy, name="policy"),
    path("policy/api-security-changes/", views.api_security_changes, name="api_security_changes"),
    path("policy/confirm/", views.confirm_policy, name="confirm_policy"),
    path("stale/", views.stale, name="stale"),
    path("stale.csv", views.stale_csv, name="stale_csv"),
    path("stale/digest/", views.stale_digest, name="stale_digest"),
    path("service-accounts/new/", views.create_service_account, name="create_service_account"),
    path("workloads/new/", views.create_workload, name="create_workload"),
]
