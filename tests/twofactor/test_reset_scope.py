"""An owner's reset of a member's second factors only reaches accounts that are the organization's alone: the
factors belong to the account, so the reset is refused (with a sentence, on the members page) for an account that
also belongs to another organization, for the owner's own account, for platform staff, and for a recovery account
while 2FA is required. From the attack run's reproductions."""

from __future__ import annotations

import html

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Membership, User
from orgsecurity.roles import Role
from tests.helpers.core import PASSWORD, add_member, make_org, make_user
from tests.helpers.twofactor import give_totp
from twofactor import actions
from twofactor.models import TOTPDevice

MEMBERS = "/orgs/acme/settings/security/two-factor/members/"


def reset(client: Client, membership: Membership) -> str:
    """POST the reset, follow the redirect, return the page shown (the refusal or success sentence on it)."""
    response = client.post(f"{MEMBERS}{membership.pk}/reset/")
    assert response.status_code == 302
    assert response["Location"] == MEMBERS
    return html.unescape(client.get(response["Location"]).content.decode())


def test_another_organizations_owner_keeps_their_factors(org, owner, client_for, moving_clock):
    victim = make_user("boss@globex.test")
    globex = make_org("globex", victim, "Globex")
    add_member(org, victim, Role.MEMBER)
    give_totp(owner)
    give_totp(victim)
    moving_clock.advance(30)
    actions.set_policy(globex, actor=victim, required=True, grace_days=0)
    page = reset(client_for(owner), org.memberships.get(user=victim))
    assert "also belongs to other organizations; only its owner can change its factors" in page
    assert TOTPDevice.objects.filter(user=victim).exists()
    assert not AuditEvent.objects.filter(action="twofactor.factors_reset").exists()
    # and the victim's password sign-in still asks for the second factor
    signin = Client().post("/accounts/login/", {"username": victim.email, "password": PASSWORD})
    assert signin["Location"] == "/accounts/2fa/verify/"


def test_a_suspended_membership_elsewhere_counts_too(org, owner, member, moving_clock):
    other = make_org("globex", make_user("boss@globex.test"), "Globex")
    add_member(other, member, Role.MEMBER)
    Membership.objects.filter(organization=other, user=member).update(suspended_at="2026-01-01T00:00:00Z")
    give_totp(member)
    with pytest.raises(ActionRefused) as refused:
        actions.reset_factors(org.memberships.get(user=member), actor=owner)
    assert refused.value.code == "other_organizations" and refused.value.status == 403
    assert TOTPDevice.objects.filter(user=member).exists()


def test_an_owner_cannot_reset_their_own_factors_here(org, owner, client_for, moving_clock):
    give_totp(owner)
    moving_clock.advance(30)
    actions.set_policy(org, actor=owner, required=True, grace_days=0)
    page = reset(client_for(owner), org.memberships.get(user=owner))
    assert "These are your own second factors: change them on your account page." in page
    assert TOTPDevice.objects.filter(user=owner).exists()


def test_a_recovery_accounts_factors_stay_while_required(org, owner, admin, client_for, moving_clock):
    from sso.recovery import accounts as recovery

    give_totp(owner)
    give_totp(admin)
    moving_clock.advance(30)
    membership = org.memberships.get(user=admin)
    recovery.designate(org, actor=owner, membership=membership)
    actions.set_policy(org, actor=owner, required=True, grace_days=0)
    page = reset(client_for(owner), membership)
    assert "This is a recovery account and two-factor authentication is required" in page
    assert TOTPDevice.objects.filter(user=admin).exists()


def test_platform_staff_factors_are_not_an_owners_to_reset(org, owner, member, moving_clock):
    User.objects.filter(pk=member.pk).update(is_staff=True)
    give_totp(member)
    with pytest.raises(ActionRefused) as refused:
        actions.reset_factors(Membership.objects.get(user=member, organization=org), actor=owner)
    assert refused.value.code == "staff" and refused.value.status == 403
    assert TOTPDevice.objects.filter(user=member).exists()


def test_json_clients_get_the_refusal(org, owner, client_for, moving_clock):
    give_totp(owner)
    membership = org.memberships.get(user=owner)
    response = client_for(owner).post(f"{MEMBERS}{membership.pk}/reset/", HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "own_account"


def test_a_member_of_this_organization_alone_is_still_reset(org, owner, admin, member, client_for, moving_clock):
    from sso.recovery import accounts as recovery

    give_totp(owner)
    give_totp(member)
    moving_clock.advance(30)
    actions.set_policy(org, actor=owner, required=True, grace_days=0)
    page = reset(client_for(owner), org.memberships.get(user=member))
    assert f"1 second factor(s) of {member.email} removed" in page
    assert not TOTPDevice.objects.filter(user=member).exists()
    assert AuditEvent.objects.filter(action="twofactor.factors_reset", organization=org).exists()
    # a recovery account may be reset while 2FA is not required
    actions.set_policy(org, actor=owner, required=False, grace_days=0)
    admin_membership = org.memberships.get(user=admin)
    recovery.designate(org, actor=owner, membership=admin_membership)
    give_totp(admin)
    assert actions.reset_factors(admin_membership, actor=owner) == 1
    assert not TOTPDevice.objects.filter(user=admin).exists()
