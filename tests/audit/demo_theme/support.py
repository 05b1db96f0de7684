"""The support console hooks of the stand-in theme (see audit.support)."""

from __future__ import annotations

from orgsecurity.models import Organization


def settings_rows(organization: Organization) -> list[tuple[str, str]]:
    return [("Plan seen by the theme", organization.plan_name)]


def actions(organization: Organization) -> list[tuple[str, str]]:
    return [("Do the demo thing", f"/support/orgs/{organization.slug}/demo/")]
