"""The enforcement pipeline for organization pages: an ordered list of small checks.

Each check is a function ``(request, org_slug) -> (allowed, Refusal | None)``. ``settings.ORG_PIPELINE_CHECKS``
lists them in the fixed order of DESIGN.md (authenticated → member → IP allowlist → session timeouts →
single session → SSO enforcement); the first refusal wins. Adding a check means writing one function
and adding its dotted path to that list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render, resolve_url
from django.utils.module_loading import import_string

from orgsecurity.accessors import load_org_context


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: a stable ``code``, a human ``message``, the HTTP ``status``, and for
    browsers either a ``redirect_to`` URL or a ``template`` (rendered with ``context``)."""

    code: str
    message: str
    status: int = 403
    redirect_to: str | None = None
    template: str = "orgsecurity/refusal.html"
    context: dict[str, Any] = field(default_factory=dict)


CheckResult = tuple[bool, Refusal | None]
Check = Callable[[HttpRequest, str], CheckResult]
ALLOWED: CheckResult = (True, None)


def login_url_for(request: HttpRequest) -> str:
    """The sign-in URL that returns to the current path afterwards."""
    return f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': request.get_full_path()})}"


def check_authenticated(request: HttpRequest, org_slug: str) -> CheckResult:
    """Anonymous visitors are sent to sign in (401 for JSON clients); nothing reveals whether the org exists."""
    if request.user.is_authenticated:
        return ALLOWED
    return False, Refusal("not_authenticated", "Sign in to continue.", status=401, redirect_to=login_url_for(request))


def check_membership(request: HttpRequest, org_slug: str) -> CheckResult:
    """Non-members get 404, exactly as for an organization that does not exist."""
    if load_org_context(request, org_slug) is not None:
        return ALLOWED
    return False, Refusal("not_found", "There is no such page.", status=404, template="404.html")


@lru_cache(maxsize=8)
def _load_checks(paths: tuple[str, ...]) -> tuple[Check, ...]:
    return tuple(import_string(path) for path in paths)


def get_checks() -> tuple[Check, ...]:
    """The configured checks, imported once per distinct setting value."""
    return _load_checks(tuple(settings.ORG_PIPELINE_CHECKS))


def run_checks(request: HttpRequest, org_slug: str) -> Refusal | None:
    """Run every check in order; return the first refusal, or None when all allow."""
    for check in get_checks():
        allowed, refusal = check(request, org_slug)
        if not allowed:
            return refusal or Refusal("refused", "This request was refused.")
    return None


def wants_json(request: HttpRequest) -> bool:
    """True for API and XHR/fetch clients, which get JSON errors instead of HTML pages or redirects."""
    if request.path_info.startswith("/api/") or request.headers.get("x-requested-with") == "XMLHttpRequest":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def json_error(code: str, message: str, status: int) -> JsonResponse:
    """The product's JSON error shape: {"error": {"code": ..., "message": ...}}."""
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def render_refusal(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    """Turn a Refusal into the response a person (page or redirect) or a program (JSON) expects."""
    if wants_json(request):
        return json_error(refusal.code, refusal.message, refusal.status)
    if refusal.redirect_to and request.method in {"GET", "HEAD"}:
        response = HttpResponse(status=302)
        response["Location"] = refusal.redirect_to
        return response
    if refusal.redirect_to:
        # A POST that arrives without a usable session is not processed; say so and offer the way back.
        context = {"refusal": refusal, "continue_url": refusal.redirect_to, **refusal.context}
        return render(request, refusal.template, context, status=refusal.status)
    return render(request, refusal.template, {"refusal": refusal, **refusal.context}, status=refusal.status)
