"""SSO connections over the admin API: created from real signed IdP metadata (a URL our server fetches, or the XML)
or an OIDC issuer, read without secrets, changed with If-Match, tested by a person who opens the run's URL and
signs in at the IdP, moved through the rollout, and enforced only after its preview and with the page's
confirmation; every guardrail of the dashboard refuses the same change with the same code, audited with the key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from audit.models import ActorType, AuditEvent
from keys import actions as key_actions
from orgsecurity.models import Membership
from orgsecurity.roles import Role
from sso.connections import actions as sso_actions
from sso.models import SSOConnection, SSOTestRun
from sso.protocols import HANDLERS
from sso.saml.config import sp_endpoints
from tests.helpers.adminapi import ALL_SCOPES, allow_api_changes, call, error_code, scoped_key
from tests.helpers.saml import finish_in, post_to_acs
from tests.helpers.sso import ScriptedIdP, link_identity, make_ready
from tests.sso.oidc.provider import CLIENT_ID, CLIENT_SECRET, LocalProvider
from tests.sso.saml.idp import TestIdP, redirect_message
from tests.sso.saml.test_acs import answer

CONNECTIONS = "/api/v1/orgs/acme/sso/connections"
BASE = "https://testserver"  # PUBLIC_BASE_URL in the test settings


@pytest.fixture(scope="module")
def idp() -> TestIdP:
    return TestIdP()


@pytest.fixture
def terraform(org, owner):
    """A service account's key with security:read and security:write, the API switch on (as the issue's script)."""
    allow_api_changes(org, owner)
    account = key_actions.create_service_account(org, actor=owner, name="terraform")
    return scoped_key(org, owner, ["security:read", "security:write"], service_account=account)


def create_from_xml(token: str, idp: TestIdP, **fields) -> dict:
    body = {"protocol": "saml", "name": "Acme IdP", "metadata_xml": idp.metadata_xml(), "preset": "ldap", **fields}
    response = call("POST", CONNECTIONS, token, body)
    assert response.status_code == 201, response.content
    return response.json()


def etag(token: str, connection_id: int) -> str:
    return call("GET", f"{CONNECTIONS}/{connection_id}", token)["ETag"]


# --- create, read, list ---------------------------------------------------------------------------------------------


def test_create_saml_from_a_metadata_url_the_server_fetches(org, terraform, idp, httpserver, settings):
    key, token = terraform
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]  # the test server's address, as tests/sso does
    httpserver.expect_request("/idp/metadata").respond_with_data(idp.metadata_xml(), content_type="text/xml")
    url = httpserver.url_for("/idp/metadata")
    body = {"protocol": "saml", "name": "Okta", "metadata_url": url, "admin_owner": "owner@acme.test"}
    response = call("POST", CONNECTIONS, token, body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "off" and created["admin_owner"] == "owner@acme.test"
    assert created["saml"]["idp_entity_id"] == idp.entity_id and created["saml"]["metadata_url"] == url
    assert created["saml"]["sp_acs_url"] == sp_endpoints("acme").acs_url
    assert "PRIVATE KEY" not in response.content.decode()
    assert response["ETag"] == created["etag"] == etag(token, created["id"])
    listed = call("GET", CONNECTIONS, token).json()["connections"]
    assert [c["id"] for c in listed] == [created["id"]]
    event = AuditEvent.objects.get(organization=org, action="sso.connection_created")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label


def test_a_metadata_url_at_a_private_address_is_refused_as_on_the_page(org, terraform):
    _, token = terraform
    body = {"protocol": "saml", "metadata_url": "http://127.0.0.1:9/metadata"}
    response = call("POST", CONNECTIONS, token, body)
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    assert "only from public addresses" in response.json()["error"]["fields"]["metadata_url"]
    both = call("POST", CONNECTIONS, token, {**body, "metadata_xml": "<x/>"})
    assert both.status_code == 400 and "metadata_url" in both.json()["error"]["fields"]
    bad_xml = call("POST", CONNECTIONS, token, {"protocol": "saml", "metadata_xml": "<x/>"})
    assert bad_xml.status_code == 400 and "no EntityDescriptor" in bad_xml.json()["error"]["fields"]["metadata_xml"]
    assert not SSOConnection.objects.filter(organization=org).exists()


def test_create_oidc_from_an_issuer_never_returns_the_client_secret(org, terraform, httpserver, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.0/8"]
    provider = LocalProvider(httpserver)
    provider.serve()
    _, token = terraform
    body = {"protocol": "oidc", "issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    response = call("POST", CONNECTIONS, token, body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["oidc"]["issuer"] == provider.issuer and created["oidc"]["client_id"] == CLIENT_ID
    assert created["oidc"]["client_secret_set_at"] and created["saml"] is None
    read = call("GET", f"{CONNECTIONS}/{created['id']}", token)
    assert CLIENT_SECRET not in response.content.decode() + read.content.decode()
    missing = call("POST", CONNECTIONS, token, {"protocol": "oidc", "issuer": provider.issuer, "client_id": "x"})
    assert missing.status_code == 400 and "client_secret" in missing.json()["error"]["fields"]
    wrong = call("POST", CONNECTIONS, token, {**body, "issuer": "https://127.0.0.1:9/nothing"})
    assert wrong.status_code == 400 and "issuer" in wrong.json()["error"]["fields"]
    assert SSOConnection.objects.filter(organization=org).count() == 1
    path = f"{CONNECTIONS}/{created['id']}"
    saml_only = call("PATCH", path, token, {"metadata_xml": "<x/>"}, **{"If-Match": read["ETag"]})
    assert saml_only.status_code == 400 and "metadata_xml" in saml_only.json()["error"]["fields"]
    replaced = call("PATCH", path, token, {"client_secret": "a-new-secret-value"}, **{"If-Match": read["ETag"]})
    assert replaced.status_code == 200 and replaced["ETag"] != read["ETag"]
    assert "a-new-secret-value" not in replaced.content.decode()
    event = AuditEvent.objects.filter(organization=org, action="sso.connection_updated").latest("seq")
    assert event.details.get("replaced") == "client secret"


def test_a_retried_create_with_the_same_idempotency_key_creates_once(org, terraform, idp):
    _, token = terraform
    body = {"protocol": "saml", "name": "Acme IdP", "metadata_xml": idp.metadata_xml()}
    first = call("POST", CONNECTIONS, token, body, **{"Idempotency-Key": "sso-1"})
    again = call("POST", CONNECTIONS, token, body, **{"Idempotency-Key": "sso-1"})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert SSOConnection.objects.filter(organization=org).count() == 1
    other = call("POST", CONNECTIONS, token, {**body, "name": "Other"}, **{"Idempotency-Key": "sso-1"})
    assert other.status_code == 422 and error_code(other) == "idempotency_key_reused"


# --- the access matrix ----------------------------------------------------------------------------------------------


def test_owner_and_admin_keys_read_and_write_connections(org, owner, admin, idp):
    allow_api_changes(org, owner)
    for user in (owner, admin):
        _, token = scoped_key(org, user, ["security:read", "security:write"])
        created = create_from_xml(token, idp, name=f"IdP of {user.email}")
        assert created["admin_owner"] == user.email  # a personal key's person, by default
        assert call("GET", f"{CONNECTIONS}/{created['id']}", token).status_code == 200


def test_a_member_key_is_refused_by_role_and_an_auditor_key_stops_working(org, owner, admin, member):
    from tests.adminapi.test_access import member_key

    _, token = member_key(org, member, ["security:read"])
    response = call("GET", CONNECTIONS, token)
    assert response.status_code == 403 and error_code(response) == "role_not_allowed"
    _, admins = scoped_key(org, admin, ["security:read"])
    Membership.objects.filter(user=admin).update(role=Role.AUDITOR)  # auditors hold no key; this one stops
    response = call("GET", CONNECTIONS, admins)
    assert response.status_code == 403 and error_code(response) == "owner_role_not_allowed"


def test_another_organizations_connection_is_a_404_like_a_missing_one(org, owner, other_org, outsider, idp):
    allow_api_changes(org, owner)
    _, token = scoped_key(org, owner, ALL_SCOPES)
    theirs = sso_actions.create_connection(other_org, actor=outsider, protocol="saml", name="Globex")
    for path in (
        f"{CONNECTIONS}/{theirs.pk}",
        f"{CONNECTIONS}/{theirs.pk}/enforcement/preview",
        f"{CONNECTIONS}/{theirs.pk}/tests",
        "/api/v1/orgs/globex/sso/connections",
    ):
        response = call("GET", path, token)
        assert response.status_code == 404 and error_code(response) == "not_found", path
    response = call("DELETE", f"{CONNECTIONS}/{theirs.pk}", token, **{"If-Match": "*"})
    assert response.status_code == 404 and SSOConnection.objects.filter(pk=theirs.pk).exists()


def test_writes_need_the_scope_and_the_organizations_api_switch(org, owner, idp):
    _, read_only = scoped_key(org, owner, ["security:read"])
    body = {"protocol": "saml", "metadata_xml": idp.metadata_xml()}
    response = call("POST", CONNECTIONS, read_only, body)
    assert response.status_code == 403 and error_code(response) == "scope_missing"
    _, writer = scoped_key(org, owner, ["security:read", "security:write"])
    response = call("POST", CONNECTIONS, writer, body)
    assert response.status_code == 403 and error_code(response) == "api_security_changes_off"
    assert not SSOConnection.objects.filter(organization=org).exists()
    allow_api_changes(org, owner)
    assert call("POST", CONNECTIONS, writer, body).status_code == 201


# --- changing and deleting ------------------------------------------------------------------------------------------


def test_patch_needs_if_match_and_refuses_a_stale_etag(org, owner, terraform, idp):
    _, token = terraform
    created = create_from_xml(token, idp, admin_owner="owner@acme.test")
    path = f"{CONNECTIONS}/{created['id']}"
    missing = call("PATCH", path, token, {"name": "Okta"})
    assert missing.status_code == 428 and error_code(missing) == "precondition_required"
    # Someone renames it on the connection page meanwhile (the same action).
    connection = SSOConnection.objects.get(pk=created["id"])
    sso_actions.update_connection(connection, actor=owner, name="Renamed on the page")
    stale = call("PATCH", path, token, {"name": "Okta"}, **{"If-Match": created["etag"]})
    assert stale.status_code == 412 and error_code(stale) == "precondition_failed"
    fresh = etag(token, created["id"])
    done = call("PATCH", path, token, {"name": "Okta", "allow_jit": True}, **{"If-Match": fresh})
    assert done.status_code == 200, done.content
    assert done.json()["name"] == "Okta" and done.json()["allow_jit"] is True and done["ETag"] != fresh
    bad_map = call("PATCH", path, token, {"attribute_map": {"shoe_size": "x"}}, **{"If-Match": done["ETag"]})
    assert bad_map.status_code == 400 and "Unknown profile fields" in bad_map.json()["error"]["fields"]["attribute_map"]


def test_only_an_owners_key_changes_the_idp_an_owner_signs_in_through(org, owner, admin, idp):
    allow_api_changes(org, owner)
    _, owners = scoped_key(org, owner, ["security:read", "security:write"])
    created = create_from_xml(owners, idp, admin_owner="owner@acme.test")
    link_identity(SSOConnection.objects.get(pk=created["id"]), owner, "olivia")
    other_idp = TestIdP("https://evil.example/saml", host="evil.example")
    _, admins = scoped_key(org, admin, ["security:read", "security:write"])
    path = f"{CONNECTIONS}/{created['id']}"
    refused = call("PATCH", path, admins, {"metadata_xml": other_idp.metadata_xml()}, **{"If-Match": created["etag"]})
    assert refused.status_code == 403 and error_code(refused) == "owner_required"
    assert SSOConnection.objects.get(pk=created["id"]).saml.idp_entity_id == idp.entity_id
    done = call("PATCH", path, owners, {"metadata_xml": other_idp.metadata_xml()}, **{"If-Match": created["etag"]})
    assert done.status_code == 200 and done.json()["saml"]["idp_entity_id"] == other_idp.entity_id


def test_a_connection_is_deleted_only_when_off(org, owner, terraform, idp):
    _, token = terraform
    created = create_from_xml(token, idp)
    path = f"{CONNECTIONS}/{created['id']}"
    moved = call("POST", f"{path}/status", token, {"status": "testing"})
    assert moved.status_code == 200 and moved.json()["status"] == "testing"
    in_use = call("DELETE", path, token, **{"If-Match": moved["ETag"]})
    assert in_use.status_code == 409 and error_code(in_use) == "connection_in_use"
    off = call("POST", f"{path}/status", token, {"status": "off"})
    assert call("DELETE", path, token, **{"If-Match": moved["ETag"]}).status_code == 412  # read while testing
    assert call("DELETE", path, token, **{"If-Match": off["ETag"]}).status_code == 204
    assert not SSOConnection.objects.filter(pk=created["id"]).exists()
    assert AuditEvent.objects.filter(organization=org, action="sso.connection_deleted").exists()


# --- status and enforcement -----------------------------------------------------------------------------------------


def test_status_moves_follow_the_pages_rules(org, terraform, idp):
    _, token = terraform
    created = create_from_xml(token, idp)
    path = f"{CONNECTIONS}/{created['id']}/status"
    skipped = call("POST", path, token, {"status": "on"})
    assert skipped.status_code == 409 and error_code(skipped) == "bad_move"
    stale = call("POST", path, token, {"status": "testing"}, **{"If-Match": '"0000"'})
    assert stale.status_code == 412
    assert call("POST", path, token, {"status": "testing"}).json()["status"] == "testing"
    assert call("POST", path, token, {"status": "on"}).json()["status"] == "on"
    enforced = call("POST", path, token, {"status": "enforced"})
    assert enforced.status_code == 400 and "status" in enforced.json()["error"]["fields"]  # only via /enforcement


def test_enforcement_before_a_passing_test_is_refused_with_the_pages_reasons(org, owner, terraform, idp):
    _, token = terraform
    created = create_from_xml(token, idp, admin_owner="owner@acme.test")
    base = f"{CONNECTIONS}/{created['id']}"
    call("POST", f"{base}/status", token, {"status": "testing"})
    preview = call("GET", f"{base}/enforcement/preview", token)
    assert preview.status_code == 200
    codes = {problem["code"] for problem in preview.json()["problems"]}
    assert {"no_recent_test", "no_recovery_account"} <= codes
    assert preview.json()["confirm"] == "acme" and preview.json()["impact"]["change"] == "sso.enforce"
    body = {"confirm": "acme", "support_contact": "it@acme.test"}
    typo = call("POST", f"{base}/enforcement", token, {**body, "confirm": "acme-typo"})
    assert typo.status_code == 400 and "confirm" in typo.json()["error"]["fields"]
    refused = call("POST", f"{base}/enforcement", token, body)
    assert refused.status_code == 409 and error_code(refused) == "not_ready"
    assert "no_recent_test" in {problem["code"] for problem in refused.json()["error"]["problems"]}
    assert SSOConnection.objects.get(pk=created["id"]).status == "testing"
    event = AuditEvent.objects.get(organization=org, action="sso.enforcement_refused")
    assert event.actor_type == ActorType.API_KEY


@pytest.fixture
def ready(org, owner, admin, member, monkeypatch):
    """A connection passing every guard but one: the admin has no linked identity (locked out unless acknowledged)."""
    scripted = ScriptedIdP()
    monkeypatch.setitem(HANDLERS, "saml", scripted)
    connection = sso_actions.create_connection(
        org, actor=owner, protocol="saml", name="Acme IdP", attribute_map={"email": "mail"}
    )
    sso_actions.set_status(connection, actor=owner, status="testing")
    return make_ready(connection, scripted, owner, member).connection


def test_enforcing_needs_each_locked_out_admin_acknowledged(org, admin, terraform, ready):
    key, token = terraform
    base = f"{CONNECTIONS}/{ready.pk}"
    preview = call("GET", f"{base}/enforcement/preview", token).json()
    assert preview["acknowledge_required"] == [admin.pk] and preview["problems"] == []
    people = next(group for group in preview["impact"]["groups"] if group["key"] == "people")
    assert {"ref": str(admin.pk), "name": admin.email, "blocking": True}.items() <= people["items"][0].items()
    body = {"confirm": "acme", "support_contact": "https://help.acme.test/sso"}
    refused = call("POST", f"{base}/enforcement", token, body)
    assert refused.status_code == 409 and error_code(refused) == "admins_locked_out"
    stray = call("POST", f"{base}/enforcement", token, {**body, "acknowledge": [999999]})
    assert stray.status_code == 400 and "acknowledge" in stray.json()["error"]["fields"]
    done = call("POST", f"{base}/enforcement", token, {**body, "acknowledge": [admin.pk]})
    assert done.status_code == 200, done.content
    assert done.json()["connection"]["status"] == "enforced"
    event = AuditEvent.objects.get(organization=org, action="sso.status_changed", changes__status__1="enforced")
    assert key.prefix in event.actor_label and event.details["acknowledged_lockouts"] == [admin.email]


def test_schedule_enforcement_then_cancel_it(org, admin, terraform, ready):
    _, token = terraform
    base = f"{CONNECTIONS}/{ready.pk}"
    when = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    body = {"confirm": "acme", "support_contact": "it@acme.test", "acknowledge": [admin.pk]}
    past = call("POST", f"{base}/enforcement", token, {**body, "enforce_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400 and error_code(past) == "past_date", past.content
    naive = call("POST", f"{base}/enforcement", token, {**body, "enforce_at": "2030-01-01T00:00:00"})
    assert naive.status_code == 400 and "enforce_at" in naive.json()["error"]["fields"]
    scheduled = call("POST", f"{base}/enforcement", token, {**body, "enforce_at": when.isoformat()})
    assert scheduled.status_code == 200, scheduled.content
    document = scheduled.json()["connection"]
    assert document["status"] == "testing" and document["enforce_at"].startswith(when.strftime("%Y-%m-%dT%H:%M"))
    assert call("DELETE", f"{base}/enforcement", token).status_code == 428
    cancelled = call("DELETE", f"{base}/enforcement", token, **{"If-Match": scheduled["ETag"]})
    assert cancelled.status_code == 200 and cancelled.json()["enforce_at"] is None
    assert AuditEvent.objects.filter(organization=org, action="sso.enforcement_unscheduled").exists()


# --- test runs ------------------------------------------------------------------------------------------------------


def test_a_test_run_is_completed_by_a_person_at_the_idp_and_read_by_the_program(
    org, owner, admin, member, terraform, idp, client_for
):
    key, token = terraform
    created = create_from_xml(token, idp, admin_owner="owner@acme.test")
    started = call("POST", f"{CONNECTIONS}/{created['id']}/tests", token, {}, **{"Idempotency-Key": "t1"})
    assert started.status_code == 201, started.content
    run = started.json()
    assert run["state"] == "waiting_for_tester" and run["tester"] is None
    open_path = run["open_url"].removeprefix(BASE)
    assert open_path.startswith("/orgs/acme/settings/security/sso/")
    assert client_for(member).get(open_path).status_code in (403, 404)  # members never open it

    browser = client_for(owner)
    page = browser.get(open_path)
    assert page.status_code == 200 and "Continue to the IdP" in page.content.decode()
    to_idp = browser.post(open_path)
    assert to_idp.status_code == 302 and to_idp["Location"].startswith(idp.sso_url)
    request_id = redirect_message(to_idp["Location"])[1]["RelayState"][0]
    signed = answer(idp, sp_endpoints("acme"), request_id, name_id="olivia-1", attributes={"mail": [owner.email]})
    finished = finish_in(browser, post_to_acs(signed))
    assert finished["Location"] == run["result_url"].removeprefix(BASE)

    result = call("GET", f"{CONNECTIONS}/{created['id']}/tests/{run['id']}", token).json()
    assert result["state"] == "passed" and result["tester"] == owner.email and result["open_url"] is None
    assert result["subject"] == "olivia-1" and result["attributes"]["mail"] == [owner.email]
    assert result["mapped"]["email"] == owner.email and result["reason"] == ""
    assert SSOTestRun.objects.get(pk=run["id"]).actor == owner  # counts toward enforcement as the owner's test
    started_event = AuditEvent.objects.get(organization=org, action="sso.test_started")
    assert started_event.actor_type == ActorType.API_KEY and key.prefix in started_event.actor_label
    # A replay of the start answers the same run; someone else cannot take it over.
    replay = call("POST", f"{CONNECTIONS}/{created['id']}/tests", token, {}, **{"Idempotency-Key": "t1"})
    assert replay.json()["id"] == run["id"] and SSOTestRun.objects.count() == 1
    assert client_for(admin).post(open_path)["Location"] == run["result_url"].removeprefix(BASE)


def test_a_test_run_opened_by_one_admin_is_not_taken_by_another(org, owner, admin, terraform, idp, client_for):
    _, token = terraform
    created = create_from_xml(token, idp)
    run = call("POST", f"{CONNECTIONS}/{created['id']}/tests", token, {"session_seconds": 120}).json()
    open_path = run["open_url"].removeprefix(BASE)
    assert client_for(owner).post(open_path).status_code == 302
    assert call("GET", f"{CONNECTIONS}/{created['id']}/tests/{run['id']}", token).json()["state"] == "in_progress"
    other = client_for(admin)
    assert "opened by someone else" in other.get(open_path).content.decode()
    assert other.post(open_path)["Location"].endswith(f"/tests/{run['id']}/")
    assert SSOTestRun.objects.get(pk=run["id"]).actor == owner
    bad = call("POST", f"{CONNECTIONS}/{created['id']}/tests", token, {"session_seconds": 99999})
    assert bad.status_code == 400 and "session_seconds" in bad.json()["error"]["fields"]
    missing = call("GET", f"{CONNECTIONS}/{created['id']}/tests/{run['id'] + 1000}", token)
    assert missing.status_code == 404


def test_a_key_whose_owner_was_demoted_cannot_start_tests(org, owner, admin, idp):
    allow_api_changes(org, owner)
    _, token = scoped_key(org, owner, ["security:read", "security:write"])
    created = create_from_xml(token, idp)
    _, admins = scoped_key(org, admin, ["security:read", "security:write"])
    Membership.objects.filter(user=admin).update(role=Role.MEMBER)
    response = call("POST", f"{CONNECTIONS}/{created['id']}/tests", admins, {})
    assert response.status_code == 403
    assert Client().get(f"{CONNECTIONS}/{created['id']}/tests").status_code == 401


def test_the_open_page_checks_access(org, owner, member, outsider, terraform, idp, client_for):
    """The page a test run's open_url names: membership (404) → role (403) → recent re-authentication."""
    from orgsecurity.signin_state import REAUTH_AT_SESSION_KEY

    _, token = terraform
    created = create_from_xml(token, idp)
    run = call("POST", f"{CONNECTIONS}/{created['id']}/tests", token, {}).json()
    open_path = run["open_url"].removeprefix(BASE)
    assert client_for(outsider).get(open_path).status_code == 404
    assert client_for(member).post(open_path).status_code == 403
    stale = client_for(owner)
    session = stale.session
    session[REAUTH_AT_SESSION_KEY] = 0
    session.save()
    assert stale.get(open_path).status_code == 200
    asked = stale.post(open_path)
    assert asked.status_code == 302 and asked["Location"].startswith("/accounts/reauthenticate/")
    assert SSOTestRun.objects.get(pk=run["id"]).actor is None  # nobody opened it yet
    result_page = client_for(owner).get(run["result_url"].removeprefix(BASE)).content.decode()
    assert "waiting for an owner or admin" in result_page and open_path in result_page


