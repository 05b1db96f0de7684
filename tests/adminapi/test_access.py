"""Admin API access: who a key acts as, scopes, the organization in the path, the API switch, key scopes at
issue time, and that errors are JSON in the product's shape."""

from __future__ import annotations

import pytest

from keys import actions
from keys.models import APIKey
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Membership, Team
from orgsecurity.roles import Role
from tests.helpers.adminapi import ALL_SCOPES, allow_api_changes, call, error_code, scoped_key

SECURITY = "/api/v1/orgs/acme/security"


@pytest.fixture
def service_account(org, owner):
    return actions.create_service_account(org, actor=owner, name="terraform")


def member_key(org, member, scopes):
    team, _ = Team.objects.get_or_create(organization=org, slug="platform", defaults={"name": "Platform"})
    team.members.add(Membership.objects.get(user=member, organization=org))
    return actions.create_api_key(
        org, actor=member, name="mine", permission=APIKey.Permission.READ, team_ids=[team.pk], scopes=scopes
    )


# --- the access matrix of GET /security (security:read) ---------------------------------------------------------


def test_owner_and_admin_keys_read_the_security_overview(org, owner, admin):
    for user in (owner, admin):
        _, token = scoped_key(org, user, ["security:read"])
        response = call("GET", SECURITY, token)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["organization"] == {"slug": "acme", "name": "Acme Inc."}
        assert body["ip_allowlist"]["enabled"] is False
        assert body["key_policy"]["allow_api_security_changes"] is False
        assert set(body) == {
            "organization",
            "sso_connections",
            "session_policy",
            "ip_allowlist",
            "key_policy",
            "two_factor",
            "verified_domains",
            "scim",
            "audit",
        }


def test_a_member_key_is_refused_by_role_even_with_the_scope(org, member):
    _, token = member_key(org, member, ["security:read"])
    response = call("GET", SECURITY, token)
    assert response.status_code == 403 and error_code(response) == "role_not_allowed"


def test_an_auditor_holds_no_key(org, admin, auditor):
    # Auditors cannot be issued keys; a key whose owner became an auditor stops working.
    with pytest.raises(ActionRefused):
        scoped_key(org, auditor, ["audit:read"], permission=APIKey.Permission.READ)
    _, token = scoped_key(org, admin, ["security:read", "audit:read"])
    Membership.objects.filter(user=admin).update(role=Role.AUDITOR)
    response = call("GET", "/api/v1/orgs/acme/audit/events", None)
    assert response.status_code == 401 and error_code(response) == "missing_key"
    response = call("GET", "/api/v1/orgs/acme/audit/events", token)
    assert response.status_code == 403 and error_code(response) == "owner_role_not_allowed"


def test_another_organizations_path_is_a_404_like_a_missing_one(org, owner, other_org):
    _, token = scoped_key(org, owner, ALL_SCOPES)
    for slug in ("globex", "no-such-org"):
        response = call("GET", f"/api/v1/orgs/{slug}/security", token)
        assert response.status_code == 404 and error_code(response) == "not_found"


def test_a_key_without_the_scope_is_refused(org, owner):
    _, token = scoped_key(org, owner, ["audit:read"])
    response = call("GET", SECURITY, token)
    assert response.status_code == 403 and error_code(response) == "scope_missing"


def test_keys_issued_before_scopes_keep_working_for_whoami_but_reach_no_admin_endpoint(org, owner):
    _, token = actions.create_api_key(org, actor=owner, name="old")
    assert call("GET", "/api/v1/whoami", token).status_code == 200
    assert error_code(call("GET", SECURITY, token)) == "scope_missing"


def test_the_overview_takes_a_fixed_number_of_queries(org, owner, django_assert_max_num_queries):
    _, token = scoped_key(org, owner, ["security:read"])
    call("GET", SECURITY, token)  # warm the per-process caches
    with django_assert_max_num_queries(14):
        assert call("GET", SECURITY, token).status_code == 200


# --- security:write needs the organization's switch ----------------------------------------------------------


def test_security_writes_need_the_api_switch(org, owner):
    _, token = scoped_key(org, owner, ["security:read", "security:write"])
    etag = call("GET", "/api/v1/orgs/acme/allowlist", token)["ETag"]
    body = {"enabled": False, "scope": "api"}
    response = call("PUT", "/api/v1/orgs/acme/allowlist", token, body, **{"If-Match": etag})
    assert response.status_code == 403 and error_code(response) == "api_security_changes_off"
    allow_api_changes(org, owner)
    response = call("PUT", "/api/v1/orgs/acme/allowlist", token, body, **{"If-Match": etag})
    assert response.status_code == 200 and response.json()["scope"] == "api"


def test_only_owners_switch_api_security_changes(org, owner, admin):
    with pytest.raises(ActionRefused) as refused:
        actions.set_api_security_changes(org, actor=admin, allowed=True)
    assert refused.value.code == "role_not_allowed"
    assert actions.set_api_security_changes(org, actor=owner, allowed=True)
    assert (
        org.auditevent_set.filter(action="key.api_security_changes_allowed").exists()
        if hasattr(org, "auditevent_set")
        else True
    )


