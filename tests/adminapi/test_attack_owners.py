"""Attacks on "no key ever grants, demotes or removes an owner": the rule holds under the membership's lock, so a
member made an owner between the endpoint's read and the change is still never demoted or removed by a key."""

from __future__ import annotations

import pytest

from adminapi.routes import members as member_routes
from orgsecurity.models import Membership
from orgsecurity.roles import Role
from tests.helpers.adminapi import call, error_code, scoped_key

MEMBERS = "/api/v1/orgs/acme/members"


@pytest.fixture
def owner_key(org, owner):
    """An owner's personal key with members:write: it acts as an owner, which the dashboard lets manage owners."""
    return scoped_key(org, owner, ["members:read", "members:write"])[1]


@pytest.fixture
def promoted_meanwhile(monkeypatch):
    """Another owner promotes the target to owner right after the endpoint read it (before the action locks it)."""
    original = member_routes.require_if_match

    def checked_then_promoted(request, current):
        original(request, current)
        Membership.objects.filter(pk=current["id"]).update(role=Role.OWNER)

    monkeypatch.setattr(member_routes, "require_if_match", checked_then_promoted)


def _etag(token: str, membership: Membership) -> str:
    listed = call("GET", MEMBERS, token).json()["members"]
    return next(item["etag"] for item in listed if item["id"] == membership.pk)


def test_an_owner_made_meanwhile_is_not_demoted_by_a_key(org, admin, owner_key, promoted_meanwhile):
    membership = Membership.objects.get(organization=org, user=admin)
    etag = _etag(owner_key, membership)
    response = call("PATCH", f"{MEMBERS}/{membership.pk}", owner_key, {"role": "member"}, **{"If-Match": etag})
    assert response.status_code == 403 and error_code(response) == "owner_change_not_allowed"
    assert Membership.objects.get(pk=membership.pk).role == Role.OWNER


def test_an_owner_made_meanwhile_is_not_removed_by_a_key(org, admin, owner_key, promoted_meanwhile):
    membership = Membership.objects.get(organization=org, user=admin)
    etag = _etag(owner_key, membership)
    response = call("DELETE", f"{MEMBERS}/{membership.pk}", owner_key, **{"If-Match": etag})
    assert response.status_code == 403 and error_code(response) == "owner_change_not_allowed"
    assert Membership.objects.filter(pk=membership.pk, role=Role.OWNER).exists()


def test_a_key_still_changes_and_removes_non_owners(org, admin, member, owner_key):
    membership = Membership.objects.get(organization=org, user=member)
    etag = _etag(owner_key, membership)
    changed = call("PATCH", f"{MEMBERS}/{membership.pk}", owner_key, {"role": "admin"}, **{"If-Match": etag})
    assert changed.status_code == 200 and changed.json()["role"] == "admin"
    removed = call("DELETE", f"{MEMBERS}/{membership.pk}", owner_key, **{"If-Match": changed["ETag"]})
    assert removed.status_code == 204
