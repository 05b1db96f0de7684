"""Organization pages of SSO, under /orgs/<org_slug>/settings/security/sso/."""

from django.urls import include, path

from orgsecurity.access import protecting
from sso.connections import views
from sso.rollout import views as rollout_views
from sso.setup_links import views as setup_link_views

app_name = "sso"

urlpatterns = [
    path("", views.index, name="index"),
    path("saml/", include("sso.saml.org_urls")),
    path("link/", views.start_link, name="link"),
    path("link/<int:link_id>/", views.confirm_link, name="confirm_link"),
    path("identities/<int:identity_id>/unlink/", views.unlink, name="unlink"),
    path("<int:connection_id>/", views.connection_detail, name="connection"),
    path("<int:connection_id>/settings/", views.connection_settings, name="connection_settings"),
    path("<int:connection_id>/status/", views.connection_status, name="connection_status"),
    path("<int:connection_id>/test/", views.start_test, name="start_test"),
    path("<int:connection_id>/tests/<int:run_id>/", views.test_run, name="test_run"),
    path("<int:connection_id>/tests/<int:run_id>/open/", views.open_test_run, name="open_test_run"),
    path("oidc/", include("sso.oidc.org_urls")),
    # IdP set-up links (the IdP admin's own pages are public: sso/urls.py)
    path("<int:connection_id>/setup-links/new/", setup_link_views.create, name="setup_link_create"),
    path("setup-links/new/", setup_link_views.create_with_connection, name="setup_link_create_with_connection"),
    path("setup-links/<int:link_id>/created/<str:ticket>/", setup_link_views.created, name="setup_link_created"),
    path("setup-links/<int:link_id>/revoke/", setup_link_views.revoke, name="setup_link_revoke"),
    # rollout and enforcement
    path("<int:connection_id>/rollout/", rollout_views.rollout_page, name="rollout"),
    path("<int:connection_id>/rollout/enforce/", rollout_views.enforce, name="enforce"),
    path("<int:connection_id>/rollout/rollback/", rollout_views.rollback, name="rollback"),
    path("<int:connection_id>/rollout/schedule/", rollout_views.schedule, name="schedule"),
    path("<int:connection_id>/rollout/unschedule/", rollout_views.unschedule, name="unschedule"),
    path("<int:connection_id>/rollout/test-group/", rollout_views.test_group, name="test_group"),
    path("<int:connection_id>/rollout/fallback/confirm/", rollout_views.confirm_fallback, name="confirm_fallback"),
    path("<int:connection_id>/rollout/fallback/exceptions/", rollout_views.add_exception, name="add_exception"),
    path(
        "<int:connection_id>/rollout/fallback/exceptions/<int:exception_id>/remove/",
        rollout_views.remove_exception,
        name="remove_exception",
    ),
    path("<int:connection_id>/rollout/test-plan/<slug:item>/tick/", rollout_views.tick, name="tick"),
    path("recovery/", rollout_views.recovery_accounts, name="recovery"),
    path(
        "recovery/designate/",
        protecting("name a recovery account")(rollout_views.designate_recovery),
        name="designate_recovery",
    ),
    path(
        "recovery/<int:account_id>/remove/",
        protecting("remove a recovery account")(rollout_views.remove_recovery),
        name="remove_recovery",
    ),
    path(
        "recovery/codes/", protecting("make your recovery codes")(rollout_views.generate_codes), name="recovery_codes"
    ),
    path("domains/", rollout_views.domain_list, name="domains"),
    path("domains/claim/", protecting("claim an email domain")(rollout_views.claim_domain), name="claim_domain"),
    path("domains/<int:domain_id>/verify/", rollout_views.verify_domain, name="verify_domain"),
    path("domains/<int:domain_id>/remove/", rollout_views.remove_domain, name="remove_domain"),
]
