"""The key-authenticated API: whoami, projects, every refusal with its own code, rotation, revocation, tenancy."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from keys import actions, tokens
from keys.models import APIKey
from orgsecurity import actions as org_actions
from orgsecurity.refusals import Refusal
from orgsecurity.roles import Role
from tests.helpers.keys import api_get, issue


def error(response) -> str:
    assert response["Content-Type"] == "application/json", response.content[:200]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return body["error"]["code"]


# --- whoami ------------------------------------------------------------------------------------------------


def test_whoami_describes_the_key_its_org_owner_and_restrictions(org, owner, acme):
    key, token = issue(
        org,
        owner,
        name="deploy bot",
        team_ids=[acme.platform.pk],
        project_ids=[acme.web.pk],
        workloads=["ci"],
        allowed_cidrs=["127.0.0.0/8"],
        expires_at=timezone.now() + timedelta(days=30),
    )
    response = api_get(token, "/api/v1/whoami")
    assert response.status_code == 200
    body = response.json()
    assert body["organization"] == {"slug": "acme", "name": "Acme Inc."}
    assert body["owner"] == {"type": "member", "email": "owner@acme.test", "role": "owner"}
    assert body["key"]["prefix"] == key.prefix and body["key"]["name"] == "deploy bot"
    assert body["key"]["scopes"] == []  # a program can check which admin API scopes it holds before calling
    assert body["restrictions"]["teams"] == [acme.platform.pk]
    assert body["restrictions"]["projects"] == [acme.web.pk]
    assert body["restrictions"]["workloads"] == ["ci"]
    assert body["restrictions"]["allowed_cidrs"] == ["127.0.0.0/8"]
    assert body["restrictions"]["permission"] == "read"
    assert body["restrictions"]["expires_at"].startswith(str(key.expires_at.date()))
    assert response["Cache-Control"] == "no-store"
    assert token not in response.content.decode()


def test_whoami_of_a_service_account_key(org, owner, acme):
    account = actions.create_service_account(org, actor=owner, name="ci-bot")
    _, token = issue(org, owner, service_account=account, project_ids=[acme.web.pk])
    assert api_get(token, "/api/v1/whoami").json()["owner"] == {"type": "service_account", "name": "ci-bot"}


def test_the_key_lookup_is_one_query_and_last_use_is_written_at_most_once_a_minute(org, owner, acme):
    key, token = issue(org, owner, project_ids=[acme.web.pk])
    with CaptureQueriesContext(connection) as first:
        assert api_get(token, "/api/v1/whoami").status_code == 200
    assert len(first) == 2  # the lookup, then the first last-used write
    assert first.captured_queries[1]["sql"].startswith("UPDATE")
    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_ip == "127.0.0.1"
    used_at = key.last_used_at
    with CaptureQueriesContext(connection) as again:
        for _ in range(3):
            assert api_get(token, "/api/v1/whoami", REMOTE_ADDR="127.0.0.9").status_code == 200
    assert len(again) == 3  # one indexed lookup per request, no writes within the minute
    key.refresh_from_db()
    assert key.last_used_at == used_at and key.last_used_ip == "127.0.0.1"
    APIKey.objects.filter(pk=key.pk).update(last_used_at=used_at - timedelta(seconds=61))
    api_get(token, "/api/v1/whoami", REMOTE_ADDR="127.0.0.9")
    key.refresh_from_db()
    assert key.last_used_at > used_at and key.last_used_ip == "127.0.0.9"


# --- 401: the key itself --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer    ",
        "Token osk_abc",
    ],
)
def test_missing_or_non_bearer_credentials_are_401_missing_key(db, header):
    headers = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = Client().get("/api/v1/whoami", **headers)
    assert response.status_code == 401
    assert error(response) == "missing_key"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "credentials",
    [
        "osk_short",
        "not-a-key-at-all",
        "osk_" + "a" * 48,  # right shape, wrong checksum
        "OSK_" + "a" * 48,
        "osk_" + "é" * 48,
        "osk_" + "a" * 47 + "!",
        "x" * 5000,
        "osk_AAAAAAAAAA' OR 1=1 --",
        "\x00\x01\x02",
    ],
)
def test_garbage_keys_are_401_malformed_key_without_a_500(db, credentials):
    response = Client().get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {credentials}")
    assert response.status_code == 401
    assert error(response) == "malformed_key"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_mistyped_key_fails_its_checksum(org, owner, acme):
    _, token = issue(org, owner, project_ids=[acme.web.pk])
    typo = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    response = api_get(typo, "/api/v1/whoami")
    assert (response.status_code, error(response)) == (401, "malformed_key")
    assert "checksum" in response.json()["error"]["message"]


def test_a_well_formed_key_that_does_not_exist_is_401_unknown_key(db):
    made_up = tokens.new_token(tokens.new_key_id())
    response = api_get(made_up, "/api/v1/whoami")
    assert (response.status_code, error(response)) == (401, "unknown_key")


def test_a_known_key_id_with_a_wrong_secret_is_401_unknown_key(org, owner, acme):
    key, _ = issue(org, owner, project_ids=[acme.web.pk])
    forged = tokens.new_token(key.key_id)  # the public prefix with a guessed secret
    response = api_get(forged, "/api/v1/whoami", REMOTE_ADDR="192.0.2.66")
    assert (response.status_code, error(response)) == (401, "unknown_key")
    key.refresh_from_db()
    assert key.last_used_at is None
    event = AuditEvent.objects.get(organization=org, action="key.use_denied")
    assert event.target_label == str(key)  # in the key's organization's log...
    assert event.actor_label == "API client at 192.0.2.66"  # ...but not attributed to the key


def test_revocation_is_immediate_and_the_message_says_when(org, owner, acme):
    key, token = issue(org, owner, project_ids=[acme.web.pk])
    assert api_get(token, "/api/v1/whoami").status_code == 200
    actions.revoke_api_key(key, actor=owner, reason="Leaked in a CI log")
    response = api_get(token, "/api/v1/whoami")
    assert (response.status_code, error(response)) == (401, "key_revoked")
    key.refresh_from_db()
    message = response.json()["error"]["message"]
    assert message == f"This API key was revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC."


@pytest.mark.parametrize(
    "revoke",
    [
        pytest.param(
            lambda key, owner, admin: actions.revoke_api_key(key, actor=owner, reason="Fired: Adam took the laptop"),
            id="by-an-admin-with-a-note",
        ),
        pytest.param(
            lambda key, owner, admin: org_actions.remove_member(admin.memberships.get(), actor=owner),
            id="owner-removed",
        ),
        pytest.param(
            lambda key, owner, admin: org_actions.change_role(admin.memberships.get(), actor=owner, role=Role.BILLING),
            id="owner-role-changed",
        ),
    ],
)
def test_a_revoked_key_is_told_the_code_and_date_never_the_reason(org, owner, admin, acme, revoke):
    key, token = issue(org, admin, team_ids=[acme.data.pk], permission="read_write")
    revoke(key, owner, admin)
    key.refresh_from_db()
    assert key.revoked_reason  # the organization keeps its reason...
    for path in ("/api/v1/whoami", f"/api/v1/projects/{acme.warehouse.pk}/"):
        response = api_get(token, path)
        assert (response.status_code, error(response)) == (401, "key_revoked")
        # ...but whoever holds the key learns only that and when.
        assert (
            response.json()["error"]["message"] == f"This API key was revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC."
        )
        body = response.content.decode()
        assert key.revoked_reason.rstrip(".") not in body and "admin@acme.test" not in body and "Adam" not in body


def test_an_expired_key_is_401_key_expired(org, owner, acme):
    key, token = issue(org, owner, project_ids=[acme.web.pk], expires_at=timezone.now() + timedelta(days=1))
    assert api_get(token, "/api/v1/whoami").status_code == 200
    APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))  # a day passes
    response = api_get(token, "/api/v1/whoami")
    assert (response.status_code, error(response)) == (401, "key_expired")
    assert response.json()["error"]["message"].startswith("This API key expired on ")


def test_rotation_keeps_the_old_secret_for_the_overlap_then_ends_it(org, owner, acme):
    key, old = issue(org, owner, project_ids=[acme.web.pk])
    key, new = actions.rotate_api_key(key, actor=owner, overlap=timedelta(days=2))
    assert new != old and new.startswith(key.prefix)
    assert api_get(new, "/api/v1/whoami").status_code == 200
    assert api_get(old, "/api/v1/whoami").status_code == 200  # inside the overlap
    assert key.previous_valid_until == key.rotated_at + timedelta(days=2)
    APIKey.objects.filter(pk=key.pk).update(previous_valid_until=timezone.now() - timedelta(seconds=1))  # 2 days on
    response = api_get(old, "/api/v1/whoami")
    assert (response.status_code, error(response)) == (401, "key_rotated")
    assert api_get(new, "/api/v1/whoami").status_code == 200


def test_rotation_without_overlap_ends_the_old_secret_at_once(org, owner, acme):
    key, old = issue(org, owner, project_ids=[acme.web.pk])
    _, new = actions.rotate_api_key(key, actor=owner, overlap=timedelta(0))
    assert api_get(old, "/api/v1/whoami").status_code == 401
    assert api_get(new, "/api/v1/whoami").status_code == 200


def test_revoking_during_an_overlap_kills_both_secrets(org, owner, acme):
    key, old = issue(org, owner, project_ids=[acme.web.pk])
    key, new = actions.rotate_api_key(key, actor=owner, overlap=timedelta(days=7))
    actions.revoke_api_key(key, actor=owner, reason="done")
    assert error(api_get(new, "/api/v1/whoami")) == "key_revoked"
    assert api_get(old, "/api/v1/whoami").status_code == 401


# --- 403: restrictions, each with its own code ----------------------------------------------------------


def test_team_restriction(org, admin, acme):
    _, token = issue(org, admin, team_ids=[acme.platform.pk])
    assert api_get(token, f"/api/v1/projects/{acme.web.pk}/").status_code == 200
    response = api_get(token, f"/api/v1/projects/{acme.warehouse.pk}/")
    assert (response.status_code, error(response)) == (403, "team_not_allowed")
    assert "'data'" in response.json()["error"]["message"]


def test_project_restriction(org, owner, acme):
    _, token = issue(org, owner, project_ids=[acme.web.pk])
    response = api_get(token, f"/api/v1/projects/{acme.web.pk}/")
    assert response.status_code == 200
    assert response.json() == {
        "id": acme.web.pk,
        "slug": "web",
        "name": "Web app",
        "organization": "acme",
        "team": {"id": acme.platform.pk, "slug": "platform", "name": "Platform"},
    }
    response = api_get(token, f"/api/v1/projects/{acme.mobile.pk}/")
    assert (response.status_code, error(response)) == (403, "project_not_allowed")


def test_workload_restriction(org, owner, acme):
    _, token = issue(org, owner, project_ids=[acme.web.pk], workloads=["ci"])
    path = f"/api/v1/projects/{acme.web.pk}/"
    assert api_get(token, path, HTTP_X_WORKLOAD="ci").status_code == 200
    undeclared = api_get(token, path)
    assert (undeclared.status_code, error(undeclared)) == (403, "workload_not_allowed")
    assert "X-Workload" in undeclared.json()["error"]["message"]
    other = api_get(token, path, HTTP_X_WORKLOAD="batch-export")
    assert (other.status_code, error(other)) == (403, "workload_not_allowed")


def test_network_restriction(org, owner, acme):
    _, token = issue(org, owner, project_ids=[acme.web.pk], allowed_cidrs=["10.0.0.0/8", "2001:db8::/32"])
    path = f"/api/v1/projects/{acme.web.pk}/"
    assert api_get(token, path, REMOTE_ADDR="10.20.30.40").status_code == 200
    assert api_get(token, path, REMOTE_ADDR="2001:db8::1").status_code == 200
    response = api_get(token, path, REMOTE_ADDR="192.0.2.10")
    assert (response.status_code, error(response)) == (403, "network_not_allowed")
    assert "10.0.0.0/8" not in response.json()["error"]["message"]  # a leaked key's holder learns nothing
    # A forged forwarding header does not help: no proxy is trusted by default.
    forged = api_get(token, path, REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert error(forged) == "network_not_allowed"
    whoami = api_get(token, "/api/v1/whoami", REMOTE_ADDR="192.0.2.10")
    assert error(whoami) == "network_not_allowed"


def test_ipv4_mapped_networks_restrict_a_key_as_ipv4(org, owner, acme):
    # Clients are matched as IPv4 when they arrive as ::ffff:a.b.c.d, so a key's mapped networks must be too
    # (as allowlist entries are); kept as IPv6 they matched nobody and the key never worked.
    key, token = issue(
        org, owner, project_ids=[acme.web.pk], allowed_cidrs=["::ffff:203.0.113.0/120", "::ffff:1.2.3.4"]
    )
    assert key.allowed_cidrs == ["203.0.113.0/24", "1.2.3.4/32"]
    path = f"/api/v1/projects/{acme.web.pk}/"
    assert api_get(token, path, REMOTE_ADDR="203.0.113.9").status_code == 200
    assert api_get(token, path, REMOTE_ADDR="::ffff:1.2.3.4").status_code == 200
    assert error(api_get(token, path, REMOTE_ADDR="198.51.100.1")) == "network_not_allowed"
    with pytest.raises(actions.ActionRefused, match="zone"):
        issue(org, owner, project_ids=[acme.web.pk], allowed_cidrs=["fe80::%eth0/64"])


def test_nat64_networks_restrict_a_key_as_ipv4(org, owner, acme):
    # A client behind a NAT64 (64:ff9b::/96, RFC 6052) is resolved to the IPv4 address it carries, so a key's
    # NAT64 networks are stored as that IPv4 block and both spellings of the client are one client.
    key, token = issue(org, owner, project_ids=[acme.web.pk], allowed_cidrs=["64:ff9b::c000:200/120"])
    assert key.allowed_cidrs == ["192.0.2.0/24"]
    path = f"/api/v1/projects/{acme.web.pk}/"
    assert api_get(token, path, REMOTE_ADDR="64:ff9b::c000:280").status_code == 200
    assert api_get(token, path, REMOTE_ADDR="192.0.2.128").status_code == 200
    assert error(api_get(token, path, REMOTE_ADDR="64:ff9b::c633:6401")) == "network_not_allowed"
    key.refresh_from_db()
    assert key.last_used_ip == "192.0.2.128"


def test_permission_restriction(org, owner, acme):
    _, read_only = issue(org, owner, project_ids=[acme.web.pk])
    _, read_write = issue(org, owner, project_ids=[acme.web.pk], permission="read_write")
    path = f"/api/v1/projects/{acme.web.pk}/"
    body = json.dumps({"name": "Web app v2"})
    refused = Client().patch(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {read_only}")
    assert (refused.status_code, error(refused)) == (403, "permission_insufficient")
    acme.web.refresh_from_db()
    assert acme.web.name == "Web app"
    renamed = Client().patch(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {read_write}")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Web app v2"
    event = AuditEvent.objects.get(action="project.renamed")
    assert event.actor_type == "api_key" and event.actor_label.startswith("API key osk_")
    assert event.changes == {"name": ["Web app", "Web app v2"]}


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"name": 5}',
        '{"name": "x", "team": 1}',
        '{"name": ""}',
        # Attack: garbage that used to reach a 500 HTML page: nesting deeper than the JSON parser recurses,
        # a number too long to convert, text no database stores (NUL, a lone UTF-16 surrogate), invalid UTF-8.
        "[" * 100_000,
        '{"name": ' * 50_000,
        '{"name": 1' + "0" * 5000 + "}",
        '{"name": "web\\u0000app"}',
        '{"name": "web\\ud800app"}',
        b'{"name": "\xff\xfe"}',
    ],
)
def test_bad_write_bodies_are_400_json(org, owner, acme, body):
    _, token = issue(org, owner, project_ids=[acme.web.pk], permission="read_write")
    response = Client().patch(
        f"/api/v1/projects/{acme.web.pk}/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 400
    assert error(response) in {"bad_request", "bad_name"}


def test_a_members_key_stops_reaching_a_team_they_left(org, member, acme):
    _, token = issue(org, member, team_ids=[acme.platform.pk])
    path = f"/api/v1/projects/{acme.web.pk}/"
    assert api_get(token, path).status_code == 200
    acme.platform.members.remove(member.memberships.get())
    response = api_get(token, path)
    assert (response.status_code, error(response)) == (403, "team_not_allowed")


seen_by_pipeline: list[str] = []


def refuse_from_pipeline(request, api_key):
    """An API pipeline check like the IP allowlist's: it sees the verified key and refuses."""
    seen_by_pipeline.append(api_key.prefix)
    return Refusal("ip_not_allowed", "This network is not on the organization's allowlist.")


