"""How the SSO test page shows what the IdP sent: time claims as dates, not raw Unix seconds."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template

register = template.Library()

# Claims whose value is a NumericDate (seconds since 1970-01-01 UTC): OIDC Core §2 (iat, exp, auth_time) and §5.1
# (updated_at), RFC 7519 §4.1.5 (nbf).
TIME_CLAIMS = frozenset({"iat", "exp", "auth_time", "nbf", "updated_at"})


def _moment(value: str) -> str:
    """``value`` (Unix seconds, or an ISO 8601 date-time) as "YYYY-MM-DD HH:MM:SS UTC"; unchanged when neither."""
    try:
        moment = datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        try:
            moment = datetime.fromisoformat(str(value)).astimezone(UTC)
        except (TypeError, ValueError):
            return str(value)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


@register.simple_tag
def claim_values(name: str, values: list[str]) -> str:
    """The values of attribute or claim ``name`` joined by ", ", a time claim's as dates (its raw number kept in
    brackets, as the IdP sent it)."""
    if name in TIME_CLAIMS:
        return ", ".join(f"{_moment(value)} ({value})" for value in values)
    return ", ".join(str(value) for value in values)


@register.filter
def utc_moment(value: str | None) -> str:
    """An ISO 8601 date-time (or Unix seconds) as "YYYY-MM-DD HH:MM:SS UTC"; "" for none."""
    return _moment(value) if value else ""
