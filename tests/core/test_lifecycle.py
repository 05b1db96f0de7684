"""The membership lifecycle (orgsecurity.lifecycle): provisioning, suspension (SCIM deprovisioning), reactivation and
deprovision-and-remove, with program actors (a SCIM token acting as admin) and the guardrails."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from audit.models import AuditEvent
from keys.models import APIKey
from orgsecurity import lifecycle
from orgsecurity.actions import ActionRefused, add_team_member, change_role, remove_member, remove_team_member
from orgsecurity.actors import ProgramActor
from orgsecurity.models import Invitation, Membership, Team
from orgsecurity.roles import Role
from sessions_policy.models import OrgSessionRevocation, UserSession
from sso.recovery import accounts as recovery
from tests.helpers.core import add_member, make_user, sign_in_client
from tests.helpers.keys import api_get, issue

TOKEN = ProgramActor(type="scim_token", id="7", label="scim_ab12cd", role=Role.ADMIN, provisioning=True)


def membership_of(user, org) -> Membership:
    return Membership.objects.get(user=user, organization=org)


def key_for(org, user, name: str = "test key") -> tuple[APIKey, str]:
    """A read key of ``user``'s in ``org``, restricted to a team they are on (as a member's key must be)."""
    team, _ = Team.objects.get_or_create(organization=org, slug="keys", defaults={"name": "Keys"})
    team.members.add(membership_of(user, org))
    return issue(org, user, name=name, team_ids=[team.pk])


def test_suspension_ends_access_to_this_org_only(org, owner, member, other_org, client_for):
    add_member(other_org, member, Role.MEMBER)
    browser = client_for(member)
    assert browser.get("/orgs/acme/").status_code == 200
    key, token = key_for(org, member)
    _other_key, other_token = key_for(other_org, member)
    assert api_get(token, "/api/v1/whoami").status_code == 200

    result = lifecycle.suspend_member(membership_of(member, org), actor=TOKEN, reason="SCIM active=false")

    assert result.sessions_ended == 1
    assert result.key_prefixes == (key.prefix,)
    # Their open browser session is signed out at its next page load here...
    response = browser.get("/orgs/acme/")
    assert response.status_code == 401
    assert b"identity provider" in response.content
    # ...and after signing in again the organization is no longer theirs (404), while globex still works.
    browser = client_for(member)
    assert browser.get("/orgs/acme/").status_code == 404
    assert browser.get("/orgs/globex/").status_code == 200
    assert api_get(token, "/api/v1/whoami").status_code == 401
    assert APIKey.objects.get(pk=key.pk).revoked_reason == "scim_deprovisioned"
    assert api_get(other_token, "/api/v1/whoami").status_code == 200
    assert membership_of(member, other_org).suspended_at is None
    # Role and teams are kept.
    suspended = membership_of(member, org)
    assert suspended.role == Role.MEMBER and suspended.suspended_at is not None


def test_suspension_is_audited_with_the_program_actor_and_per_key_events(org, member):
    keys = [key_for(org, member, name=f"k{i}")[0] for i in range(3)]
    lifecycle.suspend_member(membership_of(member, org), actor=TOKEN, reason="SCIM active=false")

    suspended = AuditEvent.objects.get(organization=org, action="member.suspended")
    assert (suspended.actor_type, suspended.actor_label) == ("scim_token", "scim_ab12cd")
    revoked = AuditEvent.objects.filter(organization=org, action="key.revoked").order_by("seq")
    assert [event.details["prefix"] for event in revoked] == [key.prefix for key in keys]
    assert {event.actor_label for event in revoked} == {"scim_ab12cd"}
    call_command("audit_verify")  # the bulk-inserted events keep the chain intact


def test_a_session_of_another_org_is_not_ended(org, member, other_org, client_for):
    add_member(other_org, member, Role.MEMBER)
    browser = client_for(member)
    lifecycle.suspend_member(membership_of(member, org), actor=TOKEN, reason="x")
    assert browser.get("/orgs/globex/").status_code == 200
    assert UserSession.objects.get(user=member).revoked_at is None


def test_pending_invitations_to_the_person_are_revoked(org, owner, member):
    from orgsecurity.actions import invite_member

    other = make_user("later@acme.test")
    invitation, _ = invite_member(org, actor=owner, email=other.email, role=Role.MEMBER)
    add_member(org, other, Role.MEMBER)  # revokes it already: invite again by hand, as a stale row
    Invitation.objects.filter(pk=invitation.pk).update(revoked_at=None)
    result = lifecycle.suspend_member(membership_of(other, org), actor=TOKEN, reason="x")
    assert result.invitations_revoked == (invitation.pk,)
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is not None


def test_reactivation_restores_access_but_not_keys(org, member, client_for):
    _key, token = key_for(org, member)
    old_browser = client_for(member)
    lifecycle.suspend_member(membership_of(member, org), actor=TOKEN, reason="x")

    membership = lifecycle.reactivate_member(membership_of(member, org), actor=TOKEN, role=Role.MEMBER)

    assert membership.suspended_at is None
    assert client_for(member).get("/orgs/acme/").status_code == 200
    assert old_browser.get("/orgs/acme/").status_code == 401  # the ended session stays ended
    assert api_get(token, "/api/v1/whoami").status_code == 401
    assert AuditEvent.objects.filter(organization=org, action="member.reactivated").count() == 1


def test_suspending_twice_changes_nothing(org, member):
    lifecycle.suspend_member(membership_of(member, org), actor=TOKEN, reason="x")
    again = lifecycle.suspend_member(membership_of(member, org), actor=TOKEN, reason="x")
    assert again.already_suspended
    assert AuditEvent.objects.filter(organization=org, action="member.suspended").count() == 1


def test_deprovision_and_remove(org, member, client_for):
    key, token = key_for(org, member)
    browser = client_for(member)
    result = lifecycle.deprovision_and_remove(membership_of(member, org), actor=TOKEN)
    assert result.removed and result.key_prefixes == (key.prefix,)
    assert not Membership.objects.filter(user=member, organization=org).exists()
    assert browser.get("/orgs/acme/").status_code == 404
    assert api_get(token, "/api/v1/whoami").status_code == 401
    events = AuditEvent.objects.filter(organization=org, category="member").order_by("seq")
    assert list(events.values_list("action", flat=True))[-2:] == ["member.deprovisioned", "member.removed"]


def test_provision_member(org, owner):
    user = make_user("new@acme.test", password=None)
    membership = lifecycle.provision_member(org, user, actor=TOKEN)
    assert membership.role == Role.MEMBER
    assert lifecycle.provision_member(org, user, actor=TOKEN) == membership
    event = AuditEvent.objects.filter(organization=org, action="member.added").latest("seq")
    assert event.actor_label == "scim_ab12cd" and event.details["via"] == "scim"
    with pytest.raises(ActionRefused) as refused:
        lifecycle.provision_member(org, make_user("boss@acme.test"), actor=TOKEN, role=Role.OWNER)
    assert (refused.value.code, refused.value.status) == ("owner_protected", 409)
    lifecycle.suspend_member(membership, actor=TOKEN, reason="x")
    with pytest.raises(ActionRefused) as refused:
        lifecycle.provision_member(org, user, actor=TOKEN)
    assert refused.value.code == "member_suspended"


# --- guardrails --------------------------------------------------------------------------------------------


def test_a_program_never_touches_an_owner(org, owner, admin):
    second_owner = make_user("second@acme.test")
    add_member(org, second_owner, Role.OWNER)
    for attempt in (
        lambda: lifecycle.suspend_member(membership_of(second_owner, org), actor=TOKEN, reason="x"),
        lambda: lifecycle.deprovision_and_remove(membership_of(second_owner, org), actor=TOKEN),
        lambda: change_role(membership_of(second_owner, org), actor=TOKEN, role=Role.ADMIN),
        lambda: change_role(membership_of(admin, org), actor=TOKEN, role=Role.OWNER),
        lambda: remove_member(membership_of(second_owner, org), actor=TOKEN),
    ):
        with pytest.raises(ActionRefused) as refused:
            attempt()
        assert (refused.value.code, refused.value.status) == ("owner_protected", 409)
    assert membership_of(second_owner, org).suspended_at is None
    assert membership_of(admin, org).role == Role.ADMIN


def test_program_actor_changes_roles_and_teams_with_admin_rights(org, member):
    membership = change_role(membership_of(member, org), actor=TOKEN, role=Role.ADMIN)
    assert membership.role == Role.ADMIN
    team = Team.objects.create(organization=org, slug="web", name="Web")
    assert add_team_member(team, membership, actor=TOKEN)
    assert not add_team_member(team, membership, actor=TOKEN)
    assert list(team.members.all()) == [membership]
    assert remove_team_member(team, membership, actor=TOKEN)
    event = AuditEvent.objects.filter(organization=org, action="team.member_removed").get()
    assert event.actor_type == "scim_token"
    remove_member(membership, actor=TOKEN)
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_an_api_key_is_the_same_kind_of_actor_judged_by_its_role_and_never_touches_an_owner(org, owner, admin):
    # One actor type for programs: an admin API key (adminapi.core.delegated) is judged by its role in the member
    # actions and the lifecycle alike (a plain member's key cannot suspend an admin); and, as the README's "Admin
    # API" says, no key, not even an owner's, grants, demotes, suspends or removes an owner (checked under the lock).
    second_owner = make_user("second@acme.test")
    add_member(org, second_owner, Role.OWNER)
    members_key = ProgramActor("api_key", "1", "API key osk_m", role=Role.MEMBER, user_id=None)
    with pytest.raises(ActionRefused) as refused:
        lifecycle.suspend_member(membership_of(admin, org), actor=members_key, reason="x")
    assert (refused.value.code, refused.value.status) == ("role_not_allowed", 403)
    assert membership_of(admin, org).suspended_at is None
    owners_key = ProgramActor("api_key", "2", "API key osk_o", role=Role.OWNER, user_id=owner.pk)
    with pytest.raises(ActionRefused) as refused:
        change_role(membership_of(second_owner, org), actor=owners_key, role=Role.ADMIN)
    assert (refused.value.code, refused.value.status) == ("owner_change_not_allowed", 403)
    with pytest.raises(ActionRefused) as refused:
        lifecycle.suspend_member(membership_of(second_owner, org), actor=owners_key, reason="x")
    assert refused.value.code == "owner_change_not_allowed"
    assert membership_of(second_owner, org).role == Role.OWNER and membership_of(second_owner, org).suspended_at is None
    assert change_role(membership_of(admin, org), actor=owners_key, role=Role.MEMBER).role == Role.MEMBER
    event = AuditEvent.objects.filter(organization=org, action="member.role_changed").latest("seq")
    assert (event.actor_type, event.actor_label) == ("api_key", "API key osk_o")


def test_the_last_owner_who_can_sign_in_is_never_deprovisioned(org, owner):
    # Another owner exists but is suspended: they cannot sign in, so they do not count.
    other = make_user("other-owner@acme.test")
    add_member(org, other, Role.OWNER)
    Membership.objects.filter(user=other).update(suspended_at="2026-01-01T00:00:00Z")
    with pytest.raises(ActionRefused) as refused:
        lifecycle.suspend_member(membership_of(owner, org), actor=owner, reason="x")
    assert (refused.value.code, refused.value.status) == ("last_owner", 409)
    assert membership_of(owner, org).suspended_at is None
    # The refusal is recorded although the change rolled back, and the SSO page can list it.
    refusal = lifecycle.recent_refusals(org)[0]
    assert refusal.details["code"] == "last_owner" and refusal.actor_label == owner.email
    # And a suspended owner cannot be counted as the one who keeps a way in for demotions either.
    with pytest.raises(ActionRefused) as refused:
        change_role(membership_of(owner, org), actor=owner, role=Role.ADMIN)
    assert refused.value.code == "last_owner"


def test_a_named_recovery_account_is_never_deprovisioned(org, owner, admin):
    recovery.designate(org, actor=owner, membership=membership_of(admin, org))
    with pytest.raises(ActionRefused) as refused:
        lifecycle.suspend_member(membership_of(admin, org), actor=TOKEN, reason="x")
    assert (refused.value.code, refused.value.status) == ("recovery_account", 409)
    assert "recovery" in str(refused.value)
    assert membership_of(admin, org).suspended_at is None
    assert [event.details["code"] for event in lifecycle.recent_refusals(org)] == ["recovery_account"]
    assert lifecycle.recent_refusals(org)[0].actor_label == "scim_ab12cd"


def test_a_suspended_member_is_no_member_for_key_auth_even_with_a_live_key(org, member):
    _key, token = key_for(org, member)
    Membership.objects.filter(user=member, organization=org).update(suspended_at="2026-01-01T00:00:00Z")
    response = api_get(token, "/api/v1/whoami")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "key_owner_removed"


def test_sessions_are_barred_in_bulk(org, member):
    for _ in range(3):
        sign_in_client(Client(), member)
    result = lifecycle.suspend_member(membership_of(member, org), actor=TOKEN, reason="x")
    assert result.sessions_ended == 3
    assert OrgSessionRevocation.objects.filter(organization=org, reason="scim_deprovisioned").count() == 3


# --- cost ----------------------------------------------------------------------------------------------------


def _person_with(org, email: str, *, sessions: int, keys: int) -> Membership:
    from django.utils import timezone

    user = make_user(email)
    add_member(org, user, Role.ADMIN)  # admins hold unrestricted keys
    now = timezone.now()
    UserSession.objects.bulk_create(
        UserSession(
            user=user, session_key=f"{email}-{n}", auth_method="password", authenticated_at=now, last_seen_at=now
        )
        for n in range(sessions)
    )
    for n in range(keys):
        issue(org, user, name=f"key {n}")
    return membership_of(user, org)


def _queries(function) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        function()
    return len(captured.captured_queries)


def test_deprovisioning_costs_the_same_queries_for_1_or_50_sessions_and_1_or_20_keys(org, owner):
    small = _person_with(org, "small@acme.test", sessions=1, keys=1)
    large = _person_with(org, "large@acme.test", sessions=50, keys=20)
    small_cost = _queries(lambda: lifecycle.suspend_member(small, actor=TOKEN, reason="x"))
    large_cost = _queries(lambda: lifecycle.suspend_member(large, actor=TOKEN, reason="x"))
    assert small_cost == large_cost
    assert APIKey.objects.filter(owner_user=large.user, revoked_reason="scim_deprovisioned").count() == 20
    assert OrgSessionRevocation.objects.filter(user_session__user=large.user).count() == 50
    call_command("audit_verify")


def test_deprovision_and_remove_costs_the_same_queries_however_many_sessions_and_keys(org, owner):
    small = _person_with(org, "small@acme.test", sessions=1, keys=1)
    large = _person_with(org, "large@acme.test", sessions=50, keys=20)
    small_cost = _queries(lambda: lifecycle.deprovision_and_remove(small, actor=TOKEN))
    large_cost = _queries(lambda: lifecycle.deprovision_and_remove(large, actor=TOKEN))
    assert small_cost == large_cost


def test_the_preview_lists_what_suspension_ends(org, member):
    key, _ = key_for(org, member)
    sign_in_client(Client(), member)
    impact = lifecycle.preview_suspend_member(membership_of(member, org))
    names = {group.key: [item.name for item in group.items] for group in impact.groups}
    assert names["person"] == [member.email]
    assert any(key.prefix in " ".join(items) for items in names.values())
    assert impact.change == "member.suspend"
    assert membership_of(member, org).suspended_at is None  # read-only


def test_an_operator_command_acts_as_the_system(org, owner, member):
    from audit.recorder import Actor

    system = Actor.system("manage.py")
    user = make_user("ops-added@acme.test")
    membership = lifecycle.provision_member(org, user, actor=system, role=Role.ADMIN)
    lifecycle.suspend_member(membership, actor=system, reason="offboarded")
    assert lifecycle.reactivate_member(membership, actor=system, role=Role.MEMBER).role == Role.MEMBER
