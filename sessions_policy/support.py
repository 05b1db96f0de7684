"""The session section of the support console (registered in ``sessions_policy.apps``): an organization's session
rules and its members' sessions that can still open its pages, read-only."""

from __future__ import annotations

from datetime import timedelta

from orgsecurity.models import Membership, Organization
from sessions_policy import clock
from sessions_policy.enforcement import LAST_SEEN_INTERVAL, rules_for_organization
from sessions_policy.models import AuthMethod, SessionPolicy, UserSession
from sessions_policy.rules import format_duration

SHOWN_SESSIONS = 50
METHOD_LABELS = dict(AuthMethod.choices)


def settings_rows(organization: Organization) -> list[tuple[str, str]]:
    """The rules in force, then each live session of a member (not ended, not ended for this organization, within
    its idle and absolute limits), by email, at most ``SHOWN_SESSIONS``."""
    rules, now = rules_for_organization(organization), clock.now()
    saved = SessionPolicy.objects.filter(organization=organization).exists()
    rows = [
        ("Policy", "saved by the organization" if saved else "defaults"),
        ("Idle timeout", format_duration(rules.idle_timeout_s)),
        ("Absolute timeout", format_duration(rules.absolute_timeout_s)),
        ("Re-authentication after", format_duration(rules.reauth_max_age_s)),
        ("One session per member", "yes" if rules.single_session else "no"),
    ]
    sessions = list(
        UserSession.objects.filter(
            revoked_at=None,
            user__in=Membership.objects.active().filter(organization=organization).values("user"),
            authenticated_at__gt=now - timedelta(seconds=rules.absolute_timeout_s),
            last_seen_at__gte=now - timedelta(seconds=rules.idle_timeout_s + LAST_SEEN_INTERVAL),
        )
        .exclude(org_revocations__organization=organization)
        .select_related("user")
        .order_by("user__email", "-last_seen_at")[: SHOWN_SESSIONS + 1]
    )
    for session in sessions[:SHOWN_SESSIONS]:
        rows.append(
            (
                session.user.email,
                f"{session.device} from {session.last_ip or session.ip or 'unknown IP'} · "
                f"{METHOD_LABELS.get(session.auth_method, session.auth_method)} · "
                f"signed in {session.authenticated_at:%Y-%m-%d %H:%M} UTC · "
                f"last seen {session.last_seen_at:%Y-%m-%d %H:%M} UTC",
            )
        )
    if not sessions:
        rows.append(("Sessions", "no live session"))
    elif len(sessions) > SHOWN_SESSIONS:
        rows.append(("…", f"only {SHOWN_SESSIONS} sessions are listed"))
    return rows
