"""``GET /api/v1/orgs/<org>/security`` costs a fixed number of SQL queries, whatever the organization's size: more
SSO connections, allowlist entries, keys and members add rows to its answer (or to its counts), never queries. The
benchmark ``bench/admin_api.py`` prints the same count on PostgreSQL."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from allowlist import actions as allowlist_actions
from audit.models import AuditChain
from audit_stream.models import Destination
from keys import actions as key_actions
from orgsecurity.roles import Role
from scim.models import ProvisioningSettings
from sessions_policy.actions import update_session_policy
from sso.connections.actions import create_connection
from sso.domains import verification as domains
from tests.helpers.adminapi import call, scoped_key
from tests.helpers.core import add_member, make_user
from tests.helpers.scim import new_token
from twofactor.models import TwoFactorPolicy

SECURITY = "/api/v1/orgs/acme/security"


def _grow(org, owner, start: int, count: int) -> None:
    """``count`` more of everything the security document reads or counts."""
    for n in range(start, start + count):
        connection = create_connection(org, actor=owner, protocol="saml" if n % 2 else "oidc", name=f"IdP {n}")
        allowlist_actions.add_entry(org, f"198.51.{n}.0/24", actor=owner, label=f"office {n}")
        key_actions.create_api_key(org, actor=owner, name=f"key {n}")
        add_member(org, make_user(f"person{n}@acme.test"), Role.MEMBER)
        domains.claim(org, actor=owner, domain=f"office{n}.example.com")
        if n < 8:  # an organization holds at most 10 live SCIM tokens
            new_token(org, connection, name=f"IdP token {n}")
        Destination.objects.create(organization=org, kind="webhook", url=f"https://siem{n}.example.com/")


def _queries(token: str) -> tuple[int, dict]:
    call("GET", SECURITY, token)  # the same warm state for both counts (last-used write, caches)
    with CaptureQueriesContext(connection) as captured:
        response = call("GET", SECURITY, token)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), response.json()


def test_security_document_queries_do_not_grow_with_the_organization(org, owner):
    account = key_actions.create_service_account(org, actor=owner, name="terraform")
    _, token = scoped_key(org, owner, ["security:read"], service_account=account)
    _grow(org, owner, 0, 1)
    small, small_body = _queries(token)
    _grow(org, owner, 1, 12)
    large, large_body = _queries(token)

    assert len(small_body["sso_connections"]) == 1 and len(large_body["sso_connections"]) == 13
    assert small_body["ip_allowlist"]["entries"] == 1 and large_body["ip_allowlist"]["entries"] == 13
    assert large_body["verified_domains"] == {"claimed": 13, "verified": 0}
    assert large_body["scim"]["active_tokens"] == 8 and large_body["audit"]["stream_destinations"] == 13
    assert large == small, f"{small} queries with 1 of each, {large} with 13"
    assert small <= 8, f"GET /security made {small} queries"


def _sections(token: str) -> dict:
    response = call("GET", SECURITY, token)
    assert response.status_code == 200, response.content
    return response.json()


def test_each_section_is_the_document_of_its_own_endpoint(org, owner):
    """The security document reads its settings in one joined query; each section still says what the setting's
    own endpoint says, before any setting is saved (the defaults) and after each is saved."""
    _, token = scoped_key(org, owner, ["security:read"])

    def own_documents() -> dict:
        policy = call("GET", "/api/v1/orgs/acme/key-policy", token).json()
        session = call("GET", "/api/v1/orgs/acme/session-policy", token).json()
        return {
            "session_policy": {name: value for name, value in session.items() if name != "etag"},
            "ip_allowlist": call("GET", "/api/v1/orgs/acme/allowlist", token).json(),
            "key_policy": {name: value for name, value in policy.items() if name != "etag"},
        }

    document = _sections(token)
    assert {name: document[name] for name in ("session_policy", "ip_allowlist", "key_policy")} == own_documents()
    assert document["ip_allowlist"] == {"enabled": False, "scope": "dashboard", "entries": 0, "etag": ANY_ETAG}

    update_session_policy(
        org, actor=owner, idle_timeout_s=1800, absolute_timeout_s=36000, reauth_max_age_s=600, single_session=True
    )
    allowlist_actions.add_entry(org, "203.0.113.0/24", actor=owner, label="office")
    allowlist_actions.update_settings(org, actor=owner, actor_ip="203.0.113.9", enabled=False, scope="both")
    key_actions.set_key_policy(org, actor=owner, require_expiry=True, max_lifetime_days=90, allow_unrestricted=False)
    key_actions.set_api_security_changes(org, actor=owner, allowed=True)

    document = _sections(token)
    assert {name: document[name] for name in ("session_policy", "ip_allowlist", "key_policy")} == own_documents()
    assert document["session_policy"]["idle_timeout_s"] == 1800 and document["session_policy"]["single_session"]
    assert document["ip_allowlist"]["scope"] == "both" and document["ip_allowlist"]["entries"] == 1
    assert document["key_policy"] == {
        "require_expiry": True,
        "max_lifetime_days": 90,
        "allow_unrestricted": False,
        "allow_api_security_changes": True,
    }


def test_the_two_factor_domains_scim_and_audit_sections_say_what_is_saved(org, owner):
    _, token = scoped_key(org, owner, ["security:read"])
    document = _sections(token)
    assert document["two_factor"] == {"required": False, "grace_ends_at": None}
    assert document["verified_domains"] == {"claimed": 0, "verified": 0}
    assert document["scim"] == {"default_role": "member", "active_tokens": 0}
    assert document["audit"]["stream_destinations"] == 0 and document["audit"]["retention_days"] is None

    TwoFactorPolicy.objects.create(organization=org, required=True, grace_ends_at="2027-01-15T09:00:00Z")
    ProvisioningSettings.objects.create(organization=org, default_role=Role.AUDITOR)
    AuditChain.objects.filter(organization=org).update(retention_days=400)
    Destination.objects.create(organization=org, kind="hec", url="https://splunk.example.com/", status="paused")
    domains.claim(org, actor=owner, domain="acme.example.com")

    document = _sections(token)
    assert document["two_factor"] == {"required": True, "grace_ends_at": "2027-01-15T09:00:00Z"}
    assert document["verified_domains"] == {"claimed": 1, "verified": 0}
    assert document["scim"]["default_role"] == "auditor"
    assert document["audit"] == {"retention_days": 400, "stream_destinations": 1, "paused_destinations": 1}


class _AnyEtag:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith('"') and other.endswith('"')


ANY_ETAG = _AnyEtag()
