"""The SSO rollout page's other forms over the admin API: the test group, the fallback login policy with its
password exceptions, and the test plan ticks. The same forms and actions as the page (same refusal codes, audited
with the key), ETags on the settings resources, and a connection driven from created to enforced over the API with
only people doing what only people can do (signing in at the IdP, making their own recovery codes)."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from audit.models import ActorType, AuditEvent
from keys import actions as key_actions
from orgsecurity.models import Membership, Team
from sso.connections import actions as sso_actions
from sso.models import SSOConnection, SSOPasswordException, SSOTestPlanItem
from sso.recovery import accounts as recovery
from sso.rollout import readiness
from sso.rollout import scheduling as rollout
from sso.saml.config import sp_endpoints
from tests.adminapi.test_sso import BASE, CONNECTIONS, create_from_xml
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key
from tests.helpers.adminapi_org import auditor_token, member_token, outsider_token
from tests.helpers.saml import finish_in, post_to_acs, start
from tests.sso.dns_responder import LocalDNS
from tests.sso.saml.idp import TestIdP, redirect_message
from tests.sso.saml.test_acs import answer

RW = ["security:read", "security:write"]


@pytest.fixture(scope="module")
def idp() -> TestIdP:
    return TestIdP()


@pytest.fixture
def terraform(org, owner):
    """A service account's key with security:read and security:write, the API switch on."""
    allow_api_changes(org, owner)
    account = key_actions.create_service_account(org, actor=owner, name="terraform")
    return scoped_key(org, owner, RW, service_account=account)


@pytest.fixture
def owners_key(org, owner):
    """The owner's personal key (the owner is the connection's admin owner)."""
    allow_api_changes(org, owner)
    return scoped_key(org, owner, RW)


@pytest.fixture
def connection(org, owner):
    """A SAML connection in testing, admin owner: the owner."""
    created = sso_actions.create_connection(org, actor=owner, protocol="saml", name="Acme IdP", admin_owner=owner)
    return sso_actions.set_status(created, actor=owner, status="testing")


def membership(org, user) -> Membership:
    return Membership.objects.get(organization=org, user=user)


def paths(connection_id: int) -> dict[str, str]:
    base = f"{CONNECTIONS}/{connection_id}"
    return {
        "group": f"{base}/test-group",
        "fallback": f"{base}/fallback-policy",
        "confirm": f"{base}/fallback-policy/confirm",
        "exceptions": f"{base}/password-exceptions",
        "plan": f"{base}/test-plan",
        "tick": f"{base}/test-plan/logout/tick",
    }


def last_event(org, action: str) -> AuditEvent:
    return AuditEvent.objects.filter(organization=org, action=action).latest("seq")


# --- the access matrix ----------------------------------------------------------------------------------------------


def test_owner_and_admin_keys_read_and_write_every_rollout_form(org, owner, admin, member, connection):
    allow_api_changes(org, owner)
    urls = paths(connection.pk)
    for user in (owner, admin):
        _, token = scoped_key(org, user, RW)
        for name in ("group", "fallback", "exceptions", "plan"):
            assert call("GET", urls[name], token).status_code == 200, (user.email, name)
        group = call("GET", urls["group"], token)
        put = call(
            "PUT", urls["group"], token, {"member_ids": [membership(org, member).pk]}, **{"If-Match": group["ETag"]}
        )
        assert put.status_code == 200, put.content
        assert put.json()["members"][0]["email"] == member.email
        confirmed = call("POST", urls["confirm"], token, **{"If-Match": call("GET", urls["fallback"], token)["ETag"]})
        assert confirmed.status_code == 200 and confirmed.json()["confirmed"] is True
        added = call("POST", urls["exceptions"], token, {"membership_id": membership(org, member).pk, "reason": "x"})
        assert added.status_code == 201, added.content
        assert (
            call(
                "DELETE", f"{urls['exceptions']}/{added.json()['id']}", token, **{"If-Match": added["ETag"]}
            ).status_code
            == 204
        )


