"""Enforcement: every page under /orgs/<slug>/ refused from outside an enabled list, with the IP the server saw
and whom to contact; IPv4, IPv6 and mapped clients; forwarded headers only through our own proxies; refusals
audited without flooding; the recovery-session exception; the key-authenticated API check."""

from __future__ import annotations

import ipaddress
import json
import time
from types import SimpleNamespace

import pytest
from django.core import mail
from django.test import Client, RequestFactory, override_settings

from allowlist import checks
from allowlist.checks import check_api_ip, check_dashboard_ip
from allowlist.models import IPAllowlistEntry
from audit.models import AuditEvent
from orgsecurity.accessors import load_org_context
from orgsecurity.errors import render_refusal
from orgsecurity.models import Organization
from orgsecurity.roles import Role
from orgsecurity.signin_state import RECOVERY_SESSION_KEY
from sso.recovery import accounts as recovery
from tests.helpers.allowlist import HOME_IP, OFFICE, OFFICE_IP, enable
from tests.helpers.core import PASSWORD, add_member, make_org, make_user

PAGE = "/orgs/acme/settings/security/allowlist/"


def refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="allowlist.access_refused").order_by("seq"))


def test_pages_are_refused_from_outside_and_show_the_ip_and_the_owners(client_at, org, owner, member):
    enable(org, owner, OFFICE)
    for path in ("/orgs/acme/", "/orgs/acme/members/", "/orgs/acme/audit/", PAGE):
        response = client_at(member, ip=HOME_IP).get(path)
        assert response.status_code == 403, path
        page = response.content.decode()
        assert f'<code id="seen-ip">{HOME_IP}</code>' in page
        assert 'href="mailto:owner@acme.test"' in page
        assert "Acme Inc. only allows its pages to be opened from listed network locations." in page
    assert client_at(member, ip=OFFICE_IP).get("/orgs/acme/").status_code == 200
    assert client_at(owner, ip=OFFICE_IP).get(PAGE).status_code == 200


def test_a_refused_post_is_not_processed(client_at, org, owner):
    enable(org, owner, OFFICE)
    response = client_at(owner, ip=HOME_IP).post(PAGE + "entries/add/", {"cidr": "0.0.0.0/0"})
    assert response.status_code == 403
    assert list(IPAllowlistEntry.objects.values_list("cidr", flat=True)) == [OFFICE]


