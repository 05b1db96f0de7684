"""Action functions for organizations, members, invitations and billing.

Each validates, writes its models and records its audit event inside one ``transaction.atomic()``;
emails go out in ``transaction.on_commit``. Views call these and never save these models directly.
Refusals raise ActionRefused with a message meant for the person who tried.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

import audit
from audit.locking import audited, note_new_organization
from audit.models import ActorType
from audit.recorder import diff
from orgsecurity.actors import ProgramActor, is_program, is_provisioning
from orgsecurity.impact import Impact, ImpactGroup, ImpactItem
from orgsecurity.models import (
    Invitation,
    Membership,
    Organization,
    Project,
    Team,
    User,
    hash_token,
    normalize_email,
)
from orgsecurity.refusals import Refusal
from orgsecurity.roles import Capability, Role, has_capability, roles_assignable_by
from orgsecurity.text import end_sentence, plain_text_problem


class ActionRefused(Refusal):
    """An action was refused (a ``Refusal``, 400 unless ``status`` says otherwise); ``str(exc)`` says why and what
    to do instead. Nothing was changed."""

    def __init__(self, message: str, *, code: str = "refused", status: int = 400) -> None:
        super().__init__(code, message, status)


def require_plain_text(value: str | None, *, what: str, code: str = "unsafe_text") -> None:
    """Refuse (ActionRefused, 400, ``code``) a name, label or reason with a control character, a line break or a
    bidirectional formatting character (``orgsecurity.text.plain_text_problem``); ``what`` names the field for the
    person, e.g. "The key name". Form fields check the same with ``orgsecurity.text.validate_plain_text``; actions
    check again for callers that are not forms (the API, commands)."""
    problem = plain_text_problem(value)
    if problem:
        raise ActionRefused(f"{what} cannot be saved. {problem}", code=code)


def _reread(organization: Organization) -> Organization:
    """The organization as committed now. Call it inside ``@audited("organization")``, whose lock on the row keeps
    owner-count checks from racing (two owners demoting each other) and the row itself unchanged until commit."""
    return Organization.objects.get(pk=organization.pk)


def usable_owners(organization_id: int) -> QuerySet[Membership]:
    """The owners of the organization who can sign in: active (not suspended) memberships of active accounts. A
    deactivated account's or a suspended member's owner role does not count: nobody can use it."""
    return Membership.objects.active().filter(organization_id=organization_id, role=Role.OWNER, user__is_active=True)


def is_last_usable_owner(membership: Membership) -> bool:
    """Whether ``membership`` is an owner who can sign in and whose going (removal, demotion, suspension) would
    leave no owner who can sign in (``usable_owners``)."""
    if membership.role != Role.OWNER or not membership.user.is_active or membership.suspended_at is not None:
        return False
    return not usable_owners(membership.organization_id).exclude(pk=membership.pk).exists()


# Theme apps refuse membership changes that would break their own rules (e.g. SSO: removing its admin owner, or the
# last owner recovery account while SSO is enforced). Each is called inside the change's transaction, after the
# last-owner check, as guard(membership, new_role, actor) with new_role None for a removal; it raises ActionRefused.
MEMBERSHIP_CHANGE_GUARDS: list[Callable[[Membership, str | None, Any], None]] = []


def register_membership_guard(guard: Callable[[Membership, str | None, Any], None]) -> None:
    """Run ``guard(membership, new_role, actor)`` inside every role change and removal, before it is saved (new_role
    None for a removal); it refuses the change by raising ``ActionRefused``. Call it from ``AppConfig.ready()``;
    registering the same function twice adds it once."""
    if guard not in MEMBERSHIP_CHANGE_GUARDS:
        MEMBERSHIP_CHANGE_GUARDS.append(guard)


# Theme apps act on a membership change in its transaction (keys: the person's keys their new role may not hold, or
# all their personal keys on removal, are revoked). Each is called as effect(membership, new_role, actor) once the
# change is saved and recorded (for a removal, new_role None, before the membership row is deleted).
MEMBERSHIP_CHANGE_EFFECTS: list[Callable[[Membership, str | None, Any], None]] = []


def register_membership_effect(effect: Callable[[Membership, str | None, Any], None]) -> None:
    """Run ``effect(membership, new_role, actor)`` inside every role change and removal, after it is recorded
    (new_role None for a removal). Call it from ``AppConfig.ready()``; registering the same function twice adds it
    once."""
    if effect not in MEMBERSHIP_CHANGE_EFFECTS:
        MEMBERSHIP_CHANGE_EFFECTS.append(effect)


# Theme apps say what a membership change would do to their things (keys: the keys revoked or flagged; sessions: the
# sessions that lose the organization), for its confirmation page: preview(membership, new_role) -> ImpactGroups,
# read-only, computed from the functions their effects act with.
MEMBERSHIP_CHANGE_PREVIEWS: list[Callable[[Membership, str | None], Iterable[ImpactGroup]]] = []


def register_membership_preview(preview: Callable[[Membership, str | None], Iterable[ImpactGroup]]) -> None:
    """Add ``preview(membership, new_role)``'s groups to every membership change preview (``preview_remove_member``;
    new_role None for a removal). Call it from ``AppConfig.ready()`` beside ``register_membership_effect``;
    registering the same function twice adds it once."""
    if preview not in MEMBERSHIP_CHANGE_PREVIEWS:
        MEMBERSHIP_CHANGE_PREVIEWS.append(preview)


def _run_membership_guards(membership: Membership, new_role: str | None, actor: Any) -> None:
    for guard in MEMBERSHIP_CHANGE_GUARDS:
        guard(membership, new_role, actor)


def _run_membership_effects(membership: Membership, new_role: str | None, actor: Any) -> None:
    for effect in MEMBERSHIP_CHANGE_EFFECTS:
        effect(membership, new_role, actor)


def _lock_membership(membership: Membership) -> Membership:
    """Re-read ``membership`` locked FOR UPDATE; refuse (404) when someone removed it since it was loaded."""
    # includes suspended: actions lock suspended rows too (lifecycle)
    locked = Membership.objects.select_for_update(of=("self",)).select_related("user").filter(pk=membership.pk).first()
    if locked is None:
        raise ActionRefused(
            f"{membership.user.email} is no longer a member. Reload the members page.", code="not_member", status=404
        )
    return locked


def _actor_membership(organization: Organization, actor: User | ProgramActor) -> Membership:
    if is_program(actor):
        # Not saved: only its role and user are read.
        return Membership(organization=organization, user_id=actor.user_id, role=actor.role)
    membership = Membership.objects.active().filter(organization=organization, user=actor).first()
    if membership is None:
        raise ActionRefused("You are not a member of this organization.", code="not_member", status=403)
    return membership


def actor_role(organization: Organization, actor: Any) -> str:
    """The role ``actor`` acts with in ``organization``: a ``ProgramActor``'s ``role``, else the user's active
    membership's role. Raises ActionRefused (403 ``not_member``) for a user who is not an (active) member."""
    return _actor_membership(organization, actor).role


