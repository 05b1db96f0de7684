"""The security themes on an organization's dashboard and security page: a registry filled by the theme apps.

Each theme app registers its ``Theme`` (name, the URL name of its page, what it controls, who may open it, and
the function giving its one-line status) with ``register_theme`` from its ``AppConfig.ready()``; the core lists
them in ``position`` order and names no theme app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from orgsecurity.accessors import OrgContext
from orgsecurity.roles import Capability


@dataclass(frozen=True)
class Theme:
    """One security theme: ``name`` as shown, ``url_name`` of its page (reversed with the organization's slug),
    ``about`` (what it controls), the ``capability`` a member needs to see it, ``status(org) -> str`` (``org`` an
    ``OrgContext``; the one line the dashboard shows) and ``position`` (ascending)."""

    name: str
    url_name: str
    about: str
    capability: Capability
    status: Callable[[OrgContext], str]
    position: int


_THEMES: list[Theme] = []


def register_theme(theme: Theme) -> None:
    """Add (or, for a ``url_name`` registered before, replace) a theme. Call it from ``AppConfig.ready()``."""
    _THEMES[:] = sorted(
        [*(known for known in _THEMES if known.url_name != theme.url_name), theme], key=lambda known: known.position
    )


def security_themes(org: OrgContext) -> list[dict[str, Any]]:
    """The registered themes this member may open, each as ``{"name", "url", "about", "status"}``."""
    slug = org.organization.slug
    return [
        {
            "name": theme.name,
            "url": reverse(theme.url_name, args=[slug]),
            "about": theme.about,
            "status": theme.status(org),
        }
        for theme in _THEMES
        if org.can(theme.capability)
    ]
