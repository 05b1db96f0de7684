"""Verified email domains: claim, prove with a DNS TXT record (against a local DNS responder), one organization per
domain, and platform support marking one verified from the support console."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from orgsecurity.actions import ActionRefused
from sso.domains import verification as domains
from sso.models import VerifiedDomain
from tests.helpers.core import make_user
from tests.sso.dns_responder import LocalDNS

PAGE = "/orgs/acme/settings/security/sso/domains/"


@pytest.fixture
def dns_server(settings):
    server = LocalDNS().start()
    settings.SSO_DNS_NAMESERVERS = [("127.0.0.1", server.port)]
    settings.SSO_DNS_TIMEOUT_SECONDS = 1
    yield server
    server.stop()


@pytest.fixture
def staff(db):
    return make_user("staff@platform.test", is_staff=True)


def claim(client, domain="acme.test"):
    return client.post(f"{PAGE}claim/", {"domain": domain})


def test_it_checks_access_to_the_domains_page(client_for, org, owner, admin, member, outsider):
    assert client_for(owner).get(PAGE).status_code == 200
    assert client_for(admin).get(PAGE).status_code == 200
    assert client_for(member).get(PAGE).status_code == 403
    assert client_for(outsider).get(PAGE).status_code == 404
    assert claim(client_for(member)).status_code == 403
    assert claim(client_for(outsider)).status_code == 404
    assert not VerifiedDomain.objects.exists()


def test_a_claim_shows_the_txt_record_to_add(client_for, org, owner):
    assert claim(client_for(owner), "  ACME.test. ").status_code == 302
    claimed = VerifiedDomain.objects.get()
    assert claimed.domain == "acme.test" and not claimed.is_verified
    page = client_for(owner).get(PAGE).content.decode()
    assert "_orgsecurity-challenge.acme.test" in page and f"orgsecurity-verification={claimed.challenge}" in page
    assert claim(client_for(owner), "acme.test").status_code == 409
    assert AuditEvent.objects.get(action="sso.domain_claimed").changes == {"domain": [None, "acme.test"]}


@pytest.mark.parametrize("bad", ["localhost", "192.0.2.1", "me@acme.test", "https://acme.test/", "-x.test", "a..b"])
def test_bad_domains_are_refused(client_for, org, owner, bad):
    response = claim(client_for(owner), bad)
    assert response.status_code == 400
    assert not VerifiedDomain.objects.exists()


def test_international_names_are_stored_as_punycode(org, owner):
    assert domains.claim(org, actor=owner, domain="Bücher.example").domain == "xn--bcher-kva.example"


def test_the_txt_record_verifies_the_domain(client_for, org, owner, dns_server):
    claimed = domains.claim(org, actor=owner, domain="acme.test")
    dns_server.records["_orgsecurity-challenge.acme.test"] = ["v=spf1 -all", domains.txt_record_value(claimed)]
    response = client_for(owner).post(f"{PAGE}{claimed.pk}/verify/")
    assert response.status_code == 302
    claimed.refresh_from_db()
    assert claimed.is_verified and claimed.verified_via == "dns"
    assert dns_server.queries == ["_orgsecurity-challenge.acme.test"]
    event = AuditEvent.objects.get(action="sso.domain_verified")
    assert event.details["via"] == "dns" and event.actor_label == owner.email


@pytest.mark.parametrize(
    ("records", "silent", "message"),
    [
        ({"_orgsecurity-challenge.acme.test": ["orgsecurity-verification=wrong"]}, False, "does not hold"),
        ({}, False, "does not exist"),
        ({"_orgsecurity-challenge.acme.test": []}, False, "has no TXT record yet"),
        ({}, True, "DNS did not answer in time"),
    ],
)
def test_a_missing_or_wrong_record_says_what_was_found(client_for, org, owner, dns_server, records, silent, message):
    claimed = domains.claim(org, actor=owner, domain="acme.test")
    dns_server.records.update(records)
    dns_server.silent = silent
    browser = client_for(owner)
    response = browser.post(f"{PAGE}{claimed.pk}/verify/")
    assert response.status_code == 302  # never rendered at the POST URL: reloading does not look up DNS again
    assert response["Location"] == PAGE
    assert message in browser.get(PAGE).content.decode()
    claimed.refresh_from_db()
    assert not claimed.is_verified


def test_a_domain_is_verified_by_one_organization_only(org, owner, other_org, outsider, staff, dns_server):
    ours = domains.claim(org, actor=owner, domain="acme.test")
    theirs = domains.claim(other_org, actor=outsider, domain="acme.test")
    domains.verify_by_support(theirs, staff=staff, note="ticket 42")
    dns_server.records["_orgsecurity-challenge.acme.test"] = [domains.txt_record_value(ours)]
    with pytest.raises(ActionRefused, match="verified by another organization"):
        domains.verify_by_dns(ours, actor=owner)
    domains.remove(ours, actor=owner)
    with pytest.raises(ActionRefused, match="verified by another organization"):
        domains.claim(org, actor=owner, domain="acme.test")
    assert VerifiedDomain.objects.filter(domain="acme.test", verified_at__isnull=False).count() == 1


def test_removing_a_domain(client_for, org, owner, member, acme_domain):
    assert client_for(member).post(f"{PAGE}{acme_domain.pk}/remove/").status_code == 403
    assert client_for(owner).post(f"{PAGE}{acme_domain.pk}/remove/").status_code == 302
    assert not VerifiedDomain.objects.exists()
    assert AuditEvent.objects.get(action="sso.domain_removed").details == {"was_verified": True}


# --- support console -------------------------------------------------------------------------------------------


def test_only_staff_see_the_support_domains_page(client_for, org, owner, staff):
    url = "/support/orgs/acme/domains/"
    assert client_for(staff).get(url).status_code == 200
    assert client_for(owner).get(url).status_code == 404
    assert client_for(None).get(url).status_code == 404
    assert client_for(staff).get("/support/orgs/nope/domains/").status_code == 404


def test_support_marks_a_claim_verified_and_it_is_audited_as_support(client_for, org, owner, outsider, staff):
    claimed = domains.claim(org, actor=owner, domain="acme.test")
    url = f"/support/orgs/acme/domains/{claimed.pk}/verify/"
    assert client_for(owner).post(url, {"note": "mine"}).status_code == 404
    assert client_for(outsider).post(url, {"note": "mine"}).status_code == 404
    assert client_for(staff).post(url, {"note": ""}).status_code == 400
    assert (
        client_for(staff).post(f"/support/orgs/globex/domains/{claimed.pk}/verify/", {"note": "x"}).status_code == 404
    )
    claimed.refresh_from_db()
    assert not claimed.is_verified
    assert client_for(staff).post(url, {"note": "ticket 42: checked the registrar"}).status_code == 302
    claimed.refresh_from_db()
    assert claimed.is_verified and claimed.verified_via == "support"
    event = AuditEvent.objects.get(action="sso.domain_verified")
    assert event.organization == org and event.actor_type == "support"
    assert event.actor_label == "staff@platform.test (platform support)"
    assert event.details == {"via": "support", "note": "ticket 42: checked the registrar"}
    assert client_for(staff).post(url, {"note": "again"}).status_code == 409


@pytest.mark.parametrize(
    ("value", "message"),
    [("dns.example", "is not ip, ip:port or [ipv6]:port"), ("127.0.0.1:0", "has a port outside 1-65535")],
)
def test_bad_nameserver_settings_stop_start_up(value, message):
    from tests.core.test_settings import run_manage

    result = run_manage("check", DEBUG="1", SSO_DNS_NAMESERVERS=value)
    assert result.returncode != 0 and message in result.stderr


def test_nameserver_settings_accept_ports_and_ipv6():
    from tests.core.test_settings import run_manage

    result = run_manage("check", DEBUG="1", SSO_DNS_NAMESERVERS="127.0.0.1:8853,[::1]:8853,192.0.2.53")
    assert result.returncode == 0, result.stderr