def refuse_program_touching_owner(
    membership: Membership, actor: Any, *, doing: str, new_role: str | None = None
) -> None:
    """Programs that never grant, demote, suspend or remove an owner, whatever their ``role``, checked on the
    locked ``membership`` (so an owner made meanwhile is protected too): raises ActionRefused when ``membership``
    is an owner or ``new_role`` is owner, saying ``doing``.

    - an identity provider's provisioning (a ``ProgramActor`` with ``provisioning``, e.g. a SCIM token): 409
      ``owner_protected``;
    - an admin API key (a ``ProgramActor`` of type ``api_key``), even an owner's personal one: 403
      ``owner_change_not_allowed`` (README "Admin API": no key ever grants, demotes or removes an owner).

    Nothing for people and other programs (their role decides, ``roles_assignable_by``)."""
    if membership.role != Role.OWNER and new_role != Role.OWNER:
        return
    if is_provisioning(actor):
        raise ActionRefused(
            f"{actor.label} cannot {doing} {membership.user.email}: owners are managed by owners in the dashboard, "
            "never by provisioning.",
            code="owner_protected",
            status=409,
        )
    if is_program(actor) and actor.type == ActorType.API_KEY:
        raise ActionRefused(
            f"{actor.label} cannot {doing} {membership.user.email}: no API key grants, demotes or removes an owner; "
            "an owner does that on the members page.",
            code="owner_change_not_allowed",
            status=403,
        )