def test_member_and_auditor_keys_are_refused_by_role(org, owner, member, connection):
    urls = paths(connection.pk)
    members = member_token(org, member, ["security:read"])
    auditors = auditor_token(org, RW)
    for name in ("group", "fallback", "exceptions", "plan"):
        response = call("GET", urls[name], members)
        assert response.status_code == 403 and error_code(response) == "role_not_allowed", name
        response = call("GET", urls[name], auditors)
        assert response.status_code == 403 and error_code(response) == "owner_role_not_allowed", name
    allow_api_changes(org, owner)
    response = call("POST", urls["confirm"], auditors, **{"If-Match": "*"})
    assert response.status_code == 403 and error_code(response) == "owner_role_not_allowed"
    assert SSOConnection.objects.get(pk=connection.pk).fallback_confirmed_at is None


def test_another_organizations_connection_is_a_404_like_a_missing_one(org, owner, other_org, outsider, connection):
    allow_api_changes(org, owner)
    _, token = scoped_key(org, owner, RW)
    theirs = sso_actions.create_connection(other_org, actor=outsider, protocol="saml", name="Globex")
    for name, url in paths(theirs.pk).items():
        method = "GET" if name in ("group", "fallback", "exceptions", "plan") else "POST"
        body = {"note": "seen"} if name == "tick" else None
        response = call(method, url, token, body, **{"If-Match": "*"})
        assert response.status_code == 404 and error_code(response) == "not_found", name
    # And their key does not reach ours.
    allow_api_changes(other_org, outsider)
    theirs_key = outsider_token(other_org, outsider, RW)
    response = call("GET", paths(connection.pk)["group"], theirs_key)
    assert response.status_code == 404 and error_code(response) == "not_found"
    mine = rollout.add_password_exception(connection, actor=owner, membership=membership(org, owner), reason="r")
    response = call("DELETE", f"{paths(theirs.pk)['exceptions']}/{mine.pk}", token, **{"If-Match": "*"})
    assert response.status_code == 404 and SSOPasswordException.objects.filter(pk=mine.pk).exists()


def test_writes_need_the_scope_and_the_organizations_api_switch(org, owner, member, connection):
    urls = paths(connection.pk)
    _, read_only = scoped_key(org, owner, ["security:read"])
    assert call("GET", urls["fallback"], read_only).status_code == 200
    body = {"membership_id": membership(org, member).pk, "reason": "contractor"}
    response = call("POST", urls["exceptions"], read_only, body)
    assert response.status_code == 403 and error_code(response) == "scope_missing"
    _, writer = scoped_key(org, owner, RW)
    for method, url, sent in (
        ("POST", urls["exceptions"], body),
        ("PUT", urls["group"], {"member_ids": []}),
        ("POST", urls["confirm"], None),
        ("POST", urls["tick"], {"note": "seen"}),
    ):
        response = call(method, url, writer, sent, **{"If-Match": "*"})
        assert response.status_code == 403 and error_code(response) == "api_security_changes_off", url
    assert not SSOPasswordException.objects.exists() and not SSOTestPlanItem.objects.exists()
    allow_api_changes(org, owner)
    assert call("POST", urls["exceptions"], writer, body).status_code == 201


# --- the test group -------------------------------------------------------------------------------------------------


def test_the_test_group_is_replaced_with_if_match_through_the_pages_form(
    org, owner, admin, member, terraform, connection
):
    key, token = terraform
    url = paths(connection.pk)["group"]
    team = Team.objects.create(organization=org, slug="pilot", name="Pilot")
    team.members.add(membership(org, admin))
    read = call("GET", url, token)
    assert read.json() == {"members": [], "teams": [], "in_group": [], "etag": read["ETag"]}
    missing = call("PUT", url, token, {"member_ids": [membership(org, member).pk]})
    assert missing.status_code == 428 and error_code(missing) == "precondition_required"
    body = {"member_ids": [membership(org, member).pk], "team_ids": [team.pk]}
    done = call("PUT", url, token, body, **{"If-Match": read["ETag"]})
    assert done.status_code == 200, done.content
    assert [m["email"] for m in done.json()["members"]] == [member.email]
    assert done.json()["teams"] == [{"id": team.pk, "name": "Pilot"}]
    assert {m["email"] for m in done.json()["in_group"]} == {member.email, admin.email}
    assert readiness.in_test_group(connection, member) and readiness.in_test_group(connection, admin)
    event = last_event(org, "sso.test_group_changed")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label
    assert event.changes["members"] == [[], [member.email]]
    # Someone changes it on the rollout page (the same action) meanwhile: the old ETag no longer matches.
    rollout.set_test_group(connection, actor=owner, memberships=[], teams=[])
    stale = call("PUT", url, token, {"member_ids": []}, **{"If-Match": done["ETag"]})
    assert stale.status_code == 412 and error_code(stale) == "precondition_failed"


