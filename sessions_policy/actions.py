"""Action functions for session policies and tracked sessions: the only code that writes these models.

Each validates, writes and records its audit event inside one ``transaction.atomic()``; refusals raise
``orgsecurity.actions.ActionRefused`` with a sentence for the person. Other apps call:

- ``revoke_user_sessions(user, actor=..., reason=..., organization=None, methods=None)`` to end a person's
  sessions everywhere, or only for one organization (e.g. SSO enforcement ending password sessions);
- ``revoke_session(user_session, actor=..., reason=..., organization=None)`` for one session.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest

import audit
from audit.locking import audited
from audit.recorder import Actor, diff, record_throttled
from orgsecurity.actions import ActionRefused
from orgsecurity.client_ip import client_ip
from orgsecurity.models import Membership, Organization, User
from orgsecurity.roles import Capability, has_capability, roles_assignable_by
from orgsecurity.text import end_sentence
from sessions_policy import clock
from sessions_policy.models import AuthMethod, OrgSessionRevocation, SessionPolicy, SuspendedRequest, UserSession
from sessions_policy.rules import SessionRules, format_duration, validate

POLICY_ACTOR = Actor.system("Session policy")
REPLACED = "Replaced by a new sign-in in the same browser."
SIGNED_OUT = "Signed out."


# --- sign-in and sign-out --------------------------------------------------------------------------------


def start_session(
    request: HttpRequest,
    user: User,
    *,
    method: str,
    organization: Organization | None = None,
    replacing: str | None = None,
) -> UserSession:
    """Track the session ``request`` was just signed in with (call right after ``django.contrib.auth.login``).

    ``method`` is one of password, saml, oidc, recovery (ValueError otherwise). ``organization`` is the
    organization whose IdP or recovery path signed the person in; when omitted it is taken from an
    ``org_slug`` in the URL route (the SSO endpoints have one). ``replacing`` is the session key the browser
    had before signing in; its tracked session ends ("replaced"). Not audited here: ``auth.signed_in`` is.
    """
    if method not in AuthMethod.values:
        raise ValueError(f"Unknown sign-in method {method!r}; use one of {', '.join(AuthMethod.values)}.")
    if request.session.session_key is None:
        request.session.save()
    if organization is None:
        organization = _organization_from_route(request)
    now = clock.now()
    ip = client_ip(request)
    with transaction.atomic():
        replaced = None
        if replacing and replacing != request.session.session_key:
            replaced = UserSession.objects.select_for_update().filter(session_key=replacing, revoked_at=None).first()
        if replaced is not None:
            replaced.revoked_at, replaced.revoked_reason = now, REPLACED
            replaced.save(update_fields=["revoked_at", "revoked_reason"])
        session = UserSession.objects.create(
            user=user,
            session_key=request.session.session_key,
            auth_method=method,
            organization=organization,
            authenticated_at=now,
            last_seen_at=now,
            ip=ip,
            last_ip=ip,
            user_agent=request.headers.get("user-agent", "")[:512],
        )
        if replaced is not None and replaced.user_id == user.pk:
            # Same browser, same person signing in again (e.g. at their IdP): forms waiting for confirmation
            # in the old session stay theirs.
            SuspendedRequest.objects.filter(user_session=replaced).update(user_session=session)
    return session


def _organization_from_route(request: HttpRequest) -> Organization | None:
    match = getattr(request, "resolver_match", None)
    slug = match.kwargs.get("org_slug") if match is not None else None
    return Organization.objects.filter(slug=slug).first() if slug else None


def follow_session_key(old_key: str | None, new_key: str | None) -> None:
    """Keep tracking a session whose key Django cycled without a new sign-in (e.g. after a password change,
    ``update_session_auth_hash``): the same browser, the same tracked session, under its new key."""
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key, revoked_at=None).update(session_key=new_key)


def mark_signed_out(session_key: str | None) -> None:
    """End the tracked session of ``session_key`` as signed out (called on every Django logout)."""
    if session_key:
        UserSession.objects.filter(session_key=session_key, revoked_at=None).update(
            revoked_at=clock.now(), revoked_reason=SIGNED_OUT
        )


@audited(lambda request, *, organization, **_: organization or _organizations_of(request.user), attempts=1)
def expire_current_session(request: HttpRequest, *, organization: Organization | None, code: str, reason: str) -> None:
    """End the session of ``request`` because a rule says so (idle, absolute, single session, revoked,
    untracked): mark it ended, record ``session.ended`` (once, even when parallel requests race), log out.

    ``organization`` is the organization whose page was opened (None on account pages: the event goes to
    each of the person's organizations). ``code`` is a stable reason code, ``reason`` the sentence shown.
    """
    user = request.user
    session_key = request.session.session_key or ""
    details = {"code": code, "reason": reason}
    with transaction.atomic():
        tracked = UserSession.objects.filter(session_key=session_key).values_list("pk", flat=True).first()
        if tracked is not None:
            first = UserSession.objects.filter(pk=tracked, revoked_at=None).update(
                revoked_at=clock.now(), revoked_reason=reason
            )
            if first:
                _record_for(
                    "session.ended", organization, user, actor=POLICY_ACTOR, details={**details, "session": tracked}
                )
    if tracked is None:
        # An untracked session has no row to mark; the throttle keeps parallel requests to one event.
        digest = hashlib.sha256(session_key.encode()).hexdigest()[:32]
        for target_org in [organization] if organization else _organizations_of(user) or [None]:
            record_throttled(
                "session.ended",
                throttle_key=f"{digest}:{target_org.pk if target_org else '-'}",
                organization=target_org,
                actor=POLICY_ACTOR,
                target=user,
                details=details,
            )
    logout(request)


@audited(lambda user, **_: _organizations_of(user))
def record_reauthentication(user: User, *, method: str) -> None:
    """Record ``session.reauthenticated`` (the person confirmed who they are) in each of their organizations."""
    with transaction.atomic():
        _record_for("session.reauthenticated", None, user, actor=user, details={"method": method})


# --- revocation ------------------------------------------------------------------------------------------


def _delete_django_session(session_key: str) -> None:
    # Delete from the session store itself, so the session is gone for every process and every page
    # (not only organization pages, where the pipeline would refuse it anyway).
    import_module(settings.SESSION_ENGINE).SessionStore().delete(session_key)


@audited(lambda user_session, *, organization=None, **_: organization or _organizations_of(user_session.user))
def revoke_session(
    user_session: UserSession, *, actor: Any, reason: str, organization: Organization | None = None
) -> bool:
    """End one tracked session and record ``session.revoked``; returns False when it had already ended.

    ``organization`` None ends it everywhere at once (the Django session is deleted from the store).
    With an organization, the session is barred from that organization's pages only: it ends when it next
    opens one, and keeps working in the person's other organizations. The caller checks the actor's
    authority (see ``end_member_sessions``).
    """
    with transaction.atomic():
        session = UserSession.objects.select_for_update(of=("self",)).select_related("user").get(pk=user_session.pk)
        if not _end(session, reason=reason, organization=organization):
            return False
        _record_for(
            "session.revoked",
            organization,
            session.user,
            actor=actor,
            details={
                "session": session.pk,
                "device": session.device,
                "method": session.auth_method,
                "scope": _scope(organization),
                "reason": reason,
            },
        )
    return True


@audited(lambda user, *, organization=None, **_: organization or _organizations_of(user))
def revoke_user_sessions(
    user: User,
    *,
    actor: Any,
    reason: str,
    organization: Organization | None = None,
    methods: Iterable[str] | None = None,
    keep_session_key: str | None = None,
) -> int:
    """End every active session of ``user`` and record one ``session.revoked_all`` event; returns how many.

    ``organization`` None: everywhere at once. With an organization: barred from that organization's pages
    (see ``revoke_session``). ``methods`` limits it to sessions signed in with those methods (e.g.
    ``{"password"}`` when SSO becomes mandatory); ``keep_session_key`` spares one session (the caller's own).
    """
    with transaction.atomic():
        sessions = UserSession.objects.select_for_update().filter(user=user, revoked_at=None)
        if methods is not None:
            sessions = sessions.filter(auth_method__in=list(methods))
        if keep_session_key:
            sessions = sessions.exclude(session_key=keep_session_key)
        ended = [
            session for session in sessions.order_by("pk") if _end(session, reason=reason, organization=organization)
        ]
        if ended:
            _record_for(
                "session.revoked_all",
                organization,
                user,
                actor=actor,
                details={
                    "count": len(ended),
                    "sessions": [session.pk for session in ended],
                    "scope": _scope(organization),
                    "reason": reason,
                },
            )
    return len(ended)


def _end(session: UserSession, *, reason: str, organization: Organization | None) -> bool:
    now = clock.now()
    if session.revoked_at is not None:
        return False
    if organization is None:
        session.revoked_at, session.revoked_reason = now, reason
        session.save(update_fields=["revoked_at", "revoked_reason"])
        _delete_django_session(session.session_key)
        return True
    _, created = OrgSessionRevocation.objects.get_or_create(
        user_session=session, organization=organization, defaults={"revoked_at": now, "reason": reason}
    )
    return created


def bar_sessions_on_deprovision(membership: Membership, actor: Any, reason: str) -> dict[str, int]:
    """Registered with ``orgsecurity.lifecycle.register_deprovision_effect`` (``SessionsPolicyConfig.ready``): inside
    a deprovisioning, bar every live session of ``membership``'s user from its organization (an
    ``OrgSessionRevocation`` each, in one bulk insert): each ends at its next request to that organization and keeps
    working in the person's other organizations. Records one ``session.revoked_all``. Constant queries however many
    sessions. Returns ``{"sessions_ended": n}``."""
    organization = membership.organization
    live = UserSession.objects.filter(user_id=membership.user_id, revoked_at=None).exclude(
        org_revocations__organization=organization
    )
    ids = list(live.order_by("pk").values_list("pk", flat=True))
    if ids:
        now = clock.now()
        OrgSessionRevocation.objects.bulk_create(
            [
                OrgSessionRevocation(user_session_id=pk, organization=organization, revoked_at=now, reason=reason)
                for pk in ids
            ],
            ignore_conflicts=True,
        )
        audit.record(
            "session.revoked_all",
            organization=organization,
            actor=actor,
            target=membership.user,
            details={"count": len(ids), "sessions": ids, "scope": _scope(organization), "reason": reason},
        )
    return {"sessions_ended": len(ids)}


def _scope(organization: Organization | None) -> str:
    return f"in {organization.name}" if organization is not None else "everywhere"


@audited("organization")
def end_member_sessions(
    organization: Organization, member: User, *, actor: User, session: UserSession | None = None
) -> int:
    """An owner or admin ends a member's sessions for ``organization`` (one, or all when ``session`` is None).

    Refuses (ActionRefused, 403) an actor who cannot manage security here, and admins acting on an owner
    (admins manage everyone but owners). Returns how many sessions ended.
    """
    with transaction.atomic():
        actor_membership = Membership.objects.active().filter(organization=organization, user=actor).first()
        if actor_membership is None or not has_capability(actor_membership.role, Capability.MANAGE_SECURITY):
            raise ActionRefused("Only owners and admins can end members' sessions.", code="not_allowed", status=403)
        target = Membership.objects.active().filter(organization=organization, user=member).first()
        if target is None:
            raise ActionRefused(
                f"{member.email} is not a member of {end_sentence(organization.name)}", code="not_member", status=404
            )
        if member.pk != actor.pk and target.role not in roles_assignable_by(actor_membership.role):
            raise ActionRefused("Only owners can end an owner's sessions.", code="role_not_allowed", status=403)
        reason = f"Ended by {actor.email}, {_role_label(actor_membership)} of {end_sentence(organization.name)}"
        if session is not None:
            return int(revoke_session(session, actor=actor, reason=reason, organization=organization))
        return revoke_user_sessions(member, actor=actor, reason=reason, organization=organization)


def _role_label(membership: Membership) -> str:
    return membership.get_role_display().lower()


def end_own_sessions(user: User, *, current_session_key: str | None, session: UserSession | None = None) -> int:
    """A person ends one of their sessions (``session``) or all but the current one, everywhere at once."""
    reason = "Ended by its owner from their list of sessions."
    if session is not None:
        if session.user_id != user.pk:
            raise ActionRefused("That is not one of your sessions.", code="not_yours", status=404)
        return int(revoke_session(session, actor=user, reason=reason))
    return revoke_user_sessions(user, actor=user, reason=reason, keep_session_key=current_session_key)


# --- policy ----------------------------------------------------------------------------------------------


@audited("organization")
def update_session_policy(
    organization: Organization,
    *,
    actor: Any,
    idle_timeout_s: int,
    absolute_timeout_s: int,
    reauth_max_age_s: int,
    single_session: bool,
) -> dict[str, list[Any]]:
    """Save ``organization``'s session rules (seconds); returns ``{field: [old, new]}``, {} when nothing changed.

    Bounds are those of ``sessions_policy.rules.validate``; out of bounds raises ActionRefused (400) and saves
    nothing. A user ``actor`` must be an owner or admin of the organization (403 otherwise). The new rules
    apply to every session, in every process, on its next request.
    """
    errors = validate(idle_timeout_s, absolute_timeout_s, reauth_max_age_s)
    if errors:
        raise ActionRefused(" ".join(errors.values()), code="out_of_bounds", status=400)
    with transaction.atomic():
        # @audited locked the organization, so two first saves cannot both create the policy row.
        if isinstance(actor, User):
            membership = Membership.objects.active().filter(organization=organization, user=actor).first()
            if membership is None or not has_capability(membership.role, Capability.MANAGE_SECURITY):
                raise ActionRefused("Only owners and admins can change the session policy.", status=403)
        policy = SessionPolicy.objects.filter(organization=organization).first()
        before = (policy.to_rules() if policy else SessionRules.defaults()).as_dict()
        after = SessionRules(int(idle_timeout_s), int(absolute_timeout_s), int(reauth_max_age_s), bool(single_session))
        changes = diff(before, after.as_dict())
        if not changes:
            return {}
        policy = policy or SessionPolicy(organization=organization)
        for name, value in after.as_dict().items():
            setattr(policy, name, value)
        policy.save()
        audit.record(
            "session.policy_updated",
            organization=organization,
            actor=actor,
            target=policy,
            changes=changes,
            details={"summary": describe_changes(changes)},
        )
    return changes


_FIELD_NAMES = {
    "idle_timeout_s": "idle timeout",
    "absolute_timeout_s": "absolute lifetime",
    "reauth_max_age_s": "re-authentication window",
    "single_session": "single session",
}


def describe_changes(changes: dict[str, list[Any]]) -> str:
    """``{"idle_timeout_s": [1800, 3600]}`` → "idle timeout 30 minutes → 1 hour"."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "on" if value else "off"
        return format_duration(value)

    return "; ".join(f"{_FIELD_NAMES[name]} {text(old)} → {text(new)}" for name, (old, new) in changes.items())


# --- audit helpers ---------------------------------------------------------------------------------------


def _organizations_of(user: Any) -> list[Organization]:
    if not getattr(user, "pk", None):
        return []
    return list(
        Organization.objects.filter(memberships__user_id=user.pk, memberships__suspended_at__isnull=True).order_by("pk")
    )


def _record_for(
    action: str, organization: Organization | None, user: Any, *, actor: Any, details: dict[str, Any]
) -> None:
    """Record in ``organization``'s log, or (None) in the log of each organization of ``user`` (the platform
    log when they have none): a session is the person's, so each of their organizations may see it end."""
    for target_org in [organization] if organization is not None else _organizations_of(user) or [None]:
        audit.record(action, organization=target_org, actor=actor, target=user, details=details)
