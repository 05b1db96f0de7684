"""Admin API test helpers for the organization resources: keys of every role for an access matrix."""

from __future__ import annotations

from keys import actions
from keys.models import APIKey
from orgsecurity.models import Membership, Organization, Team, User
from orgsecurity.roles import Role
from tests.helpers.adminapi import scoped_key
from tests.helpers.core import add_member, make_user


def member_token(org: Organization, member: User, scopes: list[str]) -> str:
    """A plain member's key (read-only, restricted to a team of theirs, as members' keys must be) with ``scopes``
    (read scopes only: a member holds no write scope)."""
    team, _ = Team.objects.get_or_create(organization=org, slug="platform", defaults={"name": "Platform"})
    team.members.add(Membership.objects.get(user=member, organization=org))
    _, token = actions.create_api_key(
        org, actor=member, name="mine", permission=APIKey.Permission.READ, team_ids=[team.pk], scopes=scopes
    )
    return token


def auditor_token(org: Organization, scopes: list[str]) -> str:
    """The key of someone who became an auditor after it was issued (auditors are never issued keys): the key
    acts with its owner's current role."""
    user = make_user("became-auditor@acme.test")
    add_member(org, user, Role.ADMIN)
    _, token = scoped_key(org, user, scopes)
    Membership.objects.filter(user=user, organization=org).update(role=Role.AUDITOR)  # bypassing the key hygiene
    return token


def outsider_token(other_org: Organization, outsider: User, scopes: list[str]) -> str:
    """An owner's key of another organization, with ``scopes``."""
    return scoped_key(other_org, outsider, scopes)[1]
