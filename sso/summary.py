"""One-line status of this security theme for the organization dashboard."""

from orgsecurity.accessors import OrgContext
from sso.models import SSOConnection
from sso.protocols import HANDLERS


def status(org: OrgContext) -> str:
    """What the dashboard says about SSO for ``org``: each connection's protocol and status, plus any warning its
    protocol handler reports (``status_warnings``, e.g. an IdP certificate expiring within 30 days)."""
    connections = list(SSOConnection.objects.filter(organization=org.organization))
    if not connections:
        return "Not configured yet"
    parts = []
    for connection in connections:
        line = f"{connection.get_protocol_display()}: {connection.get_status_display()}"
        warnings = getattr(HANDLERS.get(connection.protocol), "status_warnings", None)
        if warnings is not None:
            line = " ".join([line, *(f"⚠ {warning}" for warning in warnings(connection))])
        parts.append(line)
    return " · ".join(parts)
