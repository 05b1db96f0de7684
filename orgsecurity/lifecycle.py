"""The membership lifecycle driven by an identity provider (SCIM 2.0 provisioning, RFC 7644 §3): provision,
suspend (deprovision), reactivate, and deprovision-and-remove.

A suspended membership (``Membership.suspended_at`` set) keeps its role and teams but counts as no membership
anywhere (``Membership.objects.active()``): its person gets 404 on the organization's pages, their keys are
refused, and they are no owner who can sign in. Suspending ends what the person could still use in this
organization, in the same transaction:

- every dashboard session of theirs is barred from this organization (it ends at its next request here, and
  keeps working in their other organizations), through the effects theme apps register here
  (``register_deprovision_effect``: sessions_policy, keys);
- their personal API keys of this organization are revoked with reason ``scim_deprovisioned`` (one ``key.revoked``
  event per key, written in one bulk insert: ``audit.recorder.record_many``);
- pending invitations of their email to this organization are revoked.

The number of queries does not grow with the number of sessions, keys or invitations.

Guardrails (``ActionRefused``, 409): the last owner who can sign in (``last_owner``), a named recovery
(break-glass) account (``recovery_account``, registered by sso with ``register_deprovision_guard``), an owner when
the actor is provisioning (``owner_protected``), and the membership guards of theme apps
(``orgsecurity.actions.register_membership_guard``, as for a removal). A refusal is recorded as
``member.deprovision_refused`` in a transaction of its own after the refused one rolled back, so it survives;
``recent_refusals`` lists them for the SSO settings page. Call these functions outside any open transaction so
that record is committed on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

import audit
from audit.locking import audited
from audit.models import AuditEvent
from audit.recorder import record_many, record_throttled
from orgsecurity.actions import (
    MEMBERSHIP_CHANGE_PREVIEWS,
    ActionRefused,
    _lock_membership,
    _reread,
    _run_membership_effects,
    _run_membership_guards,
    actor_role,
    add_member,
    change_role,
    is_last_usable_owner,
    refuse_program_touching_owner,
    remove_member,
)
from orgsecurity.actors import is_program, is_provisioning
from orgsecurity.impact import Impact, ImpactGroup, ImpactItem
from orgsecurity.models import Invitation, Membership, Organization, User, normalize_email
from orgsecurity.roles import Role, roles_assignable_by

# The revocation reason of what a deprovisioning ends (personal API keys, sessions).
DEPROVISIONED_REASON = "scim_deprovisioned"
REFUSED_ACTION = "member.deprovision_refused"


@dataclass(frozen=True)
class DeprovisionResult:
    """What a deprovisioning ended: ``sessions_ended`` (dashboard sessions barred from the organization),
    ``key_prefixes`` (personal API keys revoked), ``service_keys_flagged`` (prefixes of service-account keys whose
    secret the person saw, flagged for rotation), ``invitations_revoked`` (ids of pending invitations of their
    email), ``suspended_at`` (UTC; None when removed), ``removed`` (the DELETE case), ``already_suspended`` (nothing
    was left to end: the call changed nothing)."""

    membership_id: int
    email: str
    sessions_ended: int = 0
    key_prefixes: tuple[str, ...] = ()
    service_keys_flagged: tuple[str, ...] = ()
    invitations_revoked: tuple[int, ...] = ()
    suspended_at: Any = None
    removed: bool = False
    already_suspended: bool = False

    def as_details(self) -> dict[str, Any]:
        """The audit details of the deprovisioning."""
        return {
            "sessions_ended": self.sessions_ended,
            "keys_revoked": list(self.key_prefixes),
            "service_keys_flagged": list(self.service_keys_flagged),
            "invitations_revoked": len(self.invitations_revoked),
        }


# --- registries (filled in AppConfig.ready()) -------------------------------------------------------------------

DeprovisionEffect = Callable[[Membership, Any, str], Mapping[str, Any]]
DeprovisionGuard = Callable[[Membership, Any], None]
DEPROVISION_EFFECTS: list[DeprovisionEffect] = []
DEPROVISION_GUARDS: list[DeprovisionGuard] = []


def register_deprovision_effect(effect: DeprovisionEffect) -> None:
    """Run ``effect(membership, actor, reason)`` inside every deprovisioning (suspension or DELETE), after the
    guardrails and before the membership is saved suspended; it ends what it owns (sessions, keys) in bulk, with
    a constant number of queries, and returns the ``DeprovisionResult`` fields it fills, e.g.
    ``{"sessions_ended": 3}`` or ``{"key_prefixes": ("osk_ab12",)}`` (counts add up, tuples concatenate). Call it
    from ``AppConfig.ready()``; registering the same function twice adds it once."""
    if effect not in DEPROVISION_EFFECTS:
        DEPROVISION_EFFECTS.append(effect)


def register_deprovision_guard(guard: DeprovisionGuard) -> None:
    """Run ``guard(membership, actor)`` before every deprovisioning; it refuses by raising ``ActionRefused`` (409,
    with a code of its own, e.g. sso's ``recovery_account``). Call it from ``AppConfig.ready()``; registering the
    same function twice adds it once."""
    if guard not in DEPROVISION_GUARDS:
        DEPROVISION_GUARDS.append(guard)


# --- provisioning ------------------------------------------------------------------------------------------------


def provision_member(organization: Organization, user: User, *, actor: Any, role: str = Role.MEMBER) -> Membership:
    """Make ``user`` a member of ``organization`` with ``role`` (``orgsecurity.actions.add_member``, audited
    ``member.added`` with ``via="scim"``, which also revokes a pending invitation of theirs), or return their
    existing active membership unchanged. ``actor``: a user or an ``orgsecurity.actors.ProgramActor``.

    Raises ActionRefused: a role that is not one (400 ``bad_role``), a role the actor may not grant (403
    ``role_not_allowed``; provisioning granting owner: 409 ``owner_protected``), a suspended membership (409
    ``member_suspended``: ``reactivate_member`` it instead)."""
    if role not in Role.values:
        raise ActionRefused(f"{role!r} is not a role.", code="bad_role")
    # includes suspended: a suspended one is refused
    existing = Membership.objects.filter(organization=organization, user=user).first()
    if existing is not None:
        if existing.suspended_at is not None:
            raise ActionRefused(
                f"{user.email} is a suspended member of this organization: reactivate them instead.",
                code="member_suspended",
                status=409,
            )
        return existing
    _require_may_grant(organization, user, actor, role)
    try:
        return add_member(organization, actor=actor, user=user, role=role, via="scim")
    except ActionRefused as refusal:
        if refusal.code != "already_member":
            raise
        # Provisioned by a concurrent request meanwhile: the same answer as above.
        return provision_member(organization, user, actor=actor, role=role)


def _judged_by_role(actor: Any) -> bool:
    """People (their membership's role) and programs (``ProgramActor.role``: SCIM tokens, admin API keys) are judged
    by a role; the system (None, or an ``audit.recorder.Actor`` an operator's command passes) is not."""
    return isinstance(actor, User) or is_program(actor)


def _require_may_grant(organization: Organization, user: User, actor: Any, role: str) -> None:
    if role == Role.OWNER and is_provisioning(actor):
        raise ActionRefused(
            f"{getattr(actor, 'label', actor)} cannot make {user.email} an owner: owners are managed by owners in the "
            "dashboard, never by provisioning.",
            code="owner_protected",
            status=409,
        )
    if _judged_by_role(actor) and role not in roles_assignable_by(actor_role(organization, actor)):
        raise ActionRefused(f"Your role cannot add someone as {Role(role).label}.", code="role_not_allowed", status=403)


# --- deprovisioning ----------------------------------------------------------------------------------------------


def suspend_member(membership: Membership, *, actor: Any, reason: str) -> DeprovisionResult:
    """Suspend ``membership`` (``active: false`` from the IdP) and end everything of theirs in its organization (see
    the module docstring), in one transaction; audited ``member.suspended`` with ``actor`` and ``reason`` (free
    text, e.g. "SCIM PATCH active=false"). Suspending a suspended member again changes nothing
    (``already_suspended``). Other organizations' memberships of the person are untouched.

    Raises ActionRefused (409 ``last_owner``, ``recovery_account``, ``owner_protected`` or a theme app's guard
    code; 404 ``not_member`` when the membership is gone; 403 for a user actor without the right), recording the
    guardrail refusals as ``member.deprovision_refused`` in a transaction of their own."""
    try:
        return _suspend(membership, actor=actor, reason=reason)
    except ActionRefused as refusal:
        _record_refusal(membership, actor=actor, refusal=refusal, attempted="suspend")
        raise


def deprovision_and_remove(membership: Membership, *, actor: Any) -> DeprovisionResult:
    """The SCIM DELETE: end everything of the person in the organization (as ``suspend_member``, audited
    ``member.deprovisioned``), then remove the membership through ``orgsecurity.actions.remove_member`` (its
    checks, effects and ``member.removed`` event), in one transaction. A suspended membership can be removed too.
    Same guardrails and refusal record as ``suspend_member``."""
    try:
        return _deprovision_and_remove(membership, actor=actor)
    except ActionRefused as refusal:
        _record_refusal(membership, actor=actor, refusal=refusal, attempted="remove")
        raise


@audited("membership")
def _suspend(membership: Membership, *, actor: Any, reason: str) -> DeprovisionResult:
    with transaction.atomic():
        _reread(membership.organization)
        membership = _lock_membership(membership)
        if membership.suspended_at is not None:
            return DeprovisionResult(
                membership.pk, membership.user.email, suspended_at=membership.suspended_at, already_suspended=True
            )
        _check_guardrails(membership, actor)
        now = timezone.now()
        result = _end_access(membership, actor=actor, now=now)
        membership.suspended_at = now
        membership.save(update_fields=["suspended_at"])
        result = _replace(result, suspended_at=now)
        audit.record(
            "member.suspended",
            organization=membership.organization,
            actor=actor,
            target=membership,
            changes={"suspended_at": [None, now.isoformat()]},
            details={"reason": reason, "role": membership.role, **result.as_details()},
        )
    return result


@audited("membership")
def _deprovision_and_remove(membership: Membership, *, actor: Any) -> DeprovisionResult:
    with transaction.atomic():
        _reread(membership.organization)
        membership = _lock_membership(membership)
        _check_guardrails(membership, actor)
        result = _end_access(membership, actor=actor, now=timezone.now())
        audit.record(
            "member.deprovisioned",
            organization=membership.organization,
            actor=actor,
            target=membership,
            details={"role": membership.role, **result.as_details()},
        )
        remove_member(membership, actor=actor)
    return _replace(result, removed=True)


def _check_guardrails(membership: Membership, actor: Any) -> None:
    """Refuse (ActionRefused) a deprovisioning that the actor may not do or that would lock the organization out."""
    organization = membership.organization
    refuse_program_touching_owner(membership, actor, doing="deprovision")
    acting_on_someone_else = _judged_by_role(actor) and membership.user_id != getattr(actor, "pk", None)
    if acting_on_someone_else and membership.role not in roles_assignable_by(actor_role(organization, actor)):
        raise ActionRefused("Only owners can deprovision an owner.", code="role_not_allowed", status=403)
    if is_last_usable_owner(membership):
        raise ActionRefused(
            f"{membership.user.email} is the last owner who can sign in, so deprovisioning them would lock everyone "
            "out of the organization. Make someone else an owner first.",
            code="last_owner",
            status=409,
        )
    for guard in DEPROVISION_GUARDS:
        guard(membership, actor)
    _run_membership_guards(membership, None, actor)


def _end_access(membership: Membership, *, actor: Any, now: Any) -> DeprovisionResult:
    """Run the deprovision effects and revoke the pending invitations of the person's email; constant queries."""
    result = DeprovisionResult(membership.pk, membership.user.email)
    for effect in DEPROVISION_EFFECTS:
        result = _merge(result, effect(membership, actor, DEPROVISIONED_REASON))
    invitations = _revoke_invitations_to(membership, actor=actor, now=now)
    return _replace(result, invitations_revoked=tuple(invitation.pk for invitation in invitations))


def _revoke_invitations_to(membership: Membership, *, actor: Any, now: Any) -> list[Invitation]:
    """Revoke the pending invitations of ``membership``'s email to its organization, in bulk (one UPDATE, one audit
    insert): after a deprovisioning, an old invitation must not bring the person back."""
    pending = Invitation.objects.select_for_update(of=("self",)).filter(
        organization_id=membership.organization_id,
        email=normalize_email(membership.user.email),
        accepted_at=None,
        revoked_at=None,
    )
    invitations = list(pending.order_by("pk"))
    if not invitations:
        return []
    Invitation.objects.filter(pk__in=[invitation.pk for invitation in invitations]).update(revoked_at=now)
    for invitation in invitations:
        invitation.revoked_at = now
    record_many(
        "member.invitation_revoked",
        organization=membership.organization,
        actor=actor,
        items=[
            {"target": invitation, "details": {"reason": "its invitee was deprovisioned"}} for invitation in invitations
        ],
    )
    return invitations


def _merge(result: DeprovisionResult, values: Mapping[str, Any]) -> DeprovisionResult:
    updates = {}
    for name, value in (values or {}).items():
        current = getattr(result, name)
        updates[name] = current + tuple(value) if isinstance(current, tuple) else current + value
    return _replace(result, **updates)


def _replace(result: DeprovisionResult, **values: Any) -> DeprovisionResult:
    return replace(result, **values)


def preview_suspend_member(membership: Membership) -> Impact:
    """What suspending ``membership`` would end (read-only; ``suspend_member`` does it): ``person`` (who loses the
    organization, keeping role and teams), ``invitations`` to their email that are revoked, then the groups every
    registered membership preview adds for a removal (personal keys revoked, sessions that lose the organization).
    ``change`` is "member.suspend"; the guardrails are not previewed."""
    person = ImpactItem(
        ref=str(membership.user_id),
        name=membership.user.email,
        detail=f"{membership.get_role_display()}: suspended, keeps role and teams for a reactivation",
    )
    pending = Invitation.objects.filter(
        organization_id=membership.organization_id,
        email=normalize_email(membership.user.email),
        accepted_at=None,
        revoked_at=None,
    ).order_by("pk")
    invitations = tuple(
        ImpactItem(ref=str(invitation.pk), name=invitation.email, detail=f"{invitation.get_role_display()}: revoked")
        for invitation in pending
    )
    groups = [
        ImpactGroup("person", "The member", "Suspended: counts as no member until reactivated.", (person,)),
        ImpactGroup("invitations", "Invitations to them, revoked", "They cannot come back through one.", invitations),
    ]
    for preview in MEMBERSHIP_CHANGE_PREVIEWS:
        groups.extend(preview(membership, None))
    return Impact(change="member.suspend", groups=tuple(groups))


# --- reactivation --------------------------------------------------------------------------------------------------


@audited("membership")
def reactivate_member(membership: Membership, *, actor: Any, role: str) -> Membership:
    """Clear ``membership``'s suspension and give it ``role`` (from the IdP's groups); audited
    ``member.reactivated``. Revoked keys stay revoked and ended sessions stay ended for this organization (the
    person signs in again). Reactivating an active membership only changes its role (as ``change_role``: its
    effects and checks). Raises ActionRefused: not a role (400), a role the actor may not grant (403; provisioning
    granting owner: 409 ``owner_protected``), the membership gone (404)."""
    if role not in Role.values:
        raise ActionRefused(f"{role!r} is not a role.", code="bad_role")
    with transaction.atomic():
        organization = _reread(membership.organization)
        membership = _lock_membership(membership)
        if membership.suspended_at is None:
            return change_role(membership, actor=actor, role=role)
        refuse_program_touching_owner(membership, actor, doing="reactivate", new_role=role)
        allowed = roles_assignable_by(actor_role(organization, actor)) if _judged_by_role(actor) else list(Role)
        if role not in allowed or membership.role not in allowed:
            raise ActionRefused("Only owners can reactivate an owner.", code="role_not_allowed", status=403)
        old_role, suspended_at = membership.role, membership.suspended_at
        membership.role, membership.suspended_at = role, None
        membership.save(update_fields=["role", "suspended_at"])
        audit.record(
            "member.reactivated",
            organization=organization,
            actor=actor,
            target=membership,
            changes={"suspended_at": [suspended_at.isoformat(), None], "role": [old_role, role]},
        )
        if old_role != role:
            # What the new role may not keep goes, as in a role change (keys: already revoked at suspension).
            _run_membership_effects(membership, role, actor)
    return membership


# --- refusals ------------------------------------------------------------------------------------------------------


def _record_refusal(membership: Membership, *, actor: Any, refusal: ActionRefused, attempted: str) -> None:
    """Record a refused deprovisioning in a transaction of its own (the refused one rolled back). Only the refusals
    that protect the organization (status 409) are recorded; at most once a minute per member, code and actor."""
    if refusal.status != 409:
        return
    record_refusal(membership, actor=actor, code=refusal.code, message=str(refusal), attempted=attempted)


def record_refusal(membership: Membership, *, actor: Any, code: str, message: str, attempted: str) -> None:
    """Record ``member.deprovision_refused`` for ``membership`` (``attempted``: "suspend", "remove", "demote"),
    with the refusal's ``code`` and ``message``, so it survives the rolled-back change and shows on the SSO settings
    page (``recent_refusals``). Throttled (``audit.recorder.record_throttled``) to once a minute per member, code
    and actor: an IdP retries. Call it outside the refused change's transaction."""
    actor_key = f"{getattr(actor, 'type', 'user')}:{getattr(actor, 'id', getattr(actor, 'pk', ''))}"
    record_throttled(
        REFUSED_ACTION,
        throttle_key=f"{membership.organization_id}:{membership.pk}:{code}:{attempted}:{actor_key}",
        organization=membership.organization,
        actor=actor,
        target=membership,
        details={"code": code, "reason": message, "attempted": attempted},
    )


def recent_refusals(organization: Organization, *, limit: int = 20) -> QuerySet[AuditEvent]:
    """The latest refused deprovisionings (and demotions) in ``organization``, newest first: audit events
    ``member.deprovision_refused`` whose ``details`` hold ``code``, ``reason`` and ``attempted``, and whose
    ``actor_label`` names who tried (e.g. the SCIM token's prefix). For the SSO settings page."""
    return AuditEvent.objects.filter(organization=organization, action=REFUSED_ACTION).order_by("-occurred_at", "-seq")[
        :limit
    ]