def test_a_test_group_of_another_organizations_people_is_refused(org, other_org, outsider, terraform, connection):
    _, token = terraform
    url = paths(connection.pk)["group"]
    theirs = Membership.objects.get(organization=other_org, user=outsider)
    their_team = Team.objects.create(organization=other_org, slug="x", name="X")
    for body, field in (({"member_ids": [theirs.pk]}, "member_ids"), ({"team_ids": [their_team.pk]}, "team_ids")):
        response = call("PUT", url, token, body, **{"If-Match": "*"})
        assert response.status_code == 400 and error_code(response) == "invalid_request"
        assert field in response.json()["error"]["fields"]
    assert not connection.test_members.exists() and not connection.test_teams.exists()
    assert not AuditEvent.objects.filter(action="sso.test_group_changed").exists()


# --- the fallback policy and password exceptions --------------------------------------------------------------------


def test_exceptions_make_the_confirmation_lapse_and_confirming_needs_the_policy_read(
    org, owner, member, terraform, connection, client_for
):
    key, token = terraform
    urls = paths(connection.pk)
    policy = call("GET", urls["fallback"], token)
    assert policy.json()["confirmed"] is False and policy.json()["confirmed_at"] is None
    missing = call("POST", urls["confirm"], token)
    assert missing.status_code == 428
    confirmed = call("POST", urls["confirm"], token, **{"If-Match": policy["ETag"]})
    assert confirmed.status_code == 200 and confirmed.json()["confirmed"] is True
    assert confirmed.json()["confirmed_by"] is None  # a service account's key: no person; the audit names the key
    assert readiness.fallback_policy_confirmed(SSOConnection.objects.get(pk=connection.pk))
    event = last_event(org, "sso.fallback_confirmed")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label
    checklist = readiness.checklist(SSOConnection.objects.get(pk=connection.pk), actor=owner)
    fallback = next(item for item in checklist if item.key == "fallback")
    assert f"Confirmed by {event.actor_label} on" in fallback.detail  # the rollout page names the key
    page = html.unescape(
        client_for(owner).get(f"/orgs/acme/settings/security/sso/{connection.pk}/rollout/").content.decode()
    )
    assert f"Confirmed by {event.actor_label} on" in page and "Confirmed by … on" not in page

    body = {"membership_id": membership(org, member).pk, "reason": "outside contractor"}
    added = call("POST", urls["exceptions"], token, body, **{"Idempotency-Key": "exc-1"})
    assert added.status_code == 201, added.content
    assert added.json()["email"] == member.email and added.json()["reason"] == "outside contractor"
    replay = call("POST", urls["exceptions"], token, body, **{"Idempotency-Key": "exc-1"})
    assert replay["Idempotent-Replayed"] == "true" and SSOPasswordException.objects.count() == 1
    duplicate = call("POST", urls["exceptions"], token, body)
    assert duplicate.status_code == 409 and error_code(duplicate) == "duplicate"
    assert last_event(org, "sso.password_exception_added").actor_type == ActorType.API_KEY

    lapsed = call("GET", urls["fallback"], token).json()
    assert lapsed["confirmed"] is False and lapsed["changed_since_confirmed"] is True
    assert [e["email"] for e in lapsed["exceptions"]] == [member.email]
    stale = call("POST", urls["confirm"], token, **{"If-Match": confirmed["ETag"]})  # confirms what it read, only
    assert stale.status_code == 412 and error_code(stale) == "precondition_failed"
    again = call("POST", urls["confirm"], token, **{"If-Match": lapsed["etag"]})
    assert again.status_code == 200 and again.json()["confirmed"] is True

    exception_url = f"{urls['exceptions']}/{added.json()['id']}"
    assert call("DELETE", exception_url, token).status_code == 428
    assert call("DELETE", exception_url, token, **{"If-Match": '"0000"'}).status_code == 412
    assert call("DELETE", exception_url, token, **{"If-Match": added["ETag"]}).status_code == 204
    assert not SSOPasswordException.objects.exists()
    assert last_event(org, "sso.password_exception_removed").actor_type == ActorType.API_KEY
    assert call("DELETE", exception_url, token, **{"If-Match": "*"}).status_code == 404


