"""Previews over the admin API: the same ``preview_<change>`` lists the dashboard's confirmation pages show, for a
program to read before it changes the allowlist, the session policy or the key policy, revokes a key or removes a
member; each changes nothing, refuses what the save would refuse, and another organization's object is 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from allowlist.models import IPAllowlist
from keys.models import APIKey, KeyPolicy
from orgsecurity.models import Membership, Team
from sessions_policy import clock as session_clock
from sessions_policy.models import SessionPolicy
from tests.helpers.adminapi import call, error_code, scoped_key
from tests.helpers.sessions import FakeClock
from tests.sessions_policy.test_blast_radius import HOUR, open_session

API = "/api/v1/orgs/acme"


@pytest.fixture
def clock():
    fake = FakeClock(timezone.now().replace(microsecond=0))
    with session_clock.use(fake):
        yield fake


def test_removing_a_member_lists_the_person_and_the_keys_they_lose(org, owner, admin):
    _, token = scoped_key(org, owner, ["members:read"])
    personal, _ = scoped_key(org, admin, [], name="laptop script", permission=APIKey.Permission.READ)
    membership = Membership.objects.get(user=admin)
    response = call("GET", f"{API}/members/{membership.pk}/removal/preview", token)
    assert response.status_code == 200
    body = response.json()
    assert body["change"] == "member.remove"
    names = {item["name"] for group in body["groups"] for item in group["items"]}
    assert "admin@acme.test" in names and f"{personal.prefix} (laptop script)" in names
    assert response["ETag"]  # the membership's version, to send with the DELETE
    assert Membership.objects.filter(pk=membership.pk).exists()  # nothing changed


def test_revoking_a_key_lists_the_key_and_notes_recent_use(org, owner):
    _, token = scoped_key(org, owner, ["security:read"])
    key, _ = scoped_key(org, owner, [], name="nightly export")
    APIKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(hours=2))
    response = call("GET", f"{API}/keys/{key.pk}/revocation/preview", token)
    assert response.status_code == 200
    body = response.json()
    assert body["change"] == "key.revoke" and body["total"] == 1
    assert body["groups"][0]["items"][0]["name"] == f"{key.prefix} (nightly export)"
    assert any("401 key_revoked" in note for note in body["notes"])
    assert APIKey.objects.get(pk=key.pk).revoked_at is None


def test_turning_the_allowlist_on_lists_keys_last_used_from_outside(org, owner):
    _, token = scoped_key(org, owner, ["security:read"])
    outside, _ = scoped_key(org, owner, [], name="ci from the cloud")
    APIKey.objects.filter(pk=outside.pk).update(last_used_ip="198.51.100.7", last_used_at=timezone.now())
    response = call("POST", f"{API}/allowlist/preview", token, {"enabled": True, "scope": "api"})
    assert response.status_code == 200
    body = response.json()
    assert body["change"] == "allowlist.settings"
    details = [item for group in body["groups"] for item in group["items"]]
    assert any(outside.prefix in item["name"] for item in details), body
    assert not IPAllowlist.objects.filter(organization=org, enabled=True).exists()


def test_a_shorter_session_lifetime_lists_the_sessions_it_ends(org, owner, member, clock):
    _, token = scoped_key(org, owner, ["security:read"])
    ended = open_session(member, clock, signed_in_hours_ago=5, idle_minutes=1, ip="192.0.2.1")
    response = call("POST", f"{API}/session-policy/preview", token, {"absolute_timeout_s": 2 * HOUR})
    assert response.status_code == 200
    items = response.json()["groups"][0]["items"]
    assert [(item["ref"], item["name"]) for item in items] == [(str(ended.pk), "member@acme.test")]
    assert not SessionPolicy.objects.filter(organization=org).exists()
    refused = call("POST", f"{API}/session-policy/preview", token, {"idle_timeout_s": 1})
    assert refused.status_code == 400 and error_code(refused) == "out_of_bounds"


def test_a_key_policy_lists_the_active_keys_out_of_bounds(org, owner):
    _, token = scoped_key(org, owner, ["security:read"], expires_at=timezone.now() + timedelta(days=30))
    forever, _ = scoped_key(org, owner, [], name="no expiry")
    response = call("POST", f"{API}/key-policy/preview", token, {"require_expiry": True})
    assert response.status_code == 200
    names = [item["name"] for group in response.json()["groups"] for item in group["items"]]
    assert f"{forever.prefix} (no expiry)" in names
    assert KeyPolicy.for_organization(org).require_expiry is False
    refused = call("POST", f"{API}/key-policy/preview", token, {"max_lifetime_days": 99999})
    assert refused.status_code == 400 and error_code(refused) == "bad_lifetime"


def test_previews_need_their_read_scope_and_never_reach_another_org(org, owner, other_org):
    _, audit_only = scoped_key(org, owner, ["audit:read"])
    member_row = Membership.objects.get(user=owner)
    for method, path, body in (
        ("GET", f"{API}/members/{member_row.pk}/removal/preview", None),
        ("POST", f"{API}/allowlist/preview", {"enabled": True}),
        ("POST", f"{API}/session-policy/preview", {}),
        ("POST", f"{API}/key-policy/preview", {}),
    ):
        response = call(method, path, audit_only, body)
        assert response.status_code == 403 and error_code(response) == "scope_missing", path
    _, token = scoped_key(org, owner, ["security:read", "members:read"])
    theirs = Membership.objects.get(organization=other_org)
    their_key, _ = scoped_key(other_org, theirs.user, [])
    Team.objects.create(organization=other_org, name="x")
    for path in (f"{API}/members/{theirs.pk}/removal/preview", f"{API}/keys/{their_key.pk}/revocation/preview"):
        response = call("GET", path, token)
        assert response.status_code == 404 and error_code(response) == "not_found", path
