"""Session enforcement: the pipeline checks for organization pages, and the same rules for account pages.

The checks of ``settings.ORG_PIPELINE_CHECKS`` (after membership and the IP allowlist, in this order):

1. ``check_tracked_session``: the Django session must have a ``UserSession`` that has not ended and was not
   ended for this organization. A session without one (signed in before this feature, or by code that
   bypassed ``orgsecurity.auth.sign_in``) is ended and the person signs in again: nothing escapes the rules.
2. ``check_session_timeouts``: absolute lifetime (counted from sign-in, whatever the activity) and idle
   timeout (sliding: counted from the last request). A live session then records its activity, at most
   once a minute.
3. ``check_single_session``: with single session on, a newer sign-in of the same person ends this session.

The rules are those of the organization whose page is opened; on account pages (``/accounts/...``), where no
organization's page is open, the strictest rules of all the person's organizations apply. A session that
breaks a rule is ended (logout, ``session.ended`` audited) and the request is not processed: people get a
page that says why and a sign-in link back to the page they wanted; XHR/JSON clients get 401 JSON.

Everything is read from the database on every request (one query, sized for the benchmark's budget), so a
revocation or policy change made through any app process is enforced by all of them on the next request.
Nothing that decides is kept in process memory (``_state_sql`` caches only the text of that query).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.shortcuts import resolve_url

from orgsecurity.accessors import load_org_context
from orgsecurity.client_ip import client_ip
from orgsecurity.models import Membership, Organization
from orgsecurity.refusals import Refusal
from sessions_policy import clock
from sessions_policy.actions import expire_current_session
from sessions_policy.models import OrgSessionRevocation, SessionPolicy, UserSession
from sessions_policy.rules import SessionRules, format_duration, strictest

# last_seen_at is written at most this often per session (seconds), so activity costs no write per request.
# Idle expiry therefore allows this much slack: activity in the minute after a write is not recorded, and an
# active person must never be signed out by idle expiry.
LAST_SEEN_INTERVAL = 60


@dataclass
class SessionState:
    """What enforcement knows about the current session for one organization (None: account pages)."""

    organization: Organization | None
    session: UserSession | None
    rules: SessionRules
    newer_session_exists: bool = False
    barred_here: bool = False


def session_state(request: HttpRequest, organization: Organization | None) -> SessionState:
    """Load (once per request and organization) the tracked session of ``request`` and the rules that apply.

    For an organization this is a single query: the session row, whether a newer session of the same person
    exists, whether this organization ended the session, and the organization's policy (see ``_state_sql``).
    """
    cache: dict[int | None, SessionState] = request.__dict__.setdefault("_session_states", {})
    key = organization.pk if organization is not None else None
    if key not in cache:
        cache[key] = _load_state(request, organization)
    return cache[key]


def _load_state(request: HttpRequest, organization: Organization | None) -> SessionState:
    session_key, user_id = request.session.session_key or "", request.user.pk
    if organization is None:
        # Any later sign-in counts, also one that has ended since (see _state_sql).
        newer = UserSession.objects.filter(
            user_id=OuterRef("user_id"), authenticated_at__gt=OuterRef("authenticated_at")
        )
        sessions = UserSession.objects.filter(session_key=session_key, user_id=user_id)
        row = next(iter(sessions.annotate(newer_session_exists=Exists(newer))[:1]), None)
        return SessionState(None, row, rules_for_person(user_id), bool(row and row.newer_session_exists))

    row = next(
        iter(UserSession.objects.raw(_state_sql(), [organization.pk, organization.pk, session_key, user_id])), None
    )
    if row is None:
        return SessionState(organization, None, rules_for_organization(organization))
    if row.policy_idle is None:
        rules = SessionRules.defaults()
    else:
        rules = SessionPolicy(
            idle_timeout_s=row.policy_idle,
            absolute_timeout_s=row.policy_absolute,
            reauth_max_age_s=row.policy_reauth,
            single_session=bool(row.policy_single),
        ).to_rules()
    return SessionState(organization, row, rules, bool(row.newer_session_exists), bool(row.barred_here))


@cache
def _state_sql() -> str:
    """The one query every organization page costs: the tracked session, whether the same person signed in again
    since (a newer session, ended or not: with single session on, this one ended at that sign-in, and must not come
    back when the newer one is signed out or times out first), whether this organization ended the session, and
    the organization's policy (if any).

    Written as SQL (standard, for PostgreSQL and SQLite alike) because the hot path runs it on every request and
    the ORM spends longer composing this statement than the database spends running it (bench/request_overhead.py).
    Parameters: organization id, organization id, session key, user id.
    """
    quote = connection.ops.quote_name
    session, policy, revocation = (
        quote(model._meta.db_table) for model in (UserSession, SessionPolicy, OrgSessionRevocation)
    )
    columns = ", ".join(f"s.{quote(field.column)}" for field in UserSession._meta.concrete_fields)
    # Only table and column names (quoted, from the models) are formatted in; every value is a parameter.
    return f"""
        SELECT {columns},
            EXISTS (SELECT 1 FROM {session} newer
                    WHERE newer.user_id = s.user_id
                      AND newer.authenticated_at > s.authenticated_at) AS newer_session_exists,
            EXISTS (SELECT 1 FROM {revocation} r
                    WHERE r.user_session_id = s.id AND r.organization_id = %s) AS barred_here,
            p.idle_timeout_s AS policy_idle, p.absolute_timeout_s AS policy_absolute,
            p.reauth_max_age_s AS policy_reauth, p.single_session AS policy_single
        FROM {session} s LEFT JOIN {policy} p ON p.organization_id = %s
        WHERE s.session_key = %s AND s.user_id = %s
    """  # noqa: S608


def rules_for_organization(organization: Organization) -> SessionRules:
    """The rules of ``organization``: its saved policy, or the defaults."""
    policy = SessionPolicy.objects.filter(organization=organization).first()
    return policy.to_rules() if policy is not None else SessionRules.defaults()


def rules_of_each_organization(user_id: int | None) -> list[SessionRules]:
    """The rules of every organization ``user_id`` belongs to (one query)."""
    if user_id is None:
        return []
    memberships = Membership.objects.active().filter(user_id=user_id).select_related("organization__session_policy")
    found = []
    for membership in memberships:
        policy = getattr(membership.organization, "session_policy", None)
        found.append(policy.to_rules() if policy is not None else SessionRules.defaults())
    return found


def rules_for_person(user_id: int | None) -> SessionRules:
    """The strictest rules of every organization ``user_id`` belongs to (defaults for none)."""
    return strictest(rules_of_each_organization(user_id))


def rules_for_request(request: HttpRequest, org_slug: str | None) -> SessionRules:
    """The rules for this request: the organization's whose page it is, else the person's strictest."""
    if org_slug and request.user.is_authenticated:
        context = load_org_context(request, org_slug)
        if context is not None:
            return session_state(request, context.organization).rules
    return rules_for_person(request.user.pk if request.user.is_authenticated else None)


# --- the rules -------------------------------------------------------------------------------------------


def tracked_refusal(request: HttpRequest, state: SessionState) -> Refusal | None:
    """Refuse (and end) a session that is not tracked, has ended, or was ended for this organization."""
    session = state.session
    if session is None:
        return end_session(
            request,
            state,
            "session_unknown",
            "This session could not be verified (it may have started before session policies were turned on). "
            "Sign in again to continue.",
        )
    if session.revoked_at is not None:
        return end_session(
            request, state, "session_revoked", f"{session.revoked_reason or 'This session was ended.'} Sign in again."
        )
    if state.barred_here:
        name = state.organization.name if state.organization else "your organization"
        return end_session(
            request,
            state,
            "session_revoked",
            f"An owner or admin of {name} ended this session. Sign in again to continue.",
        )
    return None


def timeout_code(session: UserSession, rules: SessionRules, now: datetime) -> str | None:
    """Which timeout of ``rules`` has ended ``session`` at ``now``: "session_absolute_timeout" (signed in at
    least ``absolute_timeout_s`` ago), "session_idle_timeout" (not seen for ``idle_timeout_s`` plus the
    ``LAST_SEEN_INTERVAL`` slack), or None. Enforcement (``timeout_refusal``) and the session policy preview
    (``sessions_policy.preview``) both judge with it."""
    if now - session.authenticated_at >= timedelta(seconds=rules.absolute_timeout_s):
        return "session_absolute_timeout"
    if now - session.last_seen_at > timedelta(seconds=rules.idle_timeout_s + LAST_SEEN_INTERVAL):
        return "session_idle_timeout"
    return None


def replaced(rules: SessionRules, *, newer_session_exists: bool) -> bool:
    """True when ``rules`` end a session because the same person signed in again since (single session)."""
    return rules.single_session and newer_session_exists


def timeout_refusal(request: HttpRequest, state: SessionState) -> Refusal | None:
    """Refuse (and end) a session past its absolute lifetime or idle timeout; otherwise record activity."""
    session, rules, now = state.session, state.rules, clock.now()
    if session is None:
        return None
    code = timeout_code(session, rules, now)
    if code == "session_absolute_timeout":
        where = f"in {state.organization.name} " if state.organization else ""
        return end_session(
            request,
            state,
            "session_absolute_timeout",
            f"You were signed out because sessions {where}last at most {format_duration(rules.absolute_timeout_s)}. "
            "Sign in again to continue.",
        )
    if code == "session_idle_timeout":
        return end_session(
            request,
            state,
            "session_idle_timeout",
            f"You were signed out after {format_duration(rules.idle_timeout_s)} of inactivity. "
            "Sign in again to continue.",
        )
    record_activity(request, session, now)
    return None


def single_session_refusal(request: HttpRequest, state: SessionState) -> Refusal | None:
    """With single session on, refuse (and end) this session when the person signed in again since."""
    if state.session is None or not replaced(state.rules, newer_session_exists=state.newer_session_exists):
        return None
    name = state.organization.name if state.organization else "One of your organizations"
    return end_session(
        request,
        state,
        "session_replaced",
        f"You signed in on another device or browser, and {name} allows one session at a time, "
        "so this session has ended. Sign in again to continue here.",
    )


def record_activity(request: HttpRequest, session: UserSession, now) -> None:
    """Slide the idle timeout: write last_seen_at (and the IP) when the stored value is a minute old or more.

    The conditional UPDATE makes concurrent requests of one session write once, in any process.
    """
    if now - session.last_seen_at < timedelta(seconds=LAST_SEEN_INTERVAL):
        return
    ip = client_ip(request)
    UserSession.objects.filter(
        pk=session.pk, last_seen_at__lte=now - timedelta(seconds=LAST_SEEN_INTERVAL), revoked_at=None
    ).update(last_seen_at=now, last_ip=ip)
    session.last_seen_at, session.last_ip = now, ip


def end_session(request: HttpRequest, state: SessionState, code: str, reason: str) -> Refusal:
    """End the session of ``request`` for ``reason`` and return the refusal that tells the person."""
    next_path = request.get_full_path() if request.method in {"GET", "HEAD"} else form_page(request)
    expire_current_session(request, organization=state.organization, code=code, reason=reason)
    login_url = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': next_path})}"
    return Refusal(
        code,
        reason,
        status=401,
        template="sessions_policy/signed_out.html",
        context={"login_url": login_url, "next_path": next_path},
    )


def form_page(request: HttpRequest) -> str:
    """For a POST, the page of this site the form was on (same host in Referer), else the POST's own path."""
    referer = urlsplit(request.headers.get("referer", ""))
    path = referer.path
    if (
        referer.scheme in {"http", "https"}
        and referer.netloc == request.get_host()
        and path.startswith("/")
        and not path.startswith("//")
    ):
        return f"{path}?{referer.query}" if referer.query else path
    return request.path


