"""Deactivating or deleting a SCIM user ends their access to this organization (sessions, keys, invitations) and
nothing else; the guardrails refuse owners and say why."""

from __future__ import annotations

from audit.models import AuditEvent
from keys.models import APIKey
from orgsecurity.models import Membership
from scim.models import ScimUser
from tests.helpers.core import add_member
from tests.helpers.keys import api_get, issue
from tests.helpers.scim import user_body


def provision(scim, email):
    response = scim.post("Users", user_body(email))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_deactivation_signs_out_and_revokes_keys_here_only(scim, org, admin, other_org, client_for):
    add_member(other_org, admin, "member")
    scim_id = provision(scim, "admin@acme.test")
    browser = client_for(admin)
    assert browser.get("/orgs/acme/").status_code == 200
    key, secret = issue(org, admin, name="laptop")
    assert api_get(secret, "/api/v1/whoami").status_code == 200

    response = scim.patch(f"Users/{scim_id}", [{"op": "replace", "path": "active", "value": False}])

    assert response.status_code == 200, response.content
    assert browser.get("/orgs/globex/").status_code == 200  # their other organization is untouched
    assert browser.get("/orgs/acme/").status_code in (302, 401, 404)
    assert api_get(secret, "/api/v1/whoami").status_code == 401
    key.refresh_from_db()
    assert key.revoked_at is not None
    membership = Membership.objects.get(organization=org, user=admin)
    assert membership.suspended_at is not None and membership.role == "admin"
    event = AuditEvent.objects.get(organization=org, action="member.suspended")
    assert event.actor_type == "scim_token" and event.actor_label.startswith("scim_")


def test_reactivation_restores_membership_but_never_revoked_keys(scim, org, admin):
    scim_id = provision(scim, "admin@acme.test")
    key, secret = issue(org, admin, name="laptop")
    scim.patch(f"Users/{scim_id}", [{"op": "replace", "path": "active", "value": False}])
    response = scim.patch(f"Users/{scim_id}", [{"op": "replace", "path": "active", "value": True}])
    assert response.status_code == 200
    assert Membership.objects.get(organization=org, user=admin).suspended_at is None
    assert api_get(secret, "/api/v1/whoami").status_code == 401
    assert APIKey.objects.get(pk=key.pk).revoked_at is not None


def test_put_with_active_false_deactivates(scim, org, admin):
    scim_id = provision(scim, "admin@acme.test")
    response = scim.put(f"Users/{scim_id}", user_body("admin@acme.test", active=False))
    assert response.status_code == 200 and response.json()["active"] is False
    assert Membership.objects.get(organization=org, user=admin).suspended_at is not None


def test_delete_removes_membership_and_revokes_keys(scim, org, admin):
    scim_id = provision(scim, "admin@acme.test")
    _, secret = issue(org, admin, name="laptop")
    assert scim.delete(f"Users/{scim_id}").status_code == 204
    assert not Membership.objects.filter(organization=org, user=admin).exists()
    assert api_get(secret, "/api/v1/whoami").status_code == 401


def test_owners_are_never_deprovisioned_and_the_refusal_is_kept(scim, org, owner):
    scim_id = provision(scim, "owner@acme.test")
    response = scim.patch(f"Users/{scim_id}", [{"op": "replace", "path": "active", "value": False}])
    assert response.status_code == 409
    assert "owner" in response.json()["detail"]
    assert Membership.objects.get(organization=org, user=owner).suspended_at is None
    assert ScimUser.objects.get(scim_id=scim_id).active is True
    refused = AuditEvent.objects.get(organization=org, action="member.deprovision_refused")
    assert refused.actor_label.startswith("scim_")
    assert scim.delete(f"Users/{scim_id}").status_code == 409
    assert Membership.objects.filter(organization=org, user=owner).exists()