def test_api_pipeline_checks_run_after_the_key_is_verified(org, owner, acme, settings):
    seen_by_pipeline.clear()
    settings.API_PIPELINE_CHECKS = ["tests.keys.test_api.refuse_from_pipeline"]
    key, token = issue(org, owner, project_ids=[acme.web.pk])
    assert error(api_get("osk_garbage", "/api/v1/whoami")) == "malformed_key"
    assert error(api_get(tokens.new_token(key.key_id), "/api/v1/whoami")) == "unknown_key"
    assert not seen_by_pipeline  # never reached for a key that did not verify
    response = api_get(token, "/api/v1/whoami")
    assert (response.status_code, error(response)) == (403, "ip_not_allowed")
    assert seen_by_pipeline == [key.prefix]


# --- tenancy, bad input, methods ------------------------------------------------------------------------


def test_an_org_a_key_cannot_see_org_b_projects_nor_tell_them_from_missing_ones(org, owner, acme, globex_project):
    _, token = issue(org, owner)  # unrestricted, read-write would not matter either
    foreign = api_get(token, f"/api/v1/projects/{globex_project.pk}/")
    missing = api_get(token, "/api/v1/projects/987654/")
    assert foreign.status_code == missing.status_code == 404
    assert error(foreign) == error(missing) == "not_found"
    assert foreign.json()["error"]["message"].replace(str(globex_project.pk), "N") == missing.json()["error"][
        "message"
    ].replace("987654", "N")
    assert b"Secret plans" not in foreign.content


