"""One-line status of this security theme for the organization dashboard."""

from orgsecurity.accessors import OrgContext
from sso.models import SSOConnection
from sso.protocols import status_warnings


def status(org: OrgContext) -> str:
    """What the dashboard says about SSO for ``org``, e.g. "SAML 2.0: Enforced (SSO only) since 2026-12-01" or
    "OpenID Connect: On; enforcement scheduled for 2026-12-01 09:00 UTC", plus any warning the connection's
    protocol handler reports (``status_warnings``, e.g. an IdP certificate expiring within 30 days)."""
    connection = (
        SSOConnection.objects.filter(organization=org.organization).exclude(status=SSOConnection.Status.OFF).first()
    )
    if connection is None:
        exists = SSOConnection.objects.filter(organization=org.organization).exists()
        return "Off" if exists else "Not configured yet"
    text = f"{connection.get_protocol_display()}: {connection.get_status_display()}"
    if connection.status == SSOConnection.Status.ENFORCED and connection.enforced_at:
        text = f"{text} since {connection.enforced_at:%Y-%m-%d}"
    elif connection.enforce_at and connection.enforcement_postponed_at:
        text = f"{text}; enforcement planned for {connection.enforce_at:%Y-%m-%d} is postponed"
    elif connection.enforce_at:
        text = f"{text}; enforcement scheduled for {connection.enforce_at:%Y-%m-%d %H:%M} UTC"
    return " ".join([text, *(f"⚠ {warning}" for warning in status_warnings(connection))])
