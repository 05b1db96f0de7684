"""One-line status of this security theme for the organization dashboard."""

from orgsecurity.accessors import OrgContext


def status(org: OrgContext) -> str:
    """What the dashboard says about this theme for ``org`` (e.g. "Enforced since 2026-12-01")."""
    return "Not configured yet"
