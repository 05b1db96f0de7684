"""Session rules of an organization as plain values: defaults, bounds, validation and the words people read.

A ``SessionRules`` is what enforcement needs (idle timeout, absolute lifetime, re-authentication window,
single session), whether it comes from an organization's ``SessionPolicy`` row or from the defaults.

Defaults follow NIST SP 800-63B §4.2.3 (AAL2): re-authenticate after 30 minutes of inactivity and at least
every 12 hours whatever the activity. The absolute lifetime can never exceed the site-wide
``SESSION_COOKIE_AGE``: organizations shorten sessions, they do not lengthen them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR

IDLE_MIN = 5 * MINUTE
IDLE_MAX = 30 * DAY
ABSOLUTE_MIN = 1 * HOUR
REAUTH_MIN = 1 * MINUTE
REAUTH_MAX = 12 * HOUR

DEFAULT_IDLE = 30 * MINUTE
DEFAULT_ABSOLUTE = 12 * HOUR


def absolute_max() -> int:
    """The longest absolute lifetime an organization may choose: the site's ``SESSION_COOKIE_AGE`` (seconds)."""
    return max(settings.SESSION_COOKIE_AGE, ABSOLUTE_MIN)


def default_reauth_max_age() -> int:
    """The site's re-authentication window (``REAUTH_MAX_AGE_SECONDS``), kept within the bounds."""
    return min(max(settings.REAUTH_MAX_AGE_SECONDS, REAUTH_MIN), REAUTH_MAX)


@dataclass(frozen=True)
class SessionRules:
    """The session rules in force for one request. Durations are in seconds."""

    idle_timeout_s: int
    absolute_timeout_s: int
    reauth_max_age_s: int
    single_session: bool

    @classmethod
    def defaults(cls) -> SessionRules:
        """The rules of an organization that never saved a session policy."""
        return cls(
            idle_timeout_s=DEFAULT_IDLE,
            absolute_timeout_s=min(DEFAULT_ABSOLUTE, absolute_max()),
            reauth_max_age_s=default_reauth_max_age(),
            single_session=False,
        )

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "idle_timeout_s": self.idle_timeout_s,
            "absolute_timeout_s": self.absolute_timeout_s,
            "reauth_max_age_s": self.reauth_max_age_s,
            "single_session": self.single_session,
        }

    def describe(self) -> list[str]:
        """The rules as sentences for the people they apply to (the settings page shows these)."""
        sessions = (
            "A member may be signed in on one device or browser at a time: a new sign-in ends the older sessions."
            if self.single_session
            else "Members may be signed in on several devices and browsers at once."
        )
        return [
            f"Members are signed out after {format_duration(self.idle_timeout_s)} without activity.",
            f"Every session ends {format_duration(self.absolute_timeout_s)} after signing in, however active.",
            "Sensitive actions (security settings, member roles, invitations, billing) ask members to confirm who "
            "they are if they have not signed in or confirmed in the last "
            f"{format_duration(self.reauth_max_age_s)}.",
            sessions,
        ]


def strictest(rules: Iterable[SessionRules]) -> SessionRules:
    """Combine rules so every one of them holds: the shortest durations, and single session if any asks for it.

    Used where no single organization's page is open (account pages). Empty input gives the defaults.
    """
    rules = list(rules)
    if not rules:
        return SessionRules.defaults()
    return SessionRules(
        idle_timeout_s=min(rule.idle_timeout_s for rule in rules),
        absolute_timeout_s=min(rule.absolute_timeout_s for rule in rules),
        reauth_max_age_s=min(rule.reauth_max_age_s for rule in rules),
        single_session=any(rule.single_session for rule in rules),
    )


def validate(idle_timeout_s: int, absolute_timeout_s: int, reauth_max_age_s: int) -> dict[str, str]:
    """Check the bounds; returns ``{field: message}`` for every value out of bounds ({} when all are fine).

    Idle 5 minutes to 30 days; absolute from 1 hour (and at least the idle timeout) to the site's
    ``SESSION_COOKIE_AGE``; re-authentication window 1 minute to 12 hours.
    """
    errors: dict[str, str] = {}
    if not IDLE_MIN <= idle_timeout_s <= IDLE_MAX:
        errors["idle_timeout_s"] = (
            f"Choose an idle timeout between {format_duration(IDLE_MIN)} and {format_duration(IDLE_MAX)}."
        )
    if not ABSOLUTE_MIN <= absolute_timeout_s <= absolute_max():
        errors["absolute_timeout_s"] = (
            f"Choose an absolute lifetime between {format_duration(ABSOLUTE_MIN)} and "
            f"{format_duration(absolute_max())} (the longest session this site allows)."
        )
    elif "idle_timeout_s" not in errors and absolute_timeout_s < idle_timeout_s:
        errors["absolute_timeout_s"] = (
            f"The absolute lifetime ({format_duration(absolute_timeout_s)}) cannot be shorter than the idle "
            f"timeout ({format_duration(idle_timeout_s)})."
        )
    if not REAUTH_MIN <= reauth_max_age_s <= REAUTH_MAX:
        errors["reauth_max_age_s"] = (
            f"Choose a re-authentication window between {format_duration(REAUTH_MIN)} and "
            f"{format_duration(REAUTH_MAX)}."
        )
    return errors


def format_duration(seconds: int) -> str:
    """``1800`` → "30 minutes", ``5400`` → "1 hour 30 minutes", ``172800`` → "2 days" (two largest units)."""
    seconds = max(int(seconds), 0)
    parts = []
    for size, name in ((DAY, "day"), (HOUR, "hour"), (MINUTE, "minute"), (1, "second")):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    return " ".join(parts[:2]) or "0 seconds"