def test_json_clients_get_a_json_refusal(client_at, org, owner, member):
    enable(org, owner, OFFICE)
    response = client_at(member, ip=HOME_IP).get("/orgs/acme/", HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "ip_not_allowed"
    assert HOME_IP in error["message"]
    assert "owner@acme.test" in error["message"]


def test_outsiders_still_get_404_and_other_orgs_are_unaffected(client_at, org, owner, outsider):
    enable(org, owner, OFFICE)
    assert client_at(outsider, ip=HOME_IP).get("/orgs/acme/").status_code == 404
    assert client_at(outsider, ip=HOME_IP).get("/orgs/globex/").status_code == 200
    assert client_at(None, ip=HOME_IP).get("/orgs/acme/").status_code == 302


def test_sign_in_pages_are_not_covered(client_at, org, owner):
    enable(org, owner, OFFICE)
    visitor = client_at(None, ip=HOME_IP)
    assert visitor.get("/accounts/login/").status_code == 200
    response = visitor.post("/accounts/login/", {"username": owner.email, "password": PASSWORD})
    assert response.status_code == 302
    assert visitor.get("/orgs/acme/").status_code == 403


def test_a_disabled_list_or_an_api_only_list_does_not_guard_pages(client_at, org, owner, member):
    from allowlist import actions

    enable(org, owner, OFFICE, scope="api")
    assert client_at(member, ip=HOME_IP).get("/orgs/acme/").status_code == 200
    actions.update_settings(org, actor=owner, actor_ip=OFFICE_IP, enabled=True, scope="both")
    assert client_at(member, ip=HOME_IP).get("/orgs/acme/").status_code == 403
    actions.update_settings(org, actor=owner, actor_ip=OFFICE_IP, enabled=False, scope="both")
    assert client_at(member, ip=HOME_IP).get("/orgs/acme/").status_code == 200


def test_ipv6_entries_and_clients(client_at, org, owner, member):
    enable(org, owner, "2001:db8:1200::/40", OFFICE)
    assert client_at(member, ip="2001:db8:12ab::1").get("/orgs/acme/").status_code == 200
    response = client_at(member, ip="2001:db8:1300::1").get("/orgs/acme/")
    assert response.status_code == 403
    assert "2001:db8:1300::1" in response.content.decode()


def test_ipv4_mapped_clients_are_matched_as_ipv4(client_at, org, owner, member):
    enable(org, owner, OFFICE)
    assert client_at(member, ip="::ffff:198.51.100.7").get("/orgs/acme/").status_code == 200
    response = client_at(member, ip="::ffff:203.0.113.9").get("/orgs/acme/")
    assert response.status_code == 403
    assert f'<code id="seen-ip">{HOME_IP}</code>' in response.content.decode()


def test_nat64_clients_are_one_address_for_enforcement_the_check_tool_and_the_audit(client_at, org, owner, member):
    # 64:ff9b::c000:280 is 192.0.2.128 behind a NAT64 (RFC 6052): the check tool used to call it refused while
    # enforcement let it in.
    enable(org, owner, "192.0.2.0/24")
    assert client_at(member, ip="64:ff9b::c000:280").get("/orgs/acme/").status_code == 200
    page = client_at(owner, ip="192.0.2.1").get(PAGE + "check/", {"ip": "64:ff9b::c000:280"}).content.decode()
    assert "<strong>192.0.2.128 would be allowed</strong> by 192.0.2.0/24" in page
    response = client_at(member, ip="64:ff9b::cb00:7109").get("/orgs/acme/")
    assert response.status_code == 403
    assert '<code id="seen-ip">203.0.113.9</code>' in response.content.decode()
    assert refusals()[-1].ip == "203.0.113.9" and refusals()[-1].details["ip"] == "203.0.113.9"
    page = client_at(owner, ip="192.0.2.1").get(PAGE + "check/", {"ip": "64:ff9b::cb00:7109"}).content.decode()
    assert "<strong>203.0.113.9 would be refused</strong>" in page


# --- client IP behind proxies ------------------------------------------------------------------------


def test_forwarded_headers_are_ignored_without_trusted_proxies(client_at, org, owner, member):
    enable(org, owner, OFFICE)
    spoofing = client_at(member, ip=HOME_IP)
    response = spoofing.get("/orgs/acme/", HTTP_X_FORWARDED_FOR=OFFICE_IP, HTTP_X_REAL_IP=OFFICE_IP)
    assert response.status_code == 403
    assert f'<code id="seen-ip">{HOME_IP}</code>' in response.content.decode()
    # ...and cannot push someone inside the list out either.
    assert client_at(member, ip=OFFICE_IP).get("/orgs/acme/", HTTP_X_FORWARDED_FOR=HOME_IP).status_code == 200


@override_settings(TRUSTED_PROXIES=[ipaddress.ip_network("10.0.0.0/8")])
def test_forwarded_headers_are_read_right_to_left_through_trusted_proxies(client_at, org, owner, member):
    enable(org, owner, OFFICE)
    behind_proxy = client_at(member, ip="10.0.0.2")
    # The client's own hop, then our second proxy: the first address that is not ours is the client.
    assert behind_proxy.get("/orgs/acme/", HTTP_X_FORWARDED_FOR=f"{OFFICE_IP}, 10.0.0.5").status_code == 200
    # A client outside that writes an allowed address in front of its own is still the rightmost hop.
    response = behind_proxy.get("/orgs/acme/", HTTP_X_FORWARDED_FOR=f"{OFFICE_IP}, {HOME_IP}")
    assert response.status_code == 403
    assert f'<code id="seen-ip">{HOME_IP}</code>' in response.content.decode()
    # A peer that is not our proxy is the client, whatever it forwards.
    assert client_at(member, ip=HOME_IP).get("/orgs/acme/", HTTP_X_FORWARDED_FOR=OFFICE_IP).status_code == 403


@override_settings(TRUSTED_PROXIES=[ipaddress.ip_network("10.0.0.0/8")])
def test_a_malformed_hop_cannot_make_a_client_look_like_our_proxy(client_at, org, owner, member):
    # The office network holds our own proxy: a client outside must not borrow the proxy's address by writing
    # a malformed hop in front of the one our proxy appends.
    enable(org, owner, "10.0.0.0/8")
    behind_proxy = client_at(member, ip="10.0.0.2")
    for spoof in ("garbage", "for=unknown", "<x>", ""):
        response = behind_proxy.get("/orgs/acme/", HTTP_X_FORWARDED_FOR=f"{spoof}, {HOME_IP}")
        assert response.status_code == 403, spoof
        assert f'<code id="seen-ip">{HOME_IP}</code>' in response.content.decode()


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_a_proxy_count_takes_the_hop_that_far_from_the_right(client_at, org, owner, member):
    enable(org, owner, OFFICE)
    load_balancer = client_at(member, ip="10.9.9.9")
    assert load_balancer.get("/orgs/acme/", HTTP_X_FORWARDED_FOR=f"{HOME_IP}, {OFFICE_IP}").status_code == 200
    assert load_balancer.get("/orgs/acme/", HTTP_X_FORWARDED_FOR=f"{OFFICE_IP}, {HOME_IP}").status_code == 403


# --- audit without flooding --------------------------------------------------------------------------


def test_refusals_are_audited_without_flooding_the_log(client_at, org, owner, member):
    enable(org, owner, OFFICE)
    attacker = client_at(member, ip=HOME_IP)
    for _ in range(25):
        assert attacker.get("/orgs/acme/members/").status_code == 403
    [event] = refusals()
    assert (event.actor_label, event.ip) == ("member@acme.test", HOME_IP)
    assert event.details == {"ip": HOME_IP, "path": "/orgs/acme/members/", "method": "GET"}
    assert event.sentence == (
        f"member@acme.test was refused /orgs/acme/members/ from {HOME_IP}, which is not on the IP allowlist"
    )
    # Another address is its own event.
    client_at(member, ip="192.0.2.50").get("/orgs/acme/")
    assert len(refusals()) == 2


def test_the_next_refusal_event_counts_those_left_out(client_at, org, owner, member, monkeypatch):
    enable(org, owner, OFFICE)
    monkeypatch.setattr(checks, "REFUSAL_AUDIT_WINDOW_SECONDS", 2)
    attacker = client_at(member, ip=HOME_IP)
    started = time.monotonic()
    attacker.get("/orgs/acme/")
    left_out = 0
    while time.monotonic() - started < 1.0:  # well inside the two-second window
        attacker.get("/orgs/acme/")
        left_out += 1
    assert len(refusals()) == 1
    time.sleep(max(0.0, 2.2 - (time.monotonic() - started)))
    attacker.get("/orgs/acme/")
    assert len(refusals()) == 2
    assert refusals()[-1].details["suppressed_since_last"] == left_out


# --- recovery sessions -------------------------------------------------------------------------------


def recovery_client(client_at, user, ip=HOME_IP, organization_slug="acme"):
    """A session as /accounts/recovery/ leaves it: method "recovery", and the organization whose code was used."""
    client = client_at(user, ip=ip)
    session = client.session
    session["auth_method"] = "recovery"
    session[RECOVERY_SESSION_KEY] = Organization.objects.get(slug=organization_slug).pk
    session.save()
    return client


def test_a_recovery_session_outside_the_list_may_open_only_the_allowlist_page(
    client_at, org, owner, admin, django_capture_on_commit_callbacks
):
    second_owner = make_user("second.owner@acme.test")
    add_member(org, second_owner, Role.OWNER)
    enable(org, owner, OFFICE)
    client = recovery_client(client_at, admin)
    assert client.get("/orgs/acme/").status_code == 403
    assert client.get("/orgs/acme/members/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(PAGE)
    assert response.status_code == 200
    assert f"You signed in with a recovery account from <strong>{HOME_IP}</strong>" in response.content.decode()
    event = AuditEvent.objects.get(action="allowlist.recovery_access")
    assert (event.actor_label, event.details["ip"]) == ("admin@acme.test", HOME_IP)
    [notice] = mail.outbox
    assert sorted(notice.to) == ["owner@acme.test", "second.owner@acme.test"]
    assert "admin@acme.test signed in to Acme Inc. with a recovery account from 203.0.113.9" in notice.body
    assert "https://testserver/orgs/acme/settings/security/allowlist/" in notice.body
    # Reloading does not email the owners again.
    with django_capture_on_commit_callbacks(execute=True):
        client.get(PAGE)
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="allowlist.recovery_access").count() == 1
    # Fixing the list works from there, and then the rest of the organization opens.
    assert client.post(PAGE + "entries/add/", {"cidr": HOME_IP, "label": "admin at home"}).status_code == 302
    assert client.get("/orgs/acme/").status_code == 200


def test_the_recovery_exception_is_only_for_recovery_sessions_of_security_admins(client_at, org, owner, member):
    enable(org, owner, OFFICE)
    assert client_at(owner, ip=HOME_IP).get(PAGE).status_code == 403  # a password session
    assert recovery_client(client_at, member).get(PAGE).status_code == 403
    assert not AuditEvent.objects.filter(action="allowlist.recovery_access").exists()


def test_another_organizations_recovery_code_does_not_open_this_allowlist(client_at, org, owner, admin):
    # admin manages acme's security and is a recovery account of initech only: a recovery sign-in with an initech
    # code is initech's break-glass, not a way around acme's list.
    initech = make_org("initech", admin)
    account = recovery.designate(initech, actor=admin, membership=admin.memberships.get(organization=initech))
    code = recovery.generate_codes(account, actor=admin)[0]
    enable(org, owner, OFFICE)
    client = Client(REMOTE_ADDR=HOME_IP)
    signed_in = client.post(
        "/accounts/recovery/", {"username": admin.email, "password": PASSWORD, "recovery_code": code}
    )
    assert signed_in.status_code == 302
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE + "entries/add/", {"cidr": HOME_IP, "label": "admin at home"}).status_code == 403
    assert not IPAllowlistEntry.objects.filter(cidr=f"{HOME_IP}/32").exists()
    assert not AuditEvent.objects.filter(action="allowlist.recovery_access").exists()
    # The same person's own acme recovery session still may fix acme's list.
    assert recovery_client(client_at, admin).get(PAGE).status_code == 200


