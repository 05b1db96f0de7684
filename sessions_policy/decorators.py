"""``require_recent_auth``: the decorator every sensitive action wears."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from orgsecurity.pipeline import json_error, wants_json
from sessions_policy.reauth import reauth_max_age, recently_authenticated


def require_recent_auth(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Let the view run only if the session authenticated recently (the org's re-authentication window);
    otherwise send the person to re-authenticate and back (JSON clients get 401 ``reauthentication_required``).

    Stack it under the view's own access checks' decorators so outsiders still get 404 first, e.g.::

        @require_POST
        @require_recent_auth
        def enforce(request, org_slug): ...
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return view(request, *args, **kwargs)  # the pipeline or the view refuses anonymous visitors
        if recently_authenticated(request, reauth_max_age(request, kwargs.get("org_slug"))):
            return view(request, *args, **kwargs)
        if wants_json(request):
            return json_error("reauthentication_required", "Confirm your identity again to do this.", 401)
        target = request.get_full_path() if request.method in {"GET", "HEAD"} else _page_of_the_form(request)
        return redirect(f"{reverse('reauthenticate')}?{urlencode({'next': target})}")

    return wrapped


def _page_of_the_form(request: HttpRequest) -> str:
    referer = request.headers.get("referer", "")
    origin = f"{request.scheme}://{request.get_host()}"
    return referer[len(origin) :] if referer.startswith(origin + "/") else request.path
