"""Sections other apps add to the SSO settings page (e.g. "Provisioning (SCIM)"), without sso importing them.

An app registers ``section(request, org) -> (template_name, context) | None`` from its ``AppConfig.ready()`` with
``register_index_section``; the SSO page (``sso.connections.views.index``) includes each template with ``section``
set to its context, for the people the section returns something for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

IndexSection = Callable[[Any, Any], tuple[str, dict[str, Any]] | None]
_SECTIONS: list[IndexSection] = []


def register_index_section(section: IndexSection) -> None:
    """Add a section to the SSO settings page; registering the same function twice adds it once."""
    if section not in _SECTIONS:
        _SECTIONS.append(section)


def index_sections(request: Any, org: Any) -> list[dict[str, Any]]:
    """The registered sections that have something for this request: ``{"template": ..., "context": ...}``."""
    found = []
    for section in _SECTIONS:
        result = section(request, org)
        if result is not None:
            found.append({"template": result[0], "context": result[1]})
    return found