def test_an_exception_needs_a_member_of_this_organization_and_a_plain_reason(
    org, owner, other_org, outsider, member, owners_key, connection
):
    _, token = owners_key
    url = paths(connection.pk)["exceptions"]
    theirs = Membership.objects.get(organization=other_org, user=outsider)
    for body, field in (
        ({"membership_id": theirs.pk, "reason": "contractor"}, "membership_id"),
        ({"membership_id": membership(org, member).pk, "reason": "   "}, "reason"),
        ({"membership_id": membership(org, member).pk, "reason": "line\u202eone"}, "reason"),
        ({"membership_id": membership(org, member).pk}, "reason"),
    ):
        response = call("POST", url, token, body)
        assert response.status_code == 400 and error_code(response) == "invalid_request", body
        assert field in response.json()["error"]["fields"], response.json()
    assert not SSOPasswordException.objects.exists()
    added = call("POST", url, token, {"membership_id": membership(org, member).pk, "reason": "contractor"})
    assert added.json()["created_by"] == owner.email  # a personal key: its person, as on the page


# --- the test plan --------------------------------------------------------------------------------------------------


def test_only_the_admin_owners_own_key_ticks_the_test_plan(org, owner, admin, terraform, owners_key, connection):
    urls = paths(connection.pk)
    _, service = terraform
    refused = call("POST", urls["tick"], service, {"note": "signed out in Okta"})
    assert refused.status_code == 403 and error_code(refused) == "not_admin_owner"
    assert owner.email in refused.json()["error"]["message"]
    _, admins = scoped_key(org, admin, RW)
    refused = call("POST", urls["tick"], admins, {"note": "signed out in Okta"})
    assert refused.status_code == 403 and error_code(refused) == "not_admin_owner"
    assert not SSOTestPlanItem.objects.exists()

    key, token = owners_key
    empty = call("POST", urls["tick"], token, {"note": "  "})
    assert empty.status_code == 400 and "note" in empty.json()["error"]["fields"]
    unknown = call("POST", urls["tick"].replace("/logout/", "/coffee/"), token, {"note": "x"})
    assert unknown.status_code == 400 and error_code(unknown) == "invalid_request"
    done = call("POST", urls["tick"], token, {"note": "signed out in Okta"})
    assert done.status_code == 200, done.content
    logout = next(step for step in done.json()["steps"] if step["item"] == "logout")
    assert logout["seen"] and logout["via"] == "ticked" and logout["seen_by"] == owner.email
    assert logout["note"] == "signed out in Okta" and done.json()["complete"] is False
    event = last_event(org, "sso.test_plan_recorded")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label
    assert event.details["item"] == "logout"
    plan = call("GET", urls["plan"], service).json()
    assert plan["admin_owner"] == owner.email and [s["item"] for s in plan["steps"]] == [
        "login",
        "logout",
        "session_timeout",
        "failed_login",
    ]


def test_a_service_account_key_never_ticks_for_a_connection_without_an_admin_owner(org, owner, terraform):
    _, token = terraform
    nobody = sso_actions.create_connection(org, actor=owner, protocol="saml", name="Unowned", admin_owner=None)
    response = call("POST", paths(nobody.pk)["tick"], token, {"note": "seen"})
    assert response.status_code == 403 and error_code(response) == "not_admin_owner"


# --- created to enforced over the API -------------------------------------------------------------------------------


@pytest.fixture
def dns_server(settings):
    server = LocalDNS().start()
    settings.SSO_DNS_NAMESERVERS = [("127.0.0.1", server.port)]
    settings.SSO_DNS_TIMEOUT_SECONDS = 1
    yield server
    server.stop()


