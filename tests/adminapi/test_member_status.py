"""The admin API's members list shows each member's SSO link (which connection) and two-factor status (which
kinds of factor), and suspended members marked, in a fixed number of queries whatever the page size."""

from __future__ import annotations

from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from orgsecurity.models import Membership
from sso.connections import actions as sso_actions
from tests.helpers.adminapi import call, scoped_key
from tests.helpers.core import add_member, make_user
from tests.helpers.sso import link_identity
from twofactor.models import TOTPDevice, WebAuthnCredential

MEMBERS = "/api/v1/orgs/acme/members"


def _by_email(response):
    assert response.status_code == 200, response.content
    return {m["email"]: m for m in response.json()["members"]}


def test_members_show_their_sso_links_and_second_factors(org, owner, admin, member):
    okta = sso_actions.create_connection(
        org, actor=owner, protocol="saml", name="Okta", attribute_map={"email": "mail"}
    )
    link_identity(okta, member, "mia-123")
    TOTPDevice.objects.create(user=admin, secret="not-used-here")
    WebAuthnCredential.objects.create(user=admin, name="YubiKey", credential_id="cred-1", public_key=b"k")
    WebAuthnCredential.objects.create(user=owner, name="Laptop", credential_id="cred-2", public_key=b"k")
    _, token = scoped_key(org, owner, ["members:read"])
    members = _by_email(call("GET", MEMBERS, token))
    assert members["member@acme.test"]["sso"] == [
        {
            "connection_id": okta.pk,
            "connection_name": "Okta",
            "protocol": "saml",
            "linked_at": members["member@acme.test"]["sso"][0]["linked_at"],
        }
    ]
    assert members["owner@acme.test"]["sso"] == [] and members["admin@acme.test"]["sso"] == []
    assert members["admin@acme.test"]["two_factor"] == {"enabled": True, "factors": ["totp", "passkey"]}
    assert members["owner@acme.test"]["two_factor"] == {"enabled": True, "factors": ["passkey"]}
    assert members["member@acme.test"]["two_factor"] == {"enabled": False, "factors": []}
    assert not any(m["suspended"] for m in members.values())


def test_another_organizations_identities_are_not_shown(org, owner, other_org, outsider):
    add_member(other_org, owner, "member")  # the same person in both organizations
    theirs = sso_actions.create_connection(
        other_org, actor=outsider, protocol="saml", name="Globex IdP", attribute_map={"email": "mail"}
    )
    link_identity(theirs, owner, "owner-at-globex")
    _, token = scoped_key(org, owner, ["members:read"])
    assert _by_email(call("GET", MEMBERS, token))["owner@acme.test"]["sso"] == []


def test_suspended_members_are_listed_marked(org, owner, member):
    Membership.objects.filter(user=member).update(suspended_at="2026-01-01T00:00:00Z")
    _, token = scoped_key(org, owner, ["members:read"])
    members = _by_email(call("GET", MEMBERS, token))
    assert members["member@acme.test"]["suspended"] is True and members["owner@acme.test"]["suspended"] is False


def test_the_list_takes_the_same_number_of_queries_for_3_or_40_members(org, owner):
    okta = sso_actions.create_connection(
        org, actor=owner, protocol="saml", name="Okta", attribute_map={"email": "mail"}
    )
    _, token = scoped_key(org, owner, ["members:read"])
    call("GET", MEMBERS, token)  # warm the per-process caches

    def queries() -> int:
        with CaptureQueriesContext(db_connection) as captured:
            assert call("GET", MEMBERS, token).status_code == 200
        return len(captured)

    few = queries()
    for number in range(40):
        person = make_user(f"person{number}@acme.test")
        add_member(org, person, "member")
        link_identity(okta, person, f"subject-{number}")
        TOTPDevice.objects.create(user=person, secret="x")
    assert queries() == few
    assert len(call("GET", f"{MEMBERS}?limit=500", token).json()["members"]) == 41
