"""SCIM groups decide roles and teams once owners map them: the highest mapped role wins, demotions go through
``change_role`` (keys the new role may not hold are revoked), owners are never touched, and the mapping page shows
who would change role before it is saved."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from keys.models import APIKey
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Membership, Team
from orgsecurity.roles import Role
from scim.actions import preview_mapping, save_mapping, update_settings
from tests.helpers.keys import issue
from tests.helpers.scim import GROUP_SCHEMA, user_body


@pytest.fixture
def platform(org):
    return Team.objects.create(organization=org, slug="platform", name="Platform")


def provision(scim, email):
    return scim.post("Users", user_body(email)).json()["id"]


def group(scim, name, *member_ids):
    body = {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": i} for i in member_ids]}
    response = scim.post("Groups", body)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def role_of(org, email):
    return Membership.objects.get(organization=org, user__email=email).role


def test_highest_mapped_role_wins_and_teams_follow(scim, org, owner, platform):
    save_mapping(org, actor=owner, group_ref="Admins", role=Role.ADMIN)
    save_mapping(org, actor=owner, group_ref="Auditors", role=Role.AUDITOR, teams=[platform])
    bea = provision(scim, "bea@acme.test")
    assert role_of(org, "bea@acme.test") == Role.MEMBER
    auditors = group(scim, "Auditors", bea)
    assert role_of(org, "bea@acme.test") == Role.AUDITOR
    assert platform.members.filter(user__email="bea@acme.test").exists()
    admins = group(scim, "admins", bea)  # displayName matched without regard to case
    assert role_of(org, "bea@acme.test") == Role.ADMIN
    scim.delete(f"Groups/{admins}")
    assert role_of(org, "bea@acme.test") == Role.AUDITOR
    scim.patch(f"Groups/{auditors}", [{"op": "remove", "path": f'members[value eq "{bea}"]'}])
    assert role_of(org, "bea@acme.test") == Role.MEMBER
    assert not platform.members.filter(user__email="bea@acme.test").exists()
    changed = AuditEvent.objects.filter(organization=org, action="member.role_changed", actor_type="scim_token")
    assert changed.count() == 4


def test_a_demotion_revokes_keys_the_new_role_may_not_hold(scim, org, owner, admin):
    save_mapping(org, actor=owner, group_ref="Admins", role=Role.ADMIN)
    admin_id = provision(scim, "admin@acme.test")
    admins = group(scim, "Admins", admin_id)
    key, _ = issue(org, admin, name="deploy", permission=APIKey.Permission.READ_WRITE)
    scim.patch(f"Groups/{admins}", [{"op": "remove", "path": f'members[value eq "{admin_id}"]'}])
    assert role_of(org, "admin@acme.test") == Role.MEMBER
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_owners_keep_their_role_whatever_their_groups(scim, org, owner):
    save_mapping(org, actor=owner, group_ref="Everyone", role=Role.MEMBER)
    owner_id = provision(scim, "owner@acme.test")
    group(scim, "Everyone", owner_id)
    assert role_of(org, "owner@acme.test") == Role.OWNER


def test_no_group_maps_to_owner(org, owner):
    with pytest.raises(ActionRefused) as refused:
        save_mapping(org, actor=owner, group_ref="Founders", role=Role.OWNER)
    assert refused.value.status == 409


def test_default_role_applies_to_members_in_no_mapped_group(scim, org, owner):
    save_mapping(org, actor=owner, group_ref="Admins", role=Role.ADMIN)
    update_settings(org, actor=owner, default_role=Role.AUDITOR)
    provision(scim, "bea@acme.test")
    assert role_of(org, "bea@acme.test") == Role.AUDITOR


def test_preview_lists_who_would_change_role(scim, org, owner):
    save_mapping(org, actor=owner, group_ref="Ops", role=Role.MEMBER)
    bea = provision(scim, "bea@acme.test")
    group(scim, "Ops", bea)
    impact = preview_mapping(org, group_ref="Ops", role=Role.ADMIN)
    assert [item.name for item in impact.group("role_changes").items] == ["bea@acme.test"]
    assert "Member → Admin" in impact.group("role_changes").items[0].detail
    assert role_of(org, "bea@acme.test") == Role.MEMBER  # a preview changes nothing


def test_group_names_are_unique_and_members_must_be_ours(scim):
    group(scim, "Ops")
    assert scim.post("Groups", {"schemas": [GROUP_SCHEMA], "displayName": "OPS"}).status_code == 409
    stranger = "2819c223-7f76-453a-919d-413861904646"
    body = {"schemas": [GROUP_SCHEMA], "displayName": "X", "members": [{"value": stranger}]}
    assert scim.post("Groups", body).status_code == 400
