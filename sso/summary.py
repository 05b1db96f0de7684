"""One-line status of this security theme for the organization dashboard."""

from orgsecurity.accessors import OrgContext
from sso.models import SSOConnection


def status(org: OrgContext) -> str:
    """What the dashboard says about SSO for ``org``, e.g. "Enforced (SSO only) since 2026-12-01" or "On;
    enforcement scheduled for 2026-12-01 09:00 UTC"."""
    connection = (
        SSOConnection.objects.filter(organization=org.organization).exclude(status=SSOConnection.Status.OFF).first()
    )
    if connection is None:
        exists = SSOConnection.objects.filter(organization=org.organization).exists()
        return "Off" if exists else "Not configured yet"
    text = connection.get_status_display()
    if connection.status == SSOConnection.Status.ENFORCED and connection.enforced_at:
        return f"{text} since {connection.enforced_at:%Y-%m-%d}"
    if connection.enforce_at and connection.enforcement_postponed_at:
        return f"{text}; enforcement planned for {connection.enforce_at:%Y-%m-%d} is postponed"
    if connection.enforce_at:
        return f"{text}; enforcement scheduled for {connection.enforce_at:%Y-%m-%d %H:%M} UTC"
    return text