# --- the API check -----------------------------------------------------------------------------------


def api_request(ip: str):
    return RequestFactory().get("/api/v1/whoami", REMOTE_ADDR=ip, HTTP_AUTHORIZATION="Bearer x")


def test_the_api_check_is_configured(settings):
    assert "allowlist.checks.check_api_ip" in settings.API_PIPELINE_CHECKS
    position = settings.ORG_PIPELINE_CHECKS.index("allowlist.checks.check_dashboard_ip")
    assert settings.ORG_PIPELINE_CHECKS[position - 1] == "orgsecurity.pipeline.check_membership"


def test_api_requests_from_outside_are_refused_when_the_scope_covers_keys(org, owner):
    def fresh_key():  # as the API key lookup loads it on every request
        return SimpleNamespace(organization=Organization.objects.get(pk=org.pk), pk=7, prefix="ak_live_1234")

    key = fresh_key()
    assert check_api_ip(api_request(HOME_IP), key) is None  # no allowlist yet
    enable(org, owner, OFFICE, "2001:db8::/32", scope="dashboard")
    assert check_api_ip(api_request(HOME_IP), fresh_key()) is None  # the list does not cover keys
    enable(org, owner, scope="both")
    key = fresh_key()
    assert check_api_ip(api_request(OFFICE_IP), key) is None
    assert check_api_ip(api_request("2001:db8::9"), key) is None
    assert check_api_ip(api_request("::ffff:198.51.100.9"), key) is None
    refusal = check_api_ip(api_request(HOME_IP), key)
    assert (refusal.code, refusal.status) == ("ip_not_allowed", 403)
    response = render_refusal(api_request(HOME_IP), refusal)
    assert response.status_code == 403
    assert f"Requests from {HOME_IP} are not allowed" in json.loads(response.content)["error"]["message"]
    for _ in range(10):
        check_api_ip(api_request(HOME_IP), key)
    [event] = AuditEvent.objects.filter(action="allowlist.api_access_refused")
    assert (event.actor_type, event.actor_id, event.actor_label) == ("api_key", "7", "API key ak_live_1234")
    assert event.details["ip"] == HOME_IP