# --- organizations -----------------------------------------------------------------------------------


@audited(None)
def create_organization(*, slug: str, name: str, owner: User, actor: Any) -> Organization:
    """Create an organization with ``owner`` as its first owner; raises ActionRefused if the slug is taken."""
    require_plain_text(name, what="The organization name")
    with transaction.atomic():
        if Organization.objects.filter(slug=slug).exists():
            raise ActionRefused(f"The organization slug {slug!r} is already taken.", code="slug_taken", status=409)
        organization = Organization(slug=slug, name=name)
        organization.full_clean()
        organization.save()
        note_new_organization(organization)
        membership = Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
        audit.record(
            "org.created",
            organization=organization,
            actor=actor,
            target=organization,
            changes={"slug": [None, slug], "name": [None, name], "owner": [None, owner.email]},
        )
        audit.record(
            "member.joined",
            organization=organization,
            actor=owner,
            target=membership,
            changes={"role": [None, "owner"]},
        )
    return organization


# --- invitations -------------------------------------------------------------------------------------


@audited("organization")
def invite_member(
    organization: Organization, *, actor: User | ProgramActor, email: str, role: str
) -> tuple[Invitation, str]:
    """Invite ``email`` with ``role``; returns the invitation and its one-time token (only in the email).

    Refuses: a role the actor may not grant, an existing member, an invitation already pending. An admin API key
    (``ProgramActor``) invites for the person behind it (its ``user_id``), who vouches for the invitation as
    the sender (``reconfirmation_reasons``); a service account's key has nobody behind it and is refused (403
    ``role_not_allowed``).
    """
    email = normalize_email(email)
    with transaction.atomic():
        # Locked (@audited) like role changes and removals, so the sender's role cannot drop between this check and the
        # commit (the demotion would then miss this invitation when it revokes the ones its sender may no longer send).
        organization = _reread(organization)
        actor_membership = _actor_membership(organization, actor)
        if isinstance(actor, ProgramActor) and actor.user_id is None:
            raise ActionRefused(
                "A service account's key cannot send invitations: an invitation stays valid only while the person "
                "who sent it may send it. Use an owner's or admin's own key.",
                code="role_not_allowed",
                status=403,
            )
        if role not in roles_assignable_by(actor_membership.role):
            raise ActionRefused(
                f"Your role cannot invite someone as {Role(role).label}.", code="role_not_allowed", status=403
            )
        # includes suspended: a suspended member is refused with its own message
        existing = Membership.objects.filter(organization=organization, user__email=email).first()
        if existing is not None and existing.suspended_at is not None:
            raise ActionRefused(
                f"{email} is a suspended member of {organization.name} (deprovisioned by your identity provider). "
                "Reactivate them at the identity provider instead of inviting them.",
                code="member_suspended",
                status=409,
            )
        if existing is not None:
            raise ActionRefused(
                f"{email} is already a member of {end_sentence(organization.name)}", code="already_member", status=409
            )
        now = timezone.now()
        # An expired invitation no longer blocks a new one.
        Invitation.objects.filter(
            organization=organization, email=email, accepted_at=None, revoked_at=None, expires_at__lte=now
        ).update(revoked_at=now)
        token = secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    organization=organization,
                    email=email,
                    role=role,
                    token_hash=hash_token(token),
                    invited_by_id=actor.pk,
                    expires_at=now + settings.INVITATION_TTL,
                )
        except IntegrityError:
            raise ActionRefused(
                f"{email} already has a pending invitation. Revoke it first to send a new one.",
                code="already_invited",
                status=409,
            ) from None
        audit.record(
            "member.invited",
            organization=organization,
            actor=actor,
            target=invitation,
            changes={"email": [None, email], "role": [None, role]},
        )
        inviter = actor if isinstance(actor, User) else User.objects.get(pk=actor.pk)  # the person who sends it
        transaction.on_commit(lambda: _send_invitation(invitation, token, inviter))
    return invitation, token


