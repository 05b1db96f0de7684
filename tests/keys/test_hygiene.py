"""Identity-change hygiene: no working keys left behind when people leave, change role or change SSO identity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client

from audit.models import AuditEvent
from keys import actions
from keys.models import APIKey
from orgsecurity import actions as org_actions
from orgsecurity.models import Membership
from orgsecurity.roles import Role
from tests.helpers.keys import SYSTEM, api_get, issue


def test_removing_a_member_revokes_their_keys_in_the_same_transaction(org, owner, admin, acme, fresh_client):
    personal, token = issue(org, admin, team_ids=[acme.data.pk], permission="read_write")
    account = actions.create_service_account(org, actor=owner, name="etl")
    _, machine_token = issue(org, admin, service_account=account, project_ids=[acme.warehouse.pk])
    assert api_get(token, "/api/v1/whoami").status_code == 200

    response = fresh_client(owner).post(f"/orgs/acme/members/{admin.memberships.get().pk}/remove/")
    assert response.status_code == 302

    personal.refresh_from_db()
    assert personal.revoked_at is not None
    assert personal.revoked_reason == "Owner admin@acme.test was removed."
    refused = api_get(token, "/api/v1/whoami")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "key_revoked")
    # Automation owned by the organization survives the person who set it up.
    assert api_get(machine_token, "/api/v1/whoami").status_code == 200
    removed = AuditEvent.objects.get(action="member.removed")
    revoked = AuditEvent.objects.get(action="key.revoked")
    assert revoked.seq == removed.seq + 1 and revoked.details["prefix"] == personal.prefix
    assert revoked.actor_label == "owner@acme.test"


def test_removal_and_revocation_commit_or_roll_back_together(org, owner, admin, acme, monkeypatch):
    key, _ = issue(org, admin, team_ids=[acme.data.pk])

    def fail_after_revocation(self, *args, **kwargs):
        assert APIKey.objects.get(pk=key.pk).revoked_at is not None  # already revoked inside the transaction
        raise RuntimeError("database went away")

    monkeypatch.setattr(Membership, "delete", fail_after_revocation)
    with pytest.raises(RuntimeError):
        org_actions.remove_member(admin.memberships.get(), actor=owner)
    key.refresh_from_db()
    assert key.revoked_at is None  # rolled back with the failed removal
    assert Membership.objects.filter(user=admin).exists()
    assert not AuditEvent.objects.filter(action="key.revoked").exists()


def test_a_member_who_leaves_loses_their_keys(org, member, acme):
    key, token = issue(org, member, project_ids=[acme.web.pk])
    org_actions.remove_member(member.memberships.get(), actor=member)
    key.refresh_from_db()
    assert key.revoked_reason == "Owner member@acme.test left the organization."
    assert api_get(token, "/api/v1/whoami").status_code == 401


def test_keys_in_other_organizations_are_not_touched(org, owner, outsider, other_org, admin, acme):
    org_actions.add_member(other_org, actor=SYSTEM, user=admin, role=Role.ADMIN, via="tests")
    _, globex_token = issue(other_org, admin)
    org_actions.remove_member(admin.memberships.get(organization=org), actor=owner)
    assert api_get(globex_token, "/api/v1/whoami").status_code == 200


def test_a_key_whose_owner_disappeared_another_way_is_refused(org, admin, acme):
    _, token = issue(org, admin, team_ids=[acme.data.pk])
    with transaction.atomic():
        Membership.objects.filter(user=admin).delete()  # a path that bypassed remove_member
    response = api_get(token, "/api/v1/whoami")
    assert (response.status_code, response.json()["error"]["code"]) == (401, "key_owner_removed")


def test_a_deactivated_accounts_personal_keys_stop_working(org, owner, member, acme):
    # Deactivating an account (is_active off: it can no longer sign in) must stop its keys too, on every endpoint,
    # while service-account keys it created keep working.
    _, owner_token = issue(org, owner, project_ids=[acme.web.pk], permission="read_write")
    _, member_token = issue(org, member, project_ids=[acme.web.pk])
    _, service_token = issue(org, owner, service_account=actions.create_service_account(org, actor=owner, name="ci"))
    type(owner).objects.filter(pk__in=[owner.pk, member.pk]).update(is_active=False)

    for token, path in ((owner_token, "/api/v1/whoami"), (member_token, f"/api/v1/projects/{acme.web.pk}/")):
        response = api_get(token, path)
        assert response.status_code == 401
        assert response.json()["error"] == {
            "code": "key_owner_removed",
            "message": "The account that owns this API key was deactivated.",
        }
    patch = Client().patch(
        f"/api/v1/projects/{acme.web.pk}/",
        data=b'{"name": "taken over"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {owner_token}",
    )
    assert patch.status_code == 401
    assert api_get(service_token, "/api/v1/whoami").status_code == 200


def test_demotion_revokes_keys_the_new_role_does_not_allow(org, owner, admin, acme):
    read_write, rw_token = issue(org, admin, project_ids=[acme.web.pk], permission="read_write")
    other_team, _ = issue(org, admin, project_ids=[acme.warehouse.pk])
    Membership.objects.get(user=admin).teams.remove(acme.data)  # admin stays only on platform
    fine, fine_token = issue(org, admin, project_ids=[acme.mobile.pk])

    org_actions.change_role(admin.memberships.get(), actor=owner, role=Role.MEMBER)

    for key in (read_write, other_team, fine):
        key.refresh_from_db()
    # Names the person: "Owner's role changed to Member" read as if an owner had been demoted.
    expected = "admin@acme.test's role changed to Member: Members may hold read-only keys only."
    assert read_write.revoked_reason == expected
    assert other_team.revoked_at is not None and "teams the member is on" in other_team.revoked_reason
    assert fine.revoked_at is None
    assert api_get(rw_token, "/api/v1/whoami").status_code == 401
    assert api_get(fine_token, f"/api/v1/projects/{acme.mobile.pk}/").status_code == 200


@pytest.mark.parametrize("role", [Role.BILLING, Role.AUDITOR])
def test_roles_that_hold_no_keys_lose_all_of_them(org, owner, member, acme, role):
    key, token = issue(org, member, project_ids=[acme.web.pk])
    org_actions.change_role(member.memberships.get(), actor=owner, role=role)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert f"The {role.label} role cannot hold API keys." in key.revoked_reason
    assert api_get(token, "/api/v1/whoami").json()["error"]["code"] == "key_revoked"


def test_promotion_revokes_nothing(org, owner, member, acme):
    key, _ = issue(org, member, project_ids=[acme.web.pk])
    org_actions.change_role(member.memberships.get(), actor=owner, role=Role.ADMIN)
    key.refresh_from_db()
    assert key.revoked_at is None


def test_flag_keys_for_review_for_one_person_or_everyone(org, owner, admin, member, acme):
    admin_key, admin_token = issue(org, admin, team_ids=[acme.data.pk])
    member_key, _ = issue(org, member, project_ids=[acme.web.pk])
    account = actions.create_service_account(org, actor=owner, name="etl")
    machine_key, _ = issue(org, owner, service_account=account, project_ids=[acme.web.pk])
    revoked_key, _ = issue(org, admin, team_ids=[acme.data.pk])
    actions.revoke_api_key(revoked_key, actor=admin, reason="old")

    flagged = actions.flag_keys_for_review(org, actor=SYSTEM, reason="SSO identity unlinked", user=admin)
    assert [key.pk for key in flagged] == [admin_key.pk]
    with transaction.atomic():
        everyone = actions.flag_keys_for_review(org, actor=owner, reason="SSO enforcement started")
    assert {key.pk for key in everyone} == {admin_key.pk, member_key.pk}
    machine_key.refresh_from_db()
    assert machine_key.flagged_at is None
    admin_key.refresh_from_db()
    assert admin_key.flagged_reason == "SSO enforcement started"
    assert api_get(admin_token, "/api/v1/whoami").status_code == 200  # flagged, not revoked
    events = AuditEvent.objects.filter(action="key.flagged_for_review").order_by("seq")
    assert [event.details["prefix"] for event in events] == [admin_key.prefix, admin_key.prefix, member_key.prefix]
    assert events.first().actor_label == "tests"

    actions.clear_review_flag(admin_key, actor=owner)
    admin_key.refresh_from_db()
    assert admin_key.flagged_at is None
    with pytest.raises(org_actions.ActionRefused):
        actions.clear_review_flag(member_key, actor=member)  # only owners and admins review


def test_rotate_and_revoke_follow_custody_rules(org, owner, admin, member, acme):
    member_key, _ = issue(org, member, project_ids=[acme.web.pk])
    with pytest.raises(org_actions.ActionRefused) as refused:
        actions.rotate_api_key(member_key, actor=admin, overlap=timedelta(0))
    assert refused.value.status == 403  # an admin never sees another person's secret
    admin_key, _ = issue(org, admin, team_ids=[acme.data.pk])
    with pytest.raises(org_actions.ActionRefused):
        actions.revoke_api_key(admin_key, actor=member, reason="mine now")
    actions.revoke_api_key(member_key, actor=admin, reason="member asked")  # admins may revoke any key
    with pytest.raises(org_actions.ActionRefused) as again:
        actions.revoke_api_key(member_key, actor=admin, reason="twice")
    assert again.value.code == "already_revoked"


def test_a_service_account_key_whose_secret_the_departed_person_saw_is_flagged(org, owner, admin, acme):
    account = actions.create_service_account(org, actor=owner, name="etl")
    seen_by_admin, machine_token = issue(org, admin, service_account=account, project_ids=[acme.warehouse.pk])
    seen_by_owner, _ = issue(org, owner, service_account=account, project_ids=[acme.warehouse.pk])
    rotated, _ = issue(org, admin, service_account=account, project_ids=[acme.warehouse.pk])
    actions.rotate_api_key(rotated, actor=owner, overlap=timedelta(0))  # the admin's copy of that secret is dead

    org_actions.remove_member(Membership.objects.get(user=admin), actor=owner)

    flagged = {key.pk: key.flagged_reason for key in APIKey.objects.exclude(flagged_at=None)}
    assert flagged == {seen_by_admin.pk: "admin@acme.test, who saw this key's secret, was removed: rotate it."}
    assert api_get(machine_token, "/api/v1/whoami").status_code == 200  # automation keeps working meanwhile
    assert seen_by_owner.pk not in flagged and rotated.pk not in flagged


def test_losing_the_key_manager_role_flags_the_service_keys_they_saw(org, owner, admin, acme):
    account = actions.create_service_account(org, actor=owner, name="etl")
    key, _ = issue(org, admin, service_account=account, project_ids=[acme.warehouse.pk])
    org_actions.change_role(Membership.objects.get(user=admin), actor=owner, role=Role.MEMBER)
    key.refresh_from_db()
    assert (
        key.flagged_reason
        == "admin@acme.test, who saw this key's secret, no longer manages keys (now Member): rotate it."
    )


def test_invitations_do_not_outlive_their_senders_right_to_invite(org, owner, admin, member):
    from orgsecurity.models import Invitation

    org_actions.invite_member(org, actor=admin, email="one@acme.test", role=Role.MEMBER)
    org_actions.invite_member(org, actor=owner, email="two@acme.test", role=Role.MEMBER)
    org_actions.change_role(Membership.objects.get(user=admin), actor=owner, role=Role.BILLING)
    assert list(Invitation.objects.filter(revoked_at=None).values_list("email", flat=True)) == ["two@acme.test"]
    event = AuditEvent.objects.filter(action="member.invitation_revoked").get()
    assert event.details == {"reason": "its sender may no longer invite"}