def test_api_only_scope_leaves_pages_open(client_at, org, owner, member):
    enable(org, owner, OFFICE, scope="api")
    assert client_at(member, ip=HOME_IP).get("/orgs/acme/").status_code == 200
    key = SimpleNamespace(organization=Organization.objects.get(pk=org.pk))  # loaded per request, as the API does
    assert check_api_ip(api_request(HOME_IP), key) is not None


# --- cost per request --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 3000])
def test_the_check_costs_no_query_of_its_own(org, owner, django_assert_num_queries, size):
    """The allowlist row comes with the membership query (settings.ORG_CONTEXT_RELATED)."""
    from allowlist import actions

    actions.add_entries(org, "\n".join(f"10.{n // 256}.{n % 256}.0/24" for n in range(size)), actor=owner)
    enable(org, owner, OFFICE)
    request = RequestFactory().get("/orgs/acme/", REMOTE_ADDR=OFFICE_IP)
    request.user = owner
    load_org_context(request, "acme")  # the membership check before this one loads it
    check_dashboard_ip(request, "acme")  # the first request after a change also compiles the entries
    for ip in (OFFICE_IP, "10.0.0.5", "::ffff:10.0.0.6"):
        request = RequestFactory().get("/orgs/acme/", REMOTE_ADDR=ip)
        request.user = owner
        load_org_context(request, "acme")
        with django_assert_num_queries(0):
            assert check_dashboard_ip(request, "acme") is None