def invitation_url(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/invitations/{token}/"


def _send_invitation(invitation: Invitation, token: str, actor: User) -> None:
    context = {"invitation": invitation, "url": invitation_url(token), "inviter": actor}
    send_mail(
        subject=f"You are invited to {invitation.organization.name}",
        message=render_to_string("orgsecurity/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@audited("invitation")
def revoke_invitation(invitation: Invitation, *, actor: User | ProgramActor) -> None:
    """Revoke a pending invitation so its link stops working. Only someone who may grant its role may revoke it
    (admins cannot revoke an owner invitation, as they cannot remove an owner); raises ActionRefused."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at or invitation.revoked_at:
            raise ActionRefused("This invitation is no longer pending.", code="not_pending", status=409)
        if invitation.role not in roles_assignable_by(_actor_membership(invitation.organization, actor).role):
            raise ActionRefused(
                f"Only owners can revoke an invitation to be {invitation.get_role_display().lower()}.",
                code="role_not_allowed",
                status=403,
            )
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit.record("member.invitation_revoked", organization=invitation.organization, actor=actor, target=invitation)


def find_invitation(token: str) -> Invitation | None:
    """The pending, unexpired invitation for ``token``, or None (it may still need re-confirmation:
    ``reconfirmation_reasons``)."""
    invitation = (
        Invitation.objects.select_related("organization", "invited_by").filter(token_hash=hash_token(token)).first()
    )
    return invitation if invitation is not None and invitation.is_pending else None


def reconfirmation_reasons(invitations: list[Invitation]) -> dict[int, str]:
    """For each of ``invitations`` (of one organization) that its inviter could no longer send, why: keyed by
    invitation id, absent when the invitation is valid. An invitation is valid only while the person vouching for
    it (who sent it, or who re-confirmed it last) has an active account and is a member whose role may grant the
    invited role. This holds however that changed: the member actions revoke such invitations as they remove or
    demote someone, but an account deactivated or deleted, or a membership changed by any other way, must not
    leave a working link behind. One query for all of them."""
    inviter_ids = {invitation.invited_by_id for invitation in invitations if invitation.invited_by_id}
    roles = dict(
        Membership.objects.active()
        .filter(organization__in={invitation.organization_id for invitation in invitations}, user_id__in=inviter_ids)
        .values_list("user_id", "role")
    )
    reasons = {}
    for invitation in invitations:
        inviter, role = invitation.invited_by, roles.get(invitation.invited_by_id)
        if inviter is None:
            reasons[invitation.pk] = "the account that sent it was deleted"
        elif not inviter.is_active:
            reasons[invitation.pk] = f"{inviter.email}, who sent it, is deactivated"
        elif role is None:
            reasons[invitation.pk] = f"{inviter.email}, who sent it, is no longer a member"
        elif invitation.role not in roles_assignable_by(role):
            reasons[invitation.pk] = (
                f"{inviter.email}, who sent it, may no longer invite as {invitation.get_role_display()}"
            )
    return reasons


@audited("invitation")
def reconfirm_invitation(invitation: Invitation, *, actor: User) -> Invitation:
    """Vouch again for a pending invitation whose inviter could no longer send it (``reconfirmation_reasons``):
    ``actor`` becomes its inviter, so its link works again, and it stays valid only while ``actor`` could send it.
    Only someone who may grant its role may do this. Raises ActionRefused: no longer pending (409), a role the
    actor may not grant (403), an invitation that needs no re-confirmation (409)."""
    with transaction.atomic():
        # Locked (@audited) like inviting, role changes and removals: the actor's role cannot drop between this
        # check and the commit.
        organization = _reread(invitation.organization)
        invitation = (
            Invitation.objects.select_for_update(of=("self",)).select_related("invited_by").get(pk=invitation.pk)
        )
        if not invitation.is_pending:
            raise ActionRefused("This invitation is no longer pending.", code="not_pending", status=409)
        if invitation.role not in roles_assignable_by(_actor_membership(organization, actor).role):
            raise ActionRefused(
                f"Only owners can re-confirm an invitation to be {invitation.get_role_display().lower()}.",
                code="role_not_allowed",
                status=403,
            )
        reason = reconfirmation_reasons([invitation]).get(invitation.pk)
        if reason is None:
            raise ActionRefused(
                f"The invitation for {invitation.email} is valid: there is nothing to re-confirm.",
                code="already_valid",
                status=409,
            )
        previous = invitation.invited_by.email if invitation.invited_by else None
        invitation.invited_by = actor
        invitation.save(update_fields=["invited_by"])
        audit.record(
            "member.invitation_reconfirmed",
            organization=organization,
            actor=actor,
            target=invitation,
            changes={"invited_by": [previous, actor.email]},
            details={"role": invitation.role, "reason": reason},
        )
    return invitation


# What the invitee is told (not why: that is the organization's business, shown on its members page).
NEEDS_RECONFIRMATION = (
    "This invitation has to be confirmed again by an owner or admin of {organization} before it can be used. Ask "
    "them to re-confirm it on the members page; this link then works as it is."
)


@audited("invitation")
def accept_invitation(invitation: Invitation, *, user: User) -> Membership:
    """Make ``user`` a member with the invited role; the invitation's email must be the user's, and its inviter
    must still be able to send it (or it was re-confirmed: ``reconfirmation_reasons``), else ActionRefused."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("organization", "invited_by")
            .get(pk=invitation.pk)
        )
        if not invitation.is_pending:
            raise ActionRefused("This invitation has expired or was already used.", code="not_pending", status=410)
        if reconfirmation_reasons([invitation]):
            raise ActionRefused(
                NEEDS_RECONFIRMATION.format(organization=invitation.organization.name),
                code="needs_reconfirmation",
                status=403,
            )
        if normalize_email(user.email) != invitation.email:
            raise ActionRefused(
                f"This invitation was sent to {invitation.email}; you are signed in as {user.email}.",
                code="wrong_user",
                status=403,
            )
        # includes suspended: the row exists either way
        if Membership.objects.filter(organization=invitation.organization, user=user).exists():
            raise ActionRefused("You are already a member of this organization.", code="already_member", status=409)
        membership = Membership.objects.create(organization=invitation.organization, user=user, role=invitation.role)
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        audit.record(
            "member.joined",
            organization=invitation.organization,
            actor=user,
            target=membership,
            changes={"role": [None, invitation.role]},
            details={"invitation": invitation.pk},
        )
    return membership


# --- members -----------------------------------------------------------------------------------------


@audited("organization")
def add_member(organization: Organization, *, actor: Any, user: User, role: str, via: str) -> Membership:
    """Add ``user`` directly with ``role`` (no invitation): demo seeding, just-in-time provisioning.

    ``via`` says how (e.g. "seed_demo", "saml jit") and is kept in the audit event.
    """
    if role not in Role.values:
        raise ActionRefused(f"{role!r} is not a role.", code="bad_role")
    with transaction.atomic():
        # includes suspended: the row exists either way
        if Membership.objects.filter(organization=organization, user=user).exists():
            raise ActionRefused(f"{user.email} is already a member.", code="already_member", status=409)
        membership = Membership.objects.create(organization=organization, user=user, role=role)
        audit.record(
            "member.added",
            organization=organization,
            actor=actor,
            target=membership,
            changes={"role": [None, role]},
            details={"via": via},
        )
        # A pending invitation to this person would otherwise stay usable: after leaving or being removed they
        # could come back with its role (e.g. invited as admin, provisioned by SSO as member).
        _revoke_pending_invitations(
            Invitation.objects.filter(organization=organization, email=normalize_email(user.email)),
            organization=organization,
            actor=actor,
            why="its invitee became a member another way",
        )
    return membership


@audited("membership")
def change_role(membership: Membership, *, actor: Any, role: str) -> Membership:
    """Give ``membership`` a new role. Only owners grant or take away the owner role; the last owner
    cannot be demoted; a membership removed meanwhile is refused (404). ``actor``: a user (an active member) or
    an ``orgsecurity.actors.ProgramActor``, judged by its ``role`` (provisioning never touching an owner: 409
    ``owner_protected``)."""
    if role not in Role.values:
        raise ActionRefused(f"{role!r} is not a role.", code="bad_role")
    with transaction.atomic():
        organization = _reread(membership.organization)
        membership = _lock_membership(membership)
        acting_role = actor_role(organization, actor)
        old = membership.role
        if old == role:
            return membership
        refuse_program_touching_owner(membership, actor, doing="change the role of", new_role=role)
        allowed = roles_assignable_by(acting_role)
        if role not in allowed or old not in allowed:
            raise ActionRefused(
                "Only owners can give or take away the owner role.", code="role_not_allowed", status=403
            )
        if old == Role.OWNER and is_last_usable_owner(membership):
            raise ActionRefused(
                f"{membership.user.email} is the last owner. Make someone else an owner first.",
                code="last_owner",
                status=409,
            )
        _run_membership_guards(membership, role, actor)
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(
            "member.role_changed",
            organization=organization,
            actor=actor,
            target=membership,
            changes={"role": [old, role]},
        )
        # What the new role may not keep (e.g. its API keys) goes with the old role, in this transaction.
        _run_membership_effects(membership, role, actor)
        # An invitation grants its role only while its sender could still grant it (an owner demoted to admin
        # can no longer make owners; a member cannot invite at all).
        still_grants = roles_assignable_by(role)
        why = "its sender may no longer grant its role" if still_grants else "its sender may no longer invite"
        _revoke_invitations_sent_by(membership, actor=actor, why=why, keep=still_grants)
    return membership


@audited("membership")
def remove_member(membership: Membership, *, actor: Any) -> None:
    """Remove a member (or let a member leave). Admins cannot remove owners; the last owner cannot go; a
    membership removed meanwhile is refused (404). ``actor``: a user (an active member) or an
    ``orgsecurity.actors.ProgramActor``, judged by its ``role`` (provisioning never removing an owner: 409
    ``owner_protected``)."""
    with transaction.atomic():
        organization = _reread(membership.organization)
        membership = _lock_membership(membership)
        leaving = membership.user_id == actor.pk
        acting_role = actor_role(organization, actor)
        refuse_program_touching_owner(membership, actor, doing="remove")
        if not leaving and membership.role not in roles_assignable_by(acting_role):
            raise ActionRefused("Only owners can remove an owner.", code="role_not_allowed", status=403)
        if is_last_usable_owner(membership):
            raise ActionRefused(
                f"{membership.user.email} is the last owner and cannot be removed. Make someone else an owner first.",
                code="last_owner",
                status=409,
            )
        _run_membership_guards(membership, None, actor)
        audit.record(
            "member.removed",
            organization=organization,
            actor=actor,
            target=membership,
            changes={"role": [membership.role, None]},
            details={"left": leaving},
        )
        # Nothing of theirs keeps working (e.g. API keys): it goes in the same commit as their membership.
        _run_membership_effects(membership, None, actor)
        _revoke_invitations_sent_by(membership, actor=actor, why="its sender is no longer a member")
        membership.delete()


@audited("team")
def add_team_member(team: Team, membership: Membership, *, actor: Any) -> bool:
    """Put ``membership`` on ``team`` (both of one organization); returns False when it already was. ``actor``: an
    owner or admin, or an ``orgsecurity.actors.ProgramActor`` acting as one. Raises ActionRefused: another
    organization's member (400), an actor who cannot manage members (403), the membership gone (404)."""
    return _change_team(team, membership, actor=actor, add=True)


@audited("team")
def remove_team_member(team: Team, membership: Membership, *, actor: Any) -> bool:
    """Take ``membership`` off ``team``; returns False when it was not on it. Same rules as ``add_team_member``."""
    return _change_team(team, membership, actor=actor, add=False)


def _change_team(team: Team, membership: Membership, *, actor: Any, add: bool) -> bool:
    with transaction.atomic():
        organization = _reread(team.organization)
        membership = _lock_membership(membership)
        if membership.organization_id != team.organization_id:
            raise ActionRefused("Choose a member of this organization.", code="bad_member")
        if not has_capability(actor_role(organization, actor), Capability.MANAGE_MEMBERS):
            raise ActionRefused("Only owners and admins can change teams.", code="role_not_allowed", status=403)
        on_team = team.members.filter(pk=membership.pk).exists()
        if on_team == add:
            return False
        (team.members.add if add else team.members.remove)(membership)
        audit.record(
            "team.member_added" if add else "team.member_removed",
            organization=organization,
            actor=actor,
            target=membership,
            details={"team": team.name, "team_id": team.pk},
        )
    return True


def preview_change_role(organization: Organization, membership: Membership, role: str) -> Impact:
    """What giving ``membership`` the ``role`` (a ``Role`` value) would do (read-only; ``change_role`` does it):
    ``person`` ("Admin → Member"), then the groups every registered membership preview adds for a role change (the
    personal keys the new role may not hold, revoked; service-account keys whose secret they saw, flagged; a SCIM
    warning). ``change`` is "member.role"; ``notes`` says when ``change_role`` will refuse it as the last owner's
    demotion. ``needs_confirmation(impact)`` tells whether anything beyond the person is affected. Raises
    ActionRefused (404 ``member_not_found``) for another organization's membership, (400 ``bad_role``) for a role
    that is not one."""
    if membership.organization_id != organization.pk:
        raise ActionRefused("No such member in this organization.", code="member_not_found", status=404)
    if role not in Role.values:
        raise ActionRefused(f"{role!r} is not a role.", code="bad_role")
    person = ImpactItem(
        ref=str(membership.user_id),
        name=membership.user.email,
        detail=f"{membership.get_role_display()} → {Role(role).label}",
    )
    groups = [ImpactGroup("person", "The member", "Their role changes in one step.", (person,))]
    for preview in MEMBERSHIP_CHANGE_PREVIEWS:
        groups.extend(preview(membership, role))
    notes: tuple[str, ...] = ()
    if membership.role == Role.OWNER and role != Role.OWNER and is_last_usable_owner(membership):
        notes = (f"This will be refused: {membership.user.email} is the last owner. Make someone else an owner first.",)
    return Impact(change="member.role", groups=tuple(groups), notes=notes)


def needs_confirmation(impact: Impact) -> bool:
    """Whether a membership change's preview affects more than the person (keys, sessions, a warning), so the page
    asks before doing it."""
    return any(group.count for group in impact.groups if group.key != "person") or bool(impact.notes)


def preview_remove_member(organization: Organization, membership: Membership) -> Impact:
    """What removing ``membership`` from ``organization`` would do (read-only; ``remove_member`` does it): ``person``
    (who loses the organization), ``teams`` they leave, ``invitations`` they sent that are revoked (``_pending``),
    then the groups every registered membership preview adds (keys revoked and flagged, sessions that lose the
    organization). ``change`` is "member.remove"; when ``membership`` is the last usable owner, ``notes`` says the
    removal will be refused (``remove_member``'s own check); the role refusal is not previewed. Raises ActionRefused
    (404 ``member_not_found``) for another organization's membership."""
    if membership.organization_id != organization.pk:
        raise ActionRefused("No such member in this organization.", code="member_not_found", status=404)
    organization = membership.organization
    person = ImpactItem(
        ref=str(membership.user_id),
        name=membership.user.email,
        detail=f"{membership.get_role_display()}: loses access to {end_sentence(organization.name)}",
    )
    teams = tuple(
        ImpactItem(ref=str(team.pk), name=team.name, detail="leaves the team")
        for team in membership.teams.order_by("name", "pk")
    )
    invitations = tuple(
        ImpactItem(ref=str(invitation.pk), name=invitation.email, detail=f"{invitation.get_role_display()}: revoked")
        for invitation in _pending(_invitations_sent_by(membership)).order_by("email", "pk")
    )
    groups = [
        ImpactGroup("person", "The member", "Removed from the organization in one step.", (person,)),
        ImpactGroup("teams", "Teams they leave", "Their place on each team goes with the membership.", teams),
        ImpactGroup(
            "invitations",
            "Invitations they sent, revoked",
            "An invitation does not outlive its sender's membership.",
            invitations,
        ),
    ]
    for preview in MEMBERSHIP_CHANGE_PREVIEWS:
        groups.extend(preview(membership, None))
    notes: tuple[str, ...] = ()
    if is_last_usable_owner(membership):
        notes = (
            f"This will be refused: {membership.user.email} is the last owner and cannot be removed. "
            "Make someone else an owner first.",
        )
    return Impact(change="member.remove", groups=tuple(groups), notes=notes)


def _invitations_sent_by(membership: Membership, keep: list[Role] | tuple[Role, ...] = ()) -> QuerySet[Invitation]:
    """The invitations ``membership``'s user sent in its organization, except those whose role is in ``keep``."""
    return Invitation.objects.filter(organization=membership.organization, invited_by=membership.user).exclude(
        role__in=[role.value for role in keep]
    )


def _pending(invitations: QuerySet[Invitation]) -> QuerySet[Invitation]:
    """The ones of ``invitations`` neither accepted nor revoked."""
    return invitations.filter(accepted_at=None, revoked_at=None)


def _revoke_invitations_sent_by(
    membership: Membership, *, actor: Any, why: str, keep: list[Role] | tuple[Role, ...] = ()
) -> None:
    """Revoke the pending invitations ``membership``'s user sent in its organization (inside the caller's
    transaction), except those whose role is in ``keep``: an invitation should not outlive its sender's right
    to invite with its role."""
    sent = _invitations_sent_by(membership, keep)
    _revoke_pending_invitations(sent, organization=membership.organization, actor=actor, why=why)


def _revoke_pending_invitations(
    invitations: QuerySet[Invitation], *, organization: Organization, actor: Any, why: str
) -> None:
    """Revoke (and audit, with ``why`` as the reason) the pending ones of ``invitations``, inside the caller's
    transaction."""
    now = timezone.now()
    for invitation in _pending(invitations.select_for_update()):
        invitation.revoked_at = now
        invitation.save(update_fields=["revoked_at"])
        audit.record(
            "member.invitation_revoked",
            organization=organization,
            actor=actor,
            target=invitation,
            details={"reason": why},
        )


# --- projects ----------------------------------------------------------------------------------------


@audited("project")
def rename_project(project: Project, *, actor: Any, name: str) -> Project:
    """Give ``project`` a new name (1 to 100 characters). ``actor``: a user or ``Actor.api_key(key)``;
    the caller has decided the actor may do this."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise ActionRefused("A project name has 1 to 100 characters.", code="bad_name")
    # Control characters, bidi overrides and lone UTF-16 surrogates (possible in JSON) are not a name.
    require_plain_text(name, what="The project name", code="bad_name")
    with transaction.atomic():
        project = (
            Project.objects.select_for_update(of=("self",)).select_related("organization", "team").get(pk=project.pk)
        )
        old = project.name
        if old != name:
            project.name = name
            project.save(update_fields=["name"])
            audit.record(
                "project.renamed",
                organization=project.organization,
                actor=actor,
                target=project,
                changes={"name": [old, name]},
            )
    return project


# --- billing -----------------------------------------------------------------------------------------

BILLING_FIELDS = ("billing_email", "plan_name", "tax_id")


@audited("organization")
def update_billing(organization: Organization, *, actor: User, **values: Any) -> dict[str, list[Any]]:
    """Change billing settings (billing_email, plan_name, tax_id); returns the changes, {} when none."""
    unknown = set(values) - set(BILLING_FIELDS)
    if unknown:
        raise ActionRefused(f"Unknown billing fields: {', '.join(sorted(unknown))}.", code="bad_field")
    if isinstance(values.get("tax_id"), str):
        require_plain_text(values["tax_id"], what="The tax ID")
    with transaction.atomic():
        organization = _reread(organization)
        before = {name: getattr(organization, name) for name in BILLING_FIELDS}
        for name, value in values.items():
            setattr(organization, name, value)
        organization.full_clean()
        changes = diff(before, {name: getattr(organization, name) for name in BILLING_FIELDS})
        if not changes:
            return {}
        organization.save(update_fields=list(changes))
        audit.record("billing.updated", organization=organization, actor=actor, target=organization, changes=changes)
    return changes