def test_a_rollback_that_takes_sso_sign_in_from_people_needs_its_preview_confirmed(org, owner, member, terraform):
    _, token = terraform
    connection = sso_actions.create_connection(
        org, actor=owner, protocol="saml", name="Acme IdP", attribute_map={"email": "mail"}
    )
    sso_actions.set_status(connection, actor=owner, status="testing")
    sso_actions.set_status(connection, actor=owner, status="on")
    link_identity(connection, member, "mia-subject")
    path = f"{CONNECTIONS}/{connection.pk}/status"

    preview = call("GET", f"{path}/preview?status=testing", token)

    assert preview.status_code == 200 and preview.json()["change"] == "sso.rollback"
    people = next(group for group in preview.json()["groups"] if group["key"] == "people")
    assert [item["name"] for item in people["items"]] == ["member@acme.test"]
    unconfirmed = call("POST", path, token, {"status": "testing"})
    assert unconfirmed.status_code == 400 and error_code(unconfirmed) == "confirmation_required"
    assert SSOConnection.objects.get(pk=connection.pk).status == "on"
    done = call("POST", path, token, {"status": "testing", "confirm": "acme"})
    assert done.status_code == 200 and done.json()["status"] == "testing"
    up = call("GET", f"{path}/preview?status=on", token)
    assert up.json()["total"] == 0  # a move up affects nobody, so it needs no confirm