def test_a_connection_goes_from_created_to_enforced_over_the_api(
    org, owner, member, terraform, owners_key, idp, client_for, dns_server
):
    """The program does every step; people do only what only they can: the admin owner signs in at the IdP for the
    test run and makes their own recovery codes on the dashboard, and a member of the test group signs in through
    the IdP (each with a real signed SAML response)."""
    _, token = terraform
    _, owners = owners_key
    created = create_from_xml(token, idp, admin_owner=owner.email)
    base = f"{CONNECTIONS}/{created['id']}"
    urls = paths(created["id"])

    # The email domain, verified through DNS, so the IdP's answer for the member links their account.
    domain = call("POST", "/api/v1/orgs/acme/domains", token, {"domain": "acme.test"}).json()
    dns_server.records[domain["verification"]["name"]] = [domain["verification"]["value"]]
    assert call("POST", f"/api/v1/orgs/acme/domains/{domain['id']}/check", token).json()["verified"] is True

    assert call("POST", f"{base}/status", token, {"status": "testing"}).json()["status"] == "testing"
    group = call("GET", urls["group"], token)
    put = call("PUT", urls["group"], token, {"member_ids": [membership(org, member).pk]}, **{"If-Match": group["ETag"]})
    assert put.status_code == 200

    # A test run: the admin owner opens its URL and signs in at the IdP (login seen, by the test run).
    run = call("POST", f"{base}/tests", token, {}).json()
    browser = client_for(owner)
    open_path = run["open_url"].removeprefix(BASE)
    request_id = redirect_message(browser.post(open_path)["Location"])[1]["RelayState"][0]
    signed = answer(idp, sp_endpoints("acme"), request_id, name_id="olivia-1", attributes={"mail": [owner.email]})
    finish_in(browser, post_to_acs(signed))
    assert call("GET", f"{base}/tests/{run['id']}", token).json()["state"] == "passed"

    # A member of the test group signs in through the IdP.
    member_browser = client_for(member)
    member_request = start(member_browser)
    signed = answer(idp, sp_endpoints("acme"), member_request, name_id="mia-1", attributes={"mail": [member.email]})
    finish_in(member_browser, post_to_acs(signed))
    assert readiness.member_signed_in(SSOConnection.objects.get(pk=created["id"]))

    # The admin owner's key ticks the rest of the test plan.
    for item in ("logout", "session_timeout", "failed_login"):
        ticked = call("POST", f"{urls['plan']}/{item}/tick", owners, {"note": f"{item} checked in the IdP"})
        assert ticked.status_code == 200, ticked.content
    assert call("GET", urls["plan"], token).json()["complete"] is True

    # The owner is made a recovery account (owners' keys only); they make their codes themselves.
    owner_id = membership(org, owner).pk
    assert call("POST", "/api/v1/orgs/acme/recovery-accounts", owners, {"membership_id": owner_id}).status_code == 201
    assert client_for(owner).post(reverse("sso:recovery_codes", args=["acme"])).status_code == 302
    assert recovery.RecoveryAccount.objects.get(membership_id=owner_id).codes.exists()

    # Not ready before the fallback policy is confirmed; then ready, and enforced.
    problems = call("GET", f"{base}/enforcement/preview", token).json()["problems"]
    assert [problem["code"] for problem in problems] == ["fallback_not_confirmed"]
    body = {"confirm": "acme", "support_contact": "it@acme.test"}
    refused = call("POST", f"{base}/enforcement", token, body)
    assert refused.status_code == 409 and error_code(refused) == "not_ready"
    policy = call("GET", urls["fallback"], token)
    assert policy.json()["recovery_accounts"] == [owner.email]
    assert call("POST", urls["confirm"], token, **{"If-Match": policy["ETag"]}).json()["confirmed"] is True
    preview = call("GET", f"{base}/enforcement/preview", token).json()
    assert preview["problems"] == [] and preview["acknowledge_required"] == []
    enforced = call("POST", f"{base}/enforcement", token, body)
    assert enforced.status_code == 200, enforced.content
    assert enforced.json()["connection"]["status"] == "enforced"
    assert SSOConnection.objects.get(pk=created["id"]).status == "enforced"