def verify_session(request: HttpRequest, organization: Organization | None) -> Refusal | None:
    """Apply every session rule for ``organization`` (None: the person's strictest); the first refusal wins."""
    state = session_state(request, organization)
    return tracked_refusal(request, state) or timeout_refusal(request, state) or single_session_refusal(request, state)


def end_deprovisioned_session(request: HttpRequest, membership: Membership) -> Refusal | None:
    """Registered with ``orgsecurity.pipeline.register_suspended_member_handler``: when a suspended (deprovisioned)
    member opens their former organization's pages with a session that the deprovisioning barred from it, end that
    session (as ``tracked_refusal`` ends a barred one) with a message saying why; None otherwise (they get 404)."""
    state = session_state(request, membership.organization)
    if state.session is None or state.session.revoked_at is not None or not state.barred_here:
        return None
    return end_session(
        request,
        state,
        "member_deprovisioned",
        f"Your access to {membership.organization.name} was ended by its identity provider. Sign in again to continue.",
    )


# --- pipeline checks (settings.ORG_PIPELINE_CHECKS) -------------------------------------------------------


def _state_for(request: HttpRequest, org_slug: str) -> SessionState | None:
    if not request.user.is_authenticated:
        return None
    context = load_org_context(request, org_slug)
    return session_state(request, context.organization) if context is not None else None


def _result(refusal: Refusal | None) -> Refusal | None:
    return None if refusal is None else (False, refusal)


def check_tracked_session(request: HttpRequest, org_slug: str) -> Refusal | None:
    """Pipeline check: the session is tracked, has not ended, and was not ended for this organization."""
    state = _state_for(request, org_slug)
    return tracked_refusal(request, state) if state else None


def check_session_timeouts(request: HttpRequest, org_slug: str) -> Refusal | None:
    """Pipeline check: the organization's absolute lifetime and idle timeout (sliding)."""
    state = _state_for(request, org_slug)
    return timeout_refusal(request, state) if state else None


def check_single_session(request: HttpRequest, org_slug: str) -> Refusal | None:
    """Pipeline check: with single session on, only the person's newest session may continue."""
    state = _state_for(request, org_slug)
    return single_session_refusal(request, state) if state else None