@pytest.mark.parametrize("raw", ["abc", "-1", "0", "1.5", "99999999999999999999999", "%F0%9F%98%80", "%D9%A3", ""])
def test_project_ids_that_are_not_numbers_are_a_clean_404(org, owner, acme, raw):
    _, token = issue(org, owner)
    response = api_get(token, f"/api/v1/projects/{raw}/")
    assert (response.status_code, error(response)) == (404, "not_found")


def test_unknown_api_paths_and_methods_answer_json(org, owner, acme):
    _, token = issue(org, owner)
    response = api_get(token, "/api/v1/nothing/here")
    assert (response.status_code, error(response)) == (404, "not_found")
    post = Client().post("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (post.status_code, error(post)) == (405, "method_not_allowed")
    assert post["Allow"] == "GET, HEAD"
    without_slash = api_get(token, f"/api/v1/projects/{acme.web.pk}")
    assert without_slash.status_code == 200


def test_sessions_never_authenticate_the_api_and_leave_no_trace(client_for, owner, org):
    client = client_for(owner)
    response = client.get("/api/v1/whoami")
    assert (response.status_code, error(response)) == (401, "missing_key")
    assert "Set-Cookie" not in response and "Cookie" not in response.get("Vary", "")
    post = client.patch("/api/v1/projects/1/", "{}", content_type="application/json")
    assert (post.status_code, error(post)) == (401, "missing_key")  # JSON, not the CSRF page


def test_a_key_does_not_open_dashboard_pages(org, owner, acme):
    _, token = issue(org, owner)
    for path in ("/orgs/acme/", "/orgs/acme/settings/security/keys/", "/orgs/acme/members/"):
        page = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")
        as_json = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT="application/json")
        assert (as_json.status_code, error(as_json)) == (401, "not_authenticated")


