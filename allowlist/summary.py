"""One-line status of this security theme for the organization dashboard."""

from django.db.models import Count

from allowlist.models import IPAllowlist, IPAllowlistEntry, Scope
from orgsecurity.accessors import OrgContext


def status(org: OrgContext) -> str:
    """What the dashboard says about the IP allowlist of ``org``, e.g. "On for dashboard pages and API keys ·
    12 entries" or "Off · 3 entries"."""
    allowlist = IPAllowlist.objects.filter(organization=org.organization).first()
    count = IPAllowlistEntry.objects.filter(organization=org.organization).aggregate(n=Count("pk"))["n"]
    if allowlist is None and not count:
        return "Not configured yet"
    entries = f"{count} entr{'y' if count == 1 else 'ies'}"
    if allowlist is not None and allowlist.enabled:
        return f"On for {Scope.phrase(allowlist.scope)} · {entries}"
    return f"Off · {entries}"
