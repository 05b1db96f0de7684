"""What tightening an organization's session policy would end, before it is saved (``orgsecurity.impact.Impact``).

Judged with the functions enforcement runs on every organization page (``sessions_policy.enforcement.timeout_code``
and ``replaced``), for the rules as saved and the rules as they would be: a session is listed when the new rules
end it at once (on its next request to the organization's pages) and the saved rules do not.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from orgsecurity.impact import Impact, ImpactGroup, ImpactItem
from orgsecurity.models import Membership, Organization
from sessions_policy import clock
from sessions_policy.enforcement import replaced, rules_for_organization, timeout_code
from sessions_policy.models import UserSession
from sessions_policy.rules import SessionRules, format_duration

_WHY = {
    "session_absolute_timeout": "signed in longer ago than the new lifetime of {absolute}",
    "session_idle_timeout": "idle longer than the new idle timeout of {idle}",
    "session_replaced": "an older session of someone who signed in again since (one session at a time)",
}


def ending_code(session: UserSession, rules: SessionRules, now, *, newer_session_exists: bool) -> str | None:
    """Why ``rules`` end ``session`` at ``now`` (the code enforcement shows), or None when they let it go on."""
    code = timeout_code(session, rules, now)
    if code is None and replaced(rules, newer_session_exists=newer_session_exists):
        code = "session_replaced"
    return code


def preview_session_policy(
    organization: Organization,
    *,
    idle_timeout_s: int,
    absolute_timeout_s: int,
    reauth_max_age_s: int,
    single_session: bool,
) -> Impact:
    """The members' sessions the rules (seconds, as ``sessions_policy.actions.update_session_policy`` takes them)
    would end at once in ``organization``: open, not already ended for it, and alive under the saved rules.
    ``change`` is "session.policy"; one group, ``sessions`` (ref: the session id), ordered by email then id."""
    before = rules_for_organization(organization)
    after = SessionRules(int(idle_timeout_s), int(absolute_timeout_s), int(reauth_max_age_s), bool(single_session))
    now = clock.now()
    roles = dict(Membership.objects.active().filter(organization=organization).values_list("user_id", "role"))
    newer = UserSession.objects.filter(user_id=OuterRef("user_id"), authenticated_at__gt=OuterRef("authenticated_at"))
    sessions = (
        UserSession.objects.filter(revoked_at=None, user_id__in=list(roles))
        .exclude(org_revocations__organization=organization)
        .annotate(newer_session_exists=Exists(newer))
        .select_related("user")
        .order_by("user__email", "pk")
    )
    words = {"absolute": format_duration(after.absolute_timeout_s), "idle": format_duration(after.idle_timeout_s)}
    items = []
    for session in sessions:
        newer_exists = bool(session.newer_session_exists)
        if ending_code(session, before, now, newer_session_exists=newer_exists) is not None:
            continue  # already over under the saved rules: this change does not end it
        code = ending_code(session, after, now, newer_session_exists=newer_exists)
        if code is None:
            continue
        items.append(
            ImpactItem(
                ref=str(session.pk),
                name=session.user.email,
                detail=f"{session} (signed in {session.authenticated_at:%Y-%m-%d %H:%M} UTC, last seen "
                f"{session.last_seen_at:%Y-%m-%d %H:%M} UTC): " + _WHY[code].format(**words),
            )
        )
    return Impact(
        change="session.policy",
        groups=(
            ImpactGroup(
                "sessions",
                "Sessions that end at once",
                f"Each ends on its next request to {organization.name}'s pages; the person signs in again.",
                tuple(items),
            ),
        ),
        notes=(
            (
                f"The re-authentication window becomes {format_duration(after.reauth_max_age_s)}: sessions go on, "
                "but sensitive actions ask sooner to confirm who it is.",
            )
            if after.reauth_max_age_s < before.reauth_max_age_s
            else ()
        ),
    )


def preview_membership_sessions(membership: Membership, new_role: str | None) -> tuple[ImpactGroup, ...]:
    """Registered with ``orgsecurity.actions.register_membership_preview``: for a removal (``new_role`` None), the
    person's open sessions, which can no longer open the organization's pages (the membership check refuses them;
    they stay signed in elsewhere). Nothing for a role change."""
    if new_role is not None:
        return ()
    organization = membership.organization
    sessions = (
        UserSession.objects.filter(revoked_at=None, user_id=membership.user_id)
        .exclude(org_revocations__organization=organization)
        .order_by("-last_seen_at", "pk")
    )
    items = tuple(
        ImpactItem(
            ref=str(session.pk),
            name=membership.user.email,
            detail=f"{session}, last seen {session.last_seen_at:%Y-%m-%d %H:%M} UTC: loses {organization.name}",
        )
        for session in sessions
    )
    return (
        ImpactGroup(
            "sessions",
            "Their signed-in sessions",
            f"Each can no longer open {organization.name}'s pages, at once; they stay signed in to other "
            "organizations.",
            items,
        ),
    )
