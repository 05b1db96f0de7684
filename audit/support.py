"""Building blocks of the platform support console (/support/), for this app and for theme apps.

- ``staff_only``: the decorator every support view wears. Anyone who is not active platform staff
  (``is_staff``), signed in or not, gets the ordinary 404 page, so the console's existence is not revealed.
- ``support_organization(org_slug)``: load the organization a support page is about (404 if none).
- ``record_support_view(request, organization, page)``: record ``support.viewed`` in that organization's
  own log (actor type "support"), so its owners, admins and auditors see that support looked.
- ``security_sections(organization)``: one read-only section per security theme on the organization's
  support page. A theme app fills its section by providing ``<app>/support.py`` with
  ``settings_rows(organization) -> list[tuple[str, str]]`` (label, value) and, optionally,
  ``actions(organization) -> list[tuple[str, str]]`` (label, URL of a support page under
  /support/orgs/<slug>/<app>/..., added to ``audit.support_urls.org_patterns``).

Support actions that change something (e.g. "disable this organization's IP allowlist") are views wearing
``staff_only`` that call the theme's action function with ``actor=Actor.support(request.user)``; the
action function records its own event, so they do not also call ``record_support_view``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse

import audit
from audit.locking import audited
from audit.recorder import Actor
from orgsecurity.models import Organization
from sessions_policy.decorators import live_session_required

# (section title, app label): the security themes shown on an organization's support page, in order.
SECURITY_SECTIONS: list[tuple[str, str]] = [
    ("SSO", "sso"),
    ("Session management", "sessions_policy"),
    ("IP allowlist", "allowlist"),
    ("API keys", "keys"),
]


def is_support_staff(user: Any) -> bool:
    """True for a signed-in, active platform staff member."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Let only platform staff through; everyone else gets 404 as if /support/ did not exist. A staff session
    must also pass the session rules (idle and absolute timeouts, revocation, single session), as on account
    pages: the console reads every organization, so a forgotten session must not keep it open."""
    live = live_session_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_support_staff(request.user):
            raise Http404("No such page.")
        return live(request, *args, **kwargs)

    return wrapper


def support_organization(org_slug: str) -> Organization:
    """The organization ``org_slug`` names; raises Http404 when there is none."""
    organization = Organization.objects.filter(slug=org_slug).first()
    if organization is None:
        raise Http404("No such organization.")
    return organization


@audited("organization")
def record_support_view(request: HttpRequest, organization: Organization | None, page: str, **details: Any) -> None:
    """Record ``support.viewed`` (actor: the staff member as support) in ``organization``'s log, or in the
    platform log for None. ``page`` completes "… viewed {page}", e.g. "the audit log"."""
    with transaction.atomic():
        audit.record(
            "support.viewed",
            organization=organization,
            actor=Actor.support(request.user),
            target=organization,
            details={"page": page, "path": request.path, **details},
        )


@dataclass(frozen=True)
class SecuritySection:
    """One theme's read-only section: ``rows`` of (label, value), or None when the theme app does not
    show anything in the console yet, and ``actions`` as (label, URL)."""

    title: str
    app: str
    rows: list[tuple[str, str]] | None
    actions: list[tuple[str, str]] = field(default_factory=list)


def security_sections(organization: Organization) -> list[SecuritySection]:
    """The sections of SECURITY_SECTIONS, each filled by its app's ``support`` module when it has one."""
    sections = []
    for title, app in SECURITY_SECTIONS:
        module_name = f"{app}.support"
        if importlib.util.find_spec(module_name) is None:
            sections.append(SecuritySection(title, app, None))
            continue
        module = importlib.import_module(module_name)
        actions = getattr(module, "actions", None)
        sections.append(
            SecuritySection(title, app, module.settings_rows(organization), actions(organization) if actions else [])
        )
    return sections