# --- denied uses are audited, without flooding ----------------------------------------------------------


def test_denied_uses_are_audited_with_the_prefix_and_throttled(org, owner, acme):
    key, token = issue(org, owner, project_ids=[acme.web.pk])
    for _ in range(5):
        api_get(token, f"/api/v1/projects/{acme.mobile.pk}/", REMOTE_ADDR="198.51.100.7")
    events = AuditEvent.objects.filter(organization=org, action="key.use_denied")
    assert events.count() == 1
    event = events.get()
    assert event.details["code"] == "project_not_allowed"
    assert event.target_label == str(key) and key.prefix in event.sentence
    assert event.ip == "198.51.100.7"
    assert token[len(key.prefix) :] not in json.dumps([event.details, event.changes, event.target_label])


def test_unknown_keys_are_audited_on_the_platform_log(db):
    made_up = tokens.new_token("AAAAAAAAAA")
    api_get(made_up, "/api/v1/whoami", REMOTE_ADDR="203.0.113.50")
    event = AuditEvent.objects.get(action="key.use_denied")
    assert event.organization is None
    assert event.details["code"] == "unknown_key" and event.target_label == "osk_AAAAAAAAAA"
    assert made_up not in json.dumps(event.details)


def test_made_up_keys_cannot_flood_the_platform_log(db):
    # Attack: from one address, send a fresh made-up key (a random key ID with its public checksum) on every
    # request. The throttle was keyed on the presented key ID, new each time, so every request wrote an event to
    # the platform log (and took its chain lock): unbounded writes, no credentials needed.
    for _ in range(20):
        response = api_get(tokens.new_token(tokens.new_key_id()), "/api/v1/whoami", REMOTE_ADDR="203.0.113.50")
        assert (response.status_code, error(response)) == (401, "unknown_key")
    assert AuditEvent.objects.filter(organization=None, action="key.use_denied").count() == 1
    api_get(tokens.new_token(tokens.new_key_id()), "/api/v1/whoami", REMOTE_ADDR="203.0.113.51")
    assert AuditEvent.objects.filter(organization=None, action="key.use_denied").count() == 2


def test_whoami_lists_the_keys_admin_api_scopes(org, owner, acme):
    _, token = issue(org, owner, scopes=["security:read", "audit:read"])
    assert api_get(token, "/api/v1/whoami").json()["key"]["scopes"] == ["security:read", "audit:read"]
