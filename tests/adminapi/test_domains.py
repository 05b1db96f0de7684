"""Verified domains over the admin API: claim with the TXT record to add, check against DNS (a local responder),
the removal preview and a removal confirmed with the organization's slug and If-Match, with the page's refusals."""

from __future__ import annotations

import pytest

from audit.models import ActorType, AuditEvent
from keys import actions
from sso.domains import verification
from sso.models import VerifiedDomain
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key
from tests.helpers.adminapi_org import auditor_token, member_token, outsider_token
from tests.helpers.core import add_member, make_user
from tests.sso.dns_responder import LocalDNS

DOMAINS = "/api/v1/orgs/acme/domains"
RW = ["security:read", "security:write"]


@pytest.fixture
def dns_server(settings):
    server = LocalDNS().start()
    settings.SSO_DNS_NAMESERVERS = [("127.0.0.1", server.port)]
    settings.SSO_DNS_TIMEOUT_SECONDS = 1
    yield server
    server.stop()


@pytest.fixture
def terraform(org, owner):
    allow_api_changes(org, owner)
    account = actions.create_service_account(org, actor=owner, name="terraform")
    return scoped_key(org, owner, RW, service_account=account)


def test_claim_answers_the_txt_record_and_a_retry_does_not_claim_twice(org, terraform):
    key, token = terraform
    first = call("POST", DOMAINS, token, {"domain": " Acme.TEST. "}, **{"Idempotency-Key": "claim-1"})
    assert first.status_code == 201, first.content
    body = first.json()
    claimed = VerifiedDomain.objects.get(organization=org)
    assert body["domain"] == "acme.test" and body["verified"] is False
    assert body["verification"] == {
        "type": "TXT",
        "name": "_orgsecurity-challenge.acme.test",
        "value": f"orgsecurity-verification={claimed.challenge}",
    }
    assert first["Location"] == f"{DOMAINS}/{claimed.pk}" and first["ETag"] == body["etag"]
    replay = call("POST", DOMAINS, token, {"domain": " Acme.TEST. "}, **{"Idempotency-Key": "claim-1"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true" and replay.json()["id"] == claimed.pk
    assert VerifiedDomain.objects.filter(organization=org).count() == 1
    again = call("POST", DOMAINS, token, {"domain": "acme.test"})
    assert again.status_code == 409 and error_code(again) == "duplicate"
    event = AuditEvent.objects.get(organization=org, action="sso.domain_claimed")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label
    listing = call("GET", DOMAINS, token)
    assert listing.status_code == 200 and [d["domain"] for d in listing.json()["domains"]] == ["acme.test"]


@pytest.mark.parametrize("bad", ["localhost", "192.0.2.1", "me@acme.test", "https://acme.test/"])
def test_bad_domains_are_refused_as_on_the_page(org, terraform, bad):
    response = call("POST", DOMAINS, terraform[1], {"domain": bad})
    assert response.status_code == 400 and error_code(response) == "bad_domain"
    assert not VerifiedDomain.objects.exists()


def test_a_domain_verified_elsewhere_is_refused(org, owner, other_org, outsider, terraform):
    theirs = verification.claim(other_org, actor=outsider, domain="shared.test")
    VerifiedDomain.objects.filter(pk=theirs.pk).update(verified_at="2026-01-01T00:00:00Z")
    response = call("POST", DOMAINS, terraform[1], {"domain": "shared.test"})
    assert response.status_code == 409 and error_code(response) == "verified_elsewhere"


def test_check_verifies_through_dns_and_says_what_it_found(org, owner, terraform, dns_server):
    _, token = terraform
    claimed = verification.claim(org, actor=owner, domain="acme.test")
    check = f"{DOMAINS}/{claimed.pk}/check"
    missing = call("POST", check, token)
    assert missing.status_code == 400 and error_code(missing) == "nxdomain"
    dns_server.records["_orgsecurity-challenge.acme.test"] = ["v=spf1 -all"]
    wrong = call("POST", check, token)
    assert wrong.status_code == 400 and error_code(wrong) == "txt_mismatch"
    assert "v=spf1 -all" in wrong.json()["error"]["message"]
    dns_server.records["_orgsecurity-challenge.acme.test"] = [verification.txt_record_value(claimed)]
    done = call("POST", check, token)
    assert done.status_code == 200 and done.json()["verified"] is True and done.json()["verified_via"] == "dns"
    assert VerifiedDomain.objects.get(pk=claimed.pk).is_verified
    event = AuditEvent.objects.get(organization=org, action="sso.domain_verified")
    assert event.actor_type == ActorType.API_KEY
    queries = len(dns_server.queries)
    assert call("POST", check, token).status_code == 200  # verified already: answered as it is, no lookup
    assert len(dns_server.queries) == queries


def test_removal_needs_the_preview_the_slug_and_if_match(org, owner, member, terraform):
    _, token = terraform
    claimed = verification.claim(org, actor=owner, domain="acme.test")
    VerifiedDomain.objects.filter(pk=claimed.pk).update(verified_at="2026-01-01T00:00:00Z", verified_via="support")
    preview = call("GET", f"{DOMAINS}/{claimed.pk}/removal/preview", token)
    assert preview.status_code == 200, preview.content
    people = {item["name"] for item in preview.json()["groups"][0]["items"]}
    assert {"owner@acme.test", "member@acme.test"} <= people
    assert preview.json()["change"] == "sso.domain_remove"
    path = f"{DOMAINS}/{claimed.pk}"
    assert call("DELETE", f"{path}?confirm=acme", token).status_code == 428
    stale = call("DELETE", f"{path}?confirm=acme", token, **{"If-Match": '"0000000000000000"'})
    assert stale.status_code == 412 and error_code(stale) == "precondition_failed"
    etag = preview["ETag"]
    for confirm in ("?confirm=globex", "?confirm=ACME"):
        unconfirmed = call("DELETE", f"{path}{confirm}", token, **{"If-Match": etag})
        assert unconfirmed.status_code == 400 and error_code(unconfirmed) == "confirmation_required"
    assert call("DELETE", path, token, **{"If-Match": etag}).status_code == 400  # confirm is required
    assert VerifiedDomain.objects.filter(pk=claimed.pk).exists()
    done = call("DELETE", f"{path}?confirm=acme", token, **{"If-Match": etag})
    assert done.status_code == 204
    assert not VerifiedDomain.objects.filter(pk=claimed.pk).exists()
    assert AuditEvent.objects.get(organization=org, action="sso.domain_removed").actor_type == ActorType.API_KEY


def test_the_etag_changes_when_the_domain_is_verified(org, owner, terraform):
    _, token = terraform
    claimed = verification.claim(org, actor=owner, domain="acme.test")
    before = call("GET", f"{DOMAINS}/{claimed.pk}", token)["ETag"]
    VerifiedDomain.objects.filter(pk=claimed.pk).update(verified_at="2026-01-01T00:00:00Z", verified_via="support")
    response = call("DELETE", f"{DOMAINS}/{claimed.pk}?confirm=acme", token, **{"If-Match": before})
    assert response.status_code == 412
    assert VerifiedDomain.objects.filter(pk=claimed.pk).exists()


def test_access_matrix(org, owner, admin, member, other_org, outsider):
    claimed = verification.claim(org, actor=owner, domain="acme.test")
    theirs = verification.claim(other_org, actor=outsider, domain="globex.test")
    one = f"{DOMAINS}/{claimed.pk}"
    _, owners = scoped_key(org, owner, RW)
    _, admins = scoped_key(org, admin, RW)
    for token in (owners, admins):
        assert call("GET", DOMAINS, token).status_code == 200
        assert call("GET", one, token).status_code == 200
    # The API switch is off: reads work, every write is refused.
    for method, path, body in (("POST", DOMAINS, {"domain": "x.test"}), ("POST", f"{one}/check", None)):
        refused = call(method, path, admins, body)
        assert refused.status_code == 403 and error_code(refused) == "api_security_changes_off"
    refused = call("DELETE", f"{one}?confirm=acme", owners, **{"If-Match": "*"})
    assert error_code(refused) == "api_security_changes_off"
    allow_api_changes(org, owner)
    assert call("POST", DOMAINS, admins, {"domain": "admins.test"}).status_code == 201
    # A member and an auditor are refused by role; a key without the scope by scope.
    for token in (member_token(org, member, ["security:read"]), auditor_token(org, ["security:read"])):
        response = call("GET", DOMAINS, token)
        assert response.status_code == 403 and error_code(response) in {"role_not_allowed", "owner_role_not_allowed"}
    _, readonly = scoped_key(org, owner, ["security:read"])
    response = call("POST", DOMAINS, readonly, {"domain": "y.test"})
    assert response.status_code == 403 and error_code(response) == "scope_missing"
    # Another organization: its path and its objects are 404s like missing ones.
    theirs_token = outsider_token(other_org, outsider, RW)
    assert error_code(call("GET", DOMAINS, theirs_token)) == "not_found"
    for path in (f"{DOMAINS}/{theirs.pk}", f"{DOMAINS}/999999", f"{DOMAINS}/{theirs.pk}/removal/preview"):
        response = call("GET", path, owners)
        assert response.status_code == 404 and error_code(response) == "not_found", path
    missing = call("GET", f"{DOMAINS}/999999", owners).json()["error"]["message"].replace("999999", "N")
    other = call("GET", f"{DOMAINS}/{theirs.pk}", owners).json()["error"]["message"].replace(str(theirs.pk), "N")
    assert missing == other
    response = call("DELETE", f"{DOMAINS}/{theirs.pk}?confirm=acme", owners, **{"If-Match": "*"})
    assert response.status_code == 404
    assert VerifiedDomain.objects.filter(pk=theirs.pk).exists()


def test_a_claim_through_a_personal_key_records_its_owner(org, owner):
    allow_api_changes(org, owner)
    person = make_user("ops@acme.test")
    add_member(org, person, "admin")
    _, token = scoped_key(org, person, RW)
    assert call("POST", DOMAINS, token, {"domain": "ops.test"}).status_code == 201
    assert VerifiedDomain.objects.get(domain="ops.test").created_by == person