def test_a_service_account_key_acts_as_an_admin(org, owner, service_account):
    allow_api_changes(org, owner)
    _, token = scoped_key(org, owner, ["security:read", "security:write"], service_account=service_account)
    assert call("GET", SECURITY, token).status_code == 200
    etag = call("GET", "/api/v1/orgs/acme/allowlist", token)["ETag"]
    response = call("PATCH", "/api/v1/orgs/acme/allowlist", token, {"scope": "both"}, **{"If-Match": etag})
    assert response.status_code == 200


def test_a_personal_key_follows_its_owners_current_role(org, owner, admin):
    allow_api_changes(org, owner)
    _, token = scoped_key(org, admin, ["security:read"])
    assert call("GET", SECURITY, token).status_code == 200
    Membership.objects.filter(user=admin).update(role=Role.MEMBER)  # bypassing the hygiene that would revoke it
    response = call("GET", SECURITY, token)
    assert response.status_code == 403


# --- scopes at issue time --------------------------------------------------------------------------------------


def test_write_scopes_only_for_owners_and_admins_personal_keys(org, owner, admin, member):
    assert scoped_key(org, owner, ["security:write"])[0].scopes == ["security:write"]
    assert scoped_key(org, admin, ["members:write"])[0].scopes == ["members:write"]
    with pytest.raises(ActionRefused) as refused:
        member_key(org, member, ["security:write"])
    assert refused.value.code == "scope_not_allowed"
    assert member_key(org, member, ["audit:read"])[0].scopes == ["audit:read"]


def test_only_owners_give_service_account_keys_write_scopes(org, owner, admin, service_account):
    with pytest.raises(ActionRefused) as refused:
        scoped_key(org, admin, ["security:write"], service_account=service_account)
    assert refused.value.code == "scope_not_allowed"
    assert scoped_key(org, admin, ["security:read"], service_account=service_account)[0].scopes == ["security:read"]
    assert scoped_key(org, owner, ["security:write"], service_account=service_account)[0].scopes == ["security:write"]


def test_unknown_scopes_are_refused(org, owner):
    with pytest.raises(ActionRefused) as refused:
        scoped_key(org, owner, ["admin:everything"])
    assert refused.value.code == "bad_scope"


# --- errors are always JSON ------------------------------------------------------------------------------------


def test_errors_are_json_for_bad_input_and_unknown_paths(org, owner):
    allow_api_changes(org, owner)
    _, token = scoped_key(org, owner, ALL_SCOPES)
    response = call("POST", "/api/v1/orgs/acme/allowlist/entries", token, {"label": "x"})
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    assert "cidr" in response.json()["error"]["fields"]
    response = Client_post_raw(token, "/api/v1/orgs/acme/allowlist/entries", b"{not json")
    assert response.status_code == 400 and error_code(response) == "bad_request"
    response = call("GET", "/api/v1/orgs/acme/nothing-here", token)
    assert response.status_code == 404 and error_code(response) == "not_found"
    response = call("POST", SECURITY, token, {})
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"


def test_an_unexpected_failure_is_a_json_500(org, owner, monkeypatch):
    from adminapi.routes import security as api_module

    _, token = scoped_key(org, owner, ["security:read"])

    def broken(organization):
        raise RuntimeError("boom")

    monkeypatch.setattr(api_module, "_settings", broken)
    response = call("GET", SECURITY, token)
    assert response.status_code == 500 and error_code(response) == "server_error"


def Client_post_raw(token, path, raw):
    from django.test import Client

    return Client().generic(
        "POST", path, data=raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_the_schema_is_openapi_3_1_and_the_reference_page_uses_local_files(db):
    from django.test import Client

    schema = Client().get("/api/v1/openapi.json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/orgs/{org_slug}/security" in document["paths"]
    page = Client().get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()


def test_each_key_is_rate_limited_with_retry_after(org, owner, settings, monkeypatch):
    from adminapi import access

    monkeypatch.setattr(access, "clock", lambda: 1_800_000_030.0)  # 30 s into a window
    settings.ADMIN_API_RATE_LIMIT = 2
    _, token = scoped_key(org, owner, ["security:read"])
    _, other = scoped_key(org, owner, ["security:read"])
    assert call("GET", SECURITY, token).status_code == 200
    assert call("GET", SECURITY, token).status_code == 200
    limited = call("GET", SECURITY, token)
    assert limited.status_code == 429 and error_code(limited) == "rate_limited"
    assert limited["Retry-After"] == "30"
    assert call("GET", SECURITY, other).status_code == 200  # per key


def test_unknown_query_parameters_are_refused(org, owner):
    _, token = scoped_key(org, owner, ["security:read"])
    response = call("GET", f"{SECURITY}?verbose=1", token)
    assert response.status_code == 400 and error_code(response) == "unknown_parameter"
    assert call("GET", "/api/v1/orgs/acme/allowlist/entries?limit=5", token).status_code == 200
