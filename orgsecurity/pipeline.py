"""The enforcement pipeline for organization pages: an ordered list of small checks.

Each check is a function ``(request, org_slug) -> Refusal | None`` (None lets the request go on).
``settings.ORG_PIPELINE_CHECKS`` lists them in the fixed order of DESIGN.md (authenticated → member → IP allowlist →
session timeouts → single session → SSO enforcement); the first refusal wins. Adding a check means writing one
function and adding its dotted path to that list. The key API runs ``settings.API_PIPELINE_CHECKS`` (functions
``(request, api_key) -> Refusal | None``) through the same runner, ``run_pipeline``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.module_loading import import_string

from orgsecurity.accessors import load_org_context, suspended_membership
from orgsecurity.refusals import Refusal

Check = Callable[[HttpRequest, Any], Refusal | None]
"""A pipeline check: ``(request, org_slug)`` for organization pages, ``(request, api_key)`` for the key API;
it returns the ``Refusal`` that stops the request, or None to let it go on."""


def login_url_for(request: HttpRequest) -> str:
    """The sign-in URL that returns to the current path afterwards."""
    return f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': request.get_full_path()})}"


def check_authenticated(request: HttpRequest, org_slug: str) -> Refusal | None:
    """Anonymous visitors are sent to sign in (401 for JSON clients); nothing reveals whether the org exists."""
    if request.user.is_authenticated:
        return None
    return Refusal("not_authenticated", "Sign in to continue.", status=401, redirect_to=login_url_for(request))


# Theme apps answer a suspended (deprovisioned) member's request to their former organization before the 404:
# handler(request, membership) -> Refusal | None (sessions_policy: the session the deprovisioning barred from the
# organization ends here, so the person is signed out at their next page load).
SuspendedMemberHandler = Callable[[HttpRequest, Any], Refusal | None]
SUSPENDED_MEMBER_HANDLERS: list[SuspendedMemberHandler] = []


def register_suspended_member_handler(handler: SuspendedMemberHandler) -> None:
    """Ask ``handler(request, membership)`` when a suspended member opens their organization's pages; the first
    refusal it returns answers instead of the 404. Call it from ``AppConfig.ready()``; registering twice adds it
    once."""
    if handler not in SUSPENDED_MEMBER_HANDLERS:
        SUSPENDED_MEMBER_HANDLERS.append(handler)


def check_membership(request: HttpRequest, org_slug: str) -> Refusal | None:
    """Non-members get 404, exactly as for an organization that does not exist; so do suspended members, after the
    registered handlers (``register_suspended_member_handler``) had their say."""
    if load_org_context(request, org_slug) is not None:
        return None
    suspended = suspended_membership(request, org_slug)
    if suspended is not None:
        for handler in SUSPENDED_MEMBER_HANDLERS:
            refusal = handler(request, suspended)
            if refusal is not None:
                return refusal
    return Refusal("not_found", "There is no such page.", status=404, template="404.html")


@lru_cache(maxsize=16)
def _load_checks(paths: tuple[str, ...]) -> tuple[Check, ...]:
    return tuple(import_string(path) for path in paths)


def run_pipeline(paths: Iterable[str], request: HttpRequest, subject: Any) -> Refusal | None:
    """Run the checks named by the dotted ``paths`` (a settings list, imported once per distinct value) in order
    on ``(request, subject)``; return the first refusal, or None when every check lets the request go on."""
    for check in _load_checks(tuple(paths)):
        refusal = check(request, subject)
        if refusal is not None:
            return refusal
    return None


def run_checks(request: HttpRequest, org_slug: str) -> Refusal | None:
    """The organization pipeline: ``settings.ORG_PIPELINE_CHECKS`` on ``(request, org_slug)``."""
    return run_pipeline(settings.ORG_PIPELINE_CHECKS, request, org_slug)


def run_api_checks(request: HttpRequest, api_key: Any) -> Refusal | None:
    """The key API pipeline: ``settings.API_PIPELINE_CHECKS`` on ``(request, api_key)`` once the key verified."""
    return run_pipeline(settings.API_PIPELINE_CHECKS, request, api_key)
