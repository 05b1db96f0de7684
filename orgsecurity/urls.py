"""URL map. Every organization page lives under /orgs/<org_slug>/, where the enforcement pipeline runs."""

from django.urls import include, path

from keys.api_views import not_found as api_not_found
from orgsecurity import password_views, views
from sso.signin.signin_views import EmailFirstSignInView

org_patterns = [
    path("", views.dashboard, name="org_dashboard"),
    path("members/", views.members, name="members"),
    path("members/invite/", views.invite, name="invite"),
    path("members/<int:membership_id>/role/", views.change_role, name="change_role"),
    path("members/<int:membership_id>/remove/", views.remove_member, name="remove_member"),
    path("invitations/<int:invitation_id>/revoke/", views.revoke_invitation, name="revoke_invitation"),
    path("invitations/<int:invitation_id>/reconfirm/", views.reconfirm_invitation, name="reconfirm_invitation"),
    path("settings/billing/", views.billing, name="billing"),
    path("settings/security/", views.security, name="security"),
    path("settings/security/overview/", views.overview, name="security_overview"),
    path("settings/security/sso/", include("sso.org_urls")),
    path("settings/security/sessions/", include("sessions_policy.org_urls")),
    path("settings/security/allowlist/", include("allowlist.org_urls")),
    path("settings/security/keys/", include("keys.org_urls")),
    path("settings/security/two-factor/", include("twofactor.org_urls")),
    path("settings/security/streaming/", include("audit_stream.org_urls")),
    path("settings/security/scim/", include("scim.org_urls")),
    path("audit/", include("audit.org_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", EmailFirstSignInView.as_view(), name="login"),
    path("accounts/logout/", views.sign_out_view, name="logout"),
    path("accounts/password/", password_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/reset/", password_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", password_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/reset/<uidb64>/<token>/",
        password_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/", include("sessions_policy.account_urls")),
    path("accounts/", include("sso.account_urls")),
    path("accounts/2fa/", include("twofactor.urls")),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("sso/<slug:org_slug>/", include("sso.urls")),
    path("api/v1/", include("adminapi.urls")),  # the admin API (issue 22), before the key API's catch-all 404
    path("api/v1/", include("keys.api_urls")),
    path("api/v1", api_not_found),  # a JSON 404, not CommonMiddleware's redirect to the slashed path
    path("scim/v2/<slug:org_slug>/", include("scim.urls")),
    path("orgs/<slug:org_slug>/", include(org_patterns)),
    path("support/", include("audit.support_urls")),
]

# Error pages, in the error format of the path's prefix (settings.ERROR_FORMATS: JSON under /api/), else HTML.
handler400 = "orgsecurity.errors.bad_request"
handler403 = "orgsecurity.errors.permission_denied"
handler404 = "orgsecurity.errors.page_not_found"
handler500 = "orgsecurity.errors.server_error"
