"""SCIM provisioning actions: what a SCIM request changes, each in one transaction with its audit events
(``@audited`` on the token's organization), acting as the token (``orgsecurity.actors.ProgramActor``, admin rights).

Membership changes go through the core's lifecycle (``orgsecurity.lifecycle``: provision, suspend, reactivate,
deprovision-and-remove) and actions (``orgsecurity.actions.change_role``), so their guardrails (last owner who can
sign in, recovery accounts, owners untouchable by a program) and effects (sessions ended, keys revoked, invitations
revoked) are the same as everywhere else. A refusal raises ``orgsecurity.actions.ActionRefused`` (status 409).

Linking (issue 16): the account email is the primary ``emails`` value, else ``userName``; a SCIM user with neither
(no email at all) is kept without an account, so nobody gets access until the IdP sends one; only emails in the
organization's verified domains are provisioned (``settings.SCIM_ACCEPT_ANY_EMAIL_DOMAIN`` lifts this in tests
only); an existing account is matched by that email, a new one is created without a usable password.

Groups → roles and teams: once the owners have mapped at least one group, a member's role is the highest role their
groups map to (``ROLE_RANK``), else the organization's default role (before any mapping, provisioning gives new
members the default role and changes no existing role); their teams are those their groups map to, among the teams
any mapping names (teams no mapping names are left alone). Owners are never changed by SCIM.

Account emails: an email renamed at the IdP renames the account only when this organization alone governs it
(``refuse_account_rename``): never platform staff, an account of another organization too, or an owner or admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from audit import recorder as audit
from audit.locking import audited
from orgsecurity import lifecycle
from orgsecurity.actions import ActionRefused, add_team_member, change_role, remove_team_member
from orgsecurity.actors import ProgramActor
from orgsecurity.models import Membership, Organization, User, normalize_email
from orgsecurity.roles import Role
from scim.errors import ScimError
from scim.models import GroupMapping, ProvisioningSettings, ScimGroup, ScimToken, ScimUser
from sso.domains.verification import org_verified_email

# Highest first: what "the highest role their groups map to" means. No group maps to owner.
ROLE_RANK = (Role.ADMIN, Role.AUDITOR, Role.BILLING, Role.MEMBER)
ACTOR_TYPE = "scim_token"


def actor_for(token: ScimToken) -> ProgramActor:
    """The token as the actor of what it changes: audited with its prefix, judged with admin rights."""
    return ProgramActor(type=ACTOR_TYPE, id=str(token.pk), label=token.prefix, role=Role.ADMIN, provisioning=True)


def default_role(organization: Organization) -> str:
    """The role of provisioned members in no mapped group (``member`` unless the owners changed it)."""
    found = ProvisioningSettings.objects.filter(organization=organization).values_list("default_role", flat=True)
    return next(iter(found), Role.MEMBER)


def _check_email(organization: Organization, email: str) -> None:
    if not email or "@" not in email:
        raise ScimError(
            400, "The user needs an email address: a primary emails value, or a userName that is one.", "invalidValue"
        )
    if getattr(settings, "SCIM_ACCEPT_ANY_EMAIL_DOMAIN", False):
        return
    if not org_verified_email(organization, email):
        domain = email.rpartition("@")[2]
        raise ScimError(
            400,
            f"{domain} is not a verified domain of {organization.name}: only emails in the organization's verified "
            "domains can be provisioned. Verify the domain on the SSO page first.",
            "invalidValue",
        )


def _check_user_name(organization: Organization, user_name: str, exclude: ScimUser | None = None) -> None:
    if not user_name:
        raise ScimError(400, "userName is required.", "invalidValue")
    taken = ScimUser.objects.alias(lower=Lower("user_name")).filter(organization=organization, lower=user_name.lower())
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise ScimError(409, f"The userName {user_name!r} is already in use in this organization.", "uniqueness")


def _membership(organization: Organization, user: User) -> Membership | None:
    # includes suspended: provisioning reactivates a suspended membership rather than adding a second one.
    found = Membership.objects.filter(organization=organization, user=user)
    return found.select_related("organization", "user").first()


def _is_active(membership: Membership | None) -> bool:
    return membership is not None and getattr(membership, "suspended_at", None) is None


# --- users ---------------------------------------------------------------------------------------------------


@audited(lambda token, fields: token.organization)
def create_user(token: ScimToken, fields: dict[str, Any]) -> ScimUser:
    """POST /Users (RFC 7644 §3.3): link (or create) the account and provision its membership when ``active``.
    ``fields`` as ``scim.resources.user_fields``. Raises ``ScimError`` 400 (email, domain) or 409 (``uniqueness``:
    userName taken, or the account already linked to another SCIM user here)."""
    organization = token.organization
    actor = actor_for(token)
    # userName uniqueness: the (organization, lower(user_name)) constraint below; its IntegrityError rolls the whole
    # transaction back (the account made on the way included).
    email = normalize_email(fields["email"])
    user = _account_for(organization, email, name=fields["display_name"]) if _is_email(email) else None
    now = timezone.now()
    try:
        with transaction.atomic():
            scim_user = ScimUser.objects.create(
                organization=organization,
                user=user,
                connection=token.connection,
                created_at=now,
                updated_at=now,
                **fields,
            )
    except IntegrityError:
        raise ScimError(409, f"The userName {fields['user_name']!r} is already in use.", "uniqueness") from None
    scim_user.organization = organization
    audit.record(
        "scim.user_created",
        organization=organization,
        actor=actor,
        target=_target(scim_user),
        details={"email": email, "external_id": scim_user.external_id, "active": scim_user.active},
    )
    membership = _membership(organization, user) if user is not None else None
    if scim_user.active and user is not None and membership is None:
        # A new SCIM user is in no group yet: the default role, and no team to join.
        lifecycle.provision_member(organization, user, actor=actor, role=default_role(organization))
    elif user is not None:
        _grant_access(scim_user, actor)
    return scim_user


def _is_email(text: str) -> bool:
    local, at, domain = text.partition("@")
    return bool(at and local and "." in domain)


def _account_for(organization: Organization, email: str, *, name: str, linked: ScimUser | None = None) -> User:
    """The account ``email`` names (matched only in a verified domain of the organization), or a new one without
    a usable password; raises ``ScimError`` 400 (domain) or 409 (already another SCIM user's account here)."""
    _check_email(organization, email)
    user = User.objects.filter(email=email).first()
    if user is None:
        return User.objects.create_user(email, None, name=name[:150])
    others = ScimUser.objects.filter(organization=organization, user=user)
    if linked is not None:
        others = others.exclude(pk=linked.pk)
    if others.exists():
        raise ScimError(409, f"{email} is already provisioned in this organization.", "uniqueness")
    return user


def refuse_account_rename(organization: Organization, user: User, email: str) -> None:
    """An email renamed at the IdP renames the linked account only when this organization alone governs it: the
    account's email is how it signs in and resets its password everywhere, so renaming it is taking it over.
    Raises ``ScimError`` 409 (``mutability``) when the account is platform staff, belongs to any other organization
    (suspended there or not), or is an owner or admin here (owners and admins manage their own account, as they
    link their own SSO identity). The SCIM user's own attributes may still change; the account keeps its email."""
    reason = ""
    if user.is_staff or user.is_superuser:
        reason = "it is a platform staff account"
    # includes suspended: a membership anywhere else, suspended or not, means this organization does not own the account
    elif Membership.objects.filter(user=user).exclude(organization=organization).exists():
        reason = "the account also belongs to other organizations"
    # includes suspended: a suspended owner or admin is still not an account provisioning may rename
    elif Membership.objects.filter(organization=organization, user=user, role__in=[Role.OWNER, Role.ADMIN]).exists():
        reason = "owners and admins manage their own account's email"
    if reason:
        raise ScimError(
            409,
            f"Provisioning cannot rename the account {user.email} to {email}: {reason}. The person can change "
            "their email themselves.",
            "mutability",
        )


def _grant_access(scim_user: ScimUser, actor: ProgramActor) -> None:
    """Provision (or reactivate) the membership of an active SCIM user with an account, then its role and teams."""
    if scim_user.user_id is None:
        return
    membership = _membership(scim_user.organization, scim_user.user)
    if scim_user.active and not _is_active(membership):
        if membership is None:
            lifecycle.provision_member(scim_user.organization, scim_user.user, actor=actor, role=target_role(scim_user))
        else:
            lifecycle.reactivate_member(membership, actor=actor, role=target_role(scim_user))
    sync_access([scim_user], actor)


def update_user(token: ScimToken, scim_user: ScimUser, fields: dict[str, Any]) -> ScimUser:
    """PUT or PATCH /Users/<id> (RFC 7644 §3.5): store the new attributes; an email renamed at the IdP renames the
    same account (never a second member); ``active`` false suspends the membership (sessions, keys and invitations
    end: ``orgsecurity.lifecycle.suspend_member``, in its own transaction, before the attributes are saved, so a
    refused suspension changes nothing and its refusal record survives), true reactivates it with the role its
    groups give. Raises ``ScimError`` (400/409) or ``ActionRefused`` (409: last owner, recovery account, owner)."""
    organization = token.organization
    _check_user_name(organization, fields["user_name"], exclude=scim_user)
    email = normalize_email(fields["email"])
    if scim_user.user_id is not None and _is_email(email) and email != scim_user.user.email:
        _check_email(organization, email)
        refuse_account_rename(organization, scim_user.user, email)
        if User.objects.filter(email=email).exclude(pk=scim_user.user_id).exists():
            raise ScimError(409, f"Another account already uses {email}.", "uniqueness")
    membership = _membership(organization, scim_user.user) if scim_user.user_id else None
    if scim_user.active and not fields["active"] and _is_active(membership):
        lifecycle.suspend_member(
            membership, actor=actor_for(token), reason="deactivated at the IdP (SCIM active: false)"
        )
    return _save_user(token, scim_user, fields)


@audited(lambda token, scim_user, fields: token.organization)
def _save_user(token: ScimToken, scim_user: ScimUser, fields: dict[str, Any]) -> ScimUser:
    organization = token.organization
    actor = actor_for(token)
    scim_user = (
        ScimUser.objects.select_for_update(of=("self",)).select_related("user", "organization").get(pk=scim_user.pk)
    )
    email = normalize_email(fields["email"])
    changed = sorted(name for name, value in fields.items() if getattr(scim_user, name) != value and name != "data") + (
        ["attributes"] if fields["data"] != scim_user.data else []
    )
    if scim_user.user_id is None and _is_email(email):
        # The IdP sent an email at last: the SCIM user gets (or matches) its account now.
        scim_user.user = _account_for(organization, email, name=fields["display_name"], linked=scim_user)
    elif scim_user.user_id is not None and _is_email(email) and email != scim_user.user.email:
        refuse_account_rename(organization, scim_user.user, email)  # again under the lock: roles may have changed
        scim_user.user.email = email
        try:
            with transaction.atomic():
                scim_user.user.save(update_fields=["email"])
        except IntegrityError:
            raise ScimError(409, f"Another account already uses {email}.", "uniqueness") from None
    for name, value in fields.items():
        setattr(scim_user, name, value)
    scim_user.version += 1
    scim_user.updated_at = timezone.now()
    try:
        with transaction.atomic():
            scim_user.save()
    except IntegrityError:
        raise ScimError(409, f"The userName {fields['user_name']!r} is already in use.", "uniqueness") from None
    if changed:
        audit.record(
            "scim.user_updated",
            organization=organization,
            actor=actor,
            target=_target(scim_user),
            details={"fields": ", ".join(changed)},
        )
    _grant_access(scim_user, actor)
    return scim_user


def delete_user(token: ScimToken, scim_user: ScimUser) -> None:
    """DELETE /Users/<id> (RFC 7644 §3.6): deprovision and remove the membership
    (``orgsecurity.lifecycle.deprovision_and_remove``, its own transaction), then forget the SCIM user. The account
    stays (it may belong to other organizations). Raises ``ActionRefused`` (409) for the guardrails."""
    membership = _membership(token.organization, scim_user.user) if scim_user.user_id else None
    if membership is not None:
        lifecycle.deprovision_and_remove(membership, actor=actor_for(token))
    _forget_user(token, scim_user)


@audited(lambda token, scim_user: token.organization)
def _forget_user(token: ScimToken, scim_user: ScimUser) -> None:
    audit.record(
        "scim.user_deleted", organization=token.organization, actor=actor_for(token), target=_target(scim_user)
    )
    scim_user.delete()


def _target(scim_user: ScimUser) -> audit.Target:
    return audit.Target("scim.scimuser", str(scim_user.scim_id), scim_user.user_name)


# --- groups --------------------------------------------------------------------------------------------------


def _check_group_name(organization: Organization, name: str, exclude: ScimGroup | None = None) -> None:
    if not name:
        raise ScimError(400, "displayName is required.", "invalidValue")
    taken = ScimGroup.objects.alias(lower=Lower("display_name")).filter(organization=organization, lower=name.lower())
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise ScimError(409, f"A group named {name!r} already exists in this organization.", "uniqueness")


def members_by_id(organization: Organization, ids: Iterable[str]) -> list[ScimUser]:
    """The SCIM users of ``organization`` with these SCIM ids; raises ``ScimError`` 400 (``invalidValue``) naming
    an id that is not one of this organization's users (another organization's id is unknown here)."""
    wanted = {str(value) for value in ids}
    found = {str(u.scim_id): u for u in ScimUser.objects.filter(organization=organization, scim_id__in=_uuids(wanted))}
    missing = sorted(wanted - set(found))
    if missing:
        raise ScimError(400, f"No user with id {missing[0]!r} in this organization.", "invalidValue")
    return list(found.values())


def _uuids(values: Iterable[str]) -> list[str]:
    valid = []
    for value in values:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid


@audited(lambda token, **kwargs: token.organization)
def save_group(
    token: ScimToken, *, group: ScimGroup | None, display_name: str, external_id: str, member_ids: list[str]
) -> ScimGroup:
    """POST (``group`` None), PUT or PATCH /Groups: the group with exactly ``member_ids`` as members; the roles and
    teams of everyone who joined or left follow (``sync_access``). Raises ``ScimError`` (400/409) or
    ``ActionRefused`` (409)."""
    organization = token.organization
    actor = actor_for(token)
    _check_group_name(organization, display_name, exclude=group)
    members = members_by_id(organization, member_ids)
    now = timezone.now()
    if group is None:
        group = ScimGroup.objects.create(
            organization=organization,
            display_name=display_name,
            external_id=external_id,
            created_at=now,
            updated_at=now,
        )
        before: set[int] = set()
        action = "scim.group_created"
    else:
        group = ScimGroup.objects.select_for_update(of=("self",)).get(pk=group.pk)
        before = set(group.members.values_list("pk", flat=True))
        group.display_name, group.external_id = display_name, external_id
        group.version += 1
        group.updated_at = now
        group.save()
        action = "scim.group_updated"
    after = {member.pk for member in members}
    group.members.set(members)
    audit.record(
        action,
        organization=organization,
        actor=actor,
        target=audit.Target("scim.scimgroup", str(group.scim_id), display_name),
        details={"added": len(after - before), "removed": len(before - after), "members": len(after)},
    )
    touched = ScimUser.objects.filter(pk__in=(after ^ before)).select_related("user")
    sync_access(list(touched), actor)
    return group


@audited(lambda token, group: token.organization)
def delete_group(token: ScimToken, group: ScimGroup) -> None:
    """DELETE /Groups/<id>: the group goes; its former members' roles and teams follow."""
    actor = actor_for(token)
    members = list(group.members.select_related("user"))
    audit.record(
        "scim.group_deleted",
        organization=token.organization,
        actor=actor,
        target=audit.Target("scim.scimgroup", str(group.scim_id), group.display_name),
    )
    group.delete()
    sync_access(members, actor)


# --- roles and teams from groups -----------------------------------------------------------------------------


def mappings_for(organization: Organization) -> list[GroupMapping]:
    """The organization's group mappings with their teams."""
    return list(GroupMapping.objects.filter(organization=organization).prefetch_related("teams"))


def _matching(mappings: list[GroupMapping], groups: Iterable[ScimGroup]) -> list[GroupMapping]:
    refs = set()
    for group in groups:
        refs.add(group.display_name.lower())
        refs.add(str(group.scim_id).lower())
    return [mapping for mapping in mappings if mapping.group_ref.lower() in refs]


def role_for(groups: Iterable[ScimGroup], mappings: list[GroupMapping], fallback: str) -> str:
    """The highest role (``ROLE_RANK``) that ``groups`` map to under ``mappings``; ``fallback`` when none maps."""
    roles = {mapping.role for mapping in _matching(mappings, groups) if mapping.role}
    return next((role for role in ROLE_RANK if role in roles), fallback)


def target_role(scim_user: ScimUser, mappings: list[GroupMapping] | None = None) -> str:
    """The role ``scim_user``'s groups give in its organization (``role_for`` with the default role)."""
    organization = scim_user.organization
    mappings = mappings_for(organization) if mappings is None else mappings
    return role_for(scim_user.groups.all(), mappings, default_role(organization))


def sync_access(scim_users: Iterable[ScimUser], actor: Any, mappings: list[GroupMapping] | None = None) -> None:
    """Bring each active member's role and mapped teams in line with their groups, through
    ``orgsecurity.actions.change_role`` (key hygiene, audit) and ``add_team_member``/``remove_team_member``.
    Owners are left as they are. Call inside the ``@audited`` action that changed the groups."""
    scim_users = list(scim_users)
    if not scim_users:
        return
    organization = scim_users[0].organization
    mappings = mappings_for(organization) if mappings is None else mappings
    managed_teams = {team.pk: team for mapping in mappings for team in mapping.teams.all()}
    fallback = default_role(organization)
    for scim_user in scim_users:
        membership = _membership(organization, scim_user.user) if scim_user.user_id else None
        if not _is_active(membership) or membership.role == Role.OWNER:
            continue
        groups = list(scim_user.groups.all())
        role = role_for(groups, mappings, fallback)
        # Until the owners map a group, roles stay as they are (linking an existing admin demotes nobody).
        if mappings and membership.role != role:
            try:
                membership = change_role(membership, actor=actor, role=role)
            except ActionRefused as refusal:
                # A guardrail keeps this member's role (a named recovery account, the SSO connection's admin
                # owner, ...): the refused change rolled back alone, the others' roles still follow their groups,
                # and the refusal is on record for the SSO settings page (lifecycle.recent_refusals).
                lifecycle.record_refusal(
                    membership, actor=actor, code=refusal.code, message=refusal.message, attempted="demote"
                )
        wanted = {team.pk for mapping in _matching(mappings, groups) for team in mapping.teams.all()}
        current = set(membership.teams.filter(pk__in=managed_teams).values_list("pk", flat=True))
        for team_pk in sorted(wanted - current):
            add_team_member(managed_teams[team_pk], membership, actor=actor)
        for team_pk in sorted(current - wanted):
            remove_team_member(managed_teams[team_pk], membership, actor=actor)


__all__ = [
    "ActionRefused",
    "actor_for",
    "create_user",
    "delete_group",
    "delete_user",
    "save_group",
    "sync_access",
    "update_user",
]
