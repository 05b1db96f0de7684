"""Building blocks of the platform support console (/support/), for this app and for theme apps.

- ``staff_only``: the decorator every support view wears. Anyone who is not active platform staff
  (``is_staff``), signed in or not, gets the ordinary 404 page, so the console's existence is not revealed.
- ``support_organization(org_slug)``: load the organization a support page is about (404 if none).
- ``record_support_view(request, organization, page)``: record ``support.viewed`` in that organization's
  own log (actor type "support"), so its owners, admins and auditors see that support looked.
- ``register_section(SupportSection(...))``: a theme app adds its read-only section of an organization's support
  page, and optionally its support pages (``urls``: a URLconf module included under
  /support/orgs/<slug>/<url_prefix>/), from its ``AppConfig.ready()``. ``settings_rows(organization) ->
  list[tuple[str, str]]`` (label, value) fills the section (None: the theme shows nothing there yet) and
  ``actions(organization) -> list[tuple[str, str]]`` (label, URL) lists its support pages.
  ``security_sections(organization)`` fills every registered section, in ``position`` order.
  ``register_platform_page(PlatformPage(...))`` adds a platform-wide page (e.g. the background jobs), included under
  /support/platform/<url_prefix>/ and listed on the console's index. A section's
  ``search(query) -> list[SearchHit]`` adds what the theme finds to the console's cross-organization search (e.g. an
  API key by its prefix); ``support_search(query)`` asks every registered one. This app owns only the registry and
  the console's shell; it names no theme.

Support actions that change something (e.g. "disable this organization's IP allowlist") are views wearing
``staff_only`` that call the theme's action function with ``actor=Actor.support(request.user)``; the
action function records its own event, so they do not also call ``record_support_view``.
"""

from __future__ import annotations

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

Rows = Callable[[Organization], list[tuple[str, str]]]


@dataclass(frozen=True)
class SearchHit:
    """One result of the support console's search: what was found (``kind``, e.g. "API key"; ``label``, e.g. its
    prefix and name; ``detail``, one line more), the organization it belongs to (None: the platform) and, when
    there is a better page than the organization's support page, its ``url``."""

    kind: str
    label: str
    organization: Organization | None
    detail: str = ""
    url: str = ""


Search = Callable[[str], list[SearchHit]]


@dataclass(frozen=True)
class SupportSection:
    """A theme app's part of the support console: its section ``title`` on an organization's page (``app``, its
    app label, names the section's HTML id), placed by ``position`` (ascending); ``settings_rows`` and ``actions``
    as in the module docstring; ``urls`` (a dotted URLconf module with its own ``app_name``) is included under
    ``/support/orgs/<org_slug>/<url_prefix>/`` (``url_prefix`` defaults to ``app``)."""

    title: str
    app: str
    position: int
    settings_rows: Rows | None = None
    actions: Rows | None = None
    urls: str | None = None
    url_prefix: str | None = None
    search: Search | None = None


_SECTIONS: list[SupportSection] = []


def register_section(section: SupportSection) -> None:
    """Add (or, for an ``app`` registered before, replace) a theme's support section. Call it from the theme
    app's ``AppConfig.ready()``."""
    _SECTIONS[:] = sorted(
        [*(known for known in _SECTIONS if known.app != section.app), section], key=lambda known: known.position
    )


def registered_sections() -> tuple[SupportSection, ...]:
    """The registered support sections, in ``position`` order."""
    return tuple(_SECTIONS)


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
class PlatformPage:
    """A platform-wide page of the support console (about no one organization, e.g. the background jobs): listed
    on the console's index with its ``title`` and ``description``, in ``position`` order; ``urls`` (a dotted
    URLconf module) is included under ``/support/platform/<url_prefix>/`` and its ``""`` pattern, named
    ``index_url_name`` (``support:`` + the name), is what the index links to."""

    title: str
    url_prefix: str
    urls: str
    index_url_name: str
    position: int
    description: str = ""


_PLATFORM_PAGES: list[PlatformPage] = []


def register_platform_page(page: PlatformPage) -> None:
    """Add (or, for a ``url_prefix`` registered before, replace) a platform page. Call it from an app's
    ``AppConfig.ready()``."""
    _PLATFORM_PAGES[:] = sorted(
        [*(known for known in _PLATFORM_PAGES if known.url_prefix != page.url_prefix), page],
        key=lambda known: known.position,
    )


def registered_platform_pages() -> tuple[PlatformPage, ...]:
    """The registered platform pages, in ``position`` order."""
    return tuple(_PLATFORM_PAGES)


def support_search(query: str) -> list[SearchHit]:
    """What every registered section's ``search`` finds for ``query`` (already stripped, not empty), in ``position``
    order."""
    return [hit for section in _SECTIONS if section.search for hit in section.search(query)]


@dataclass(frozen=True)
class SecuritySection:
    """One theme's read-only section as shown: ``rows`` of (label, value), or None when the theme app does not
    show anything in the console yet, and ``actions`` as (label, URL)."""

    title: str
    app: str
    rows: list[tuple[str, str]] | None
    actions: list[tuple[str, str]] = field(default_factory=list)


def security_sections(organization: Organization) -> list[SecuritySection]:
    """Every registered section (``register_section``), filled for ``organization``."""
    return [
        SecuritySection(
            section.title,
            section.app,
            section.settings_rows(organization) if section.settings_rows else None,
            section.actions(organization) if section.actions else [],
        )
        for section in _SECTIONS
    ]
