"""View decorators: ``require_recent_auth`` (step 3 of the access-check stack of ``orgsecurity.access``, registered
there by ``SessionsPolicyConfig.ready()``) and ``live_session_required`` (the session rules on account pages, which
the organization pipeline does not cover).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from orgsecurity.access import protected_action
from orgsecurity.errors import json_error, render_refusal, wants_json
from sessions_policy.reauth import reauth_max_age, recently_authenticated, sign_action

View = Callable[..., HttpResponse]


def require_recent_auth(view: View) -> View:
    """Let the view run only if the session authenticated recently (the org's re-authentication window);
    otherwise send the person to re-authenticate and back (JSON clients get 401 ``reauthentication_required``).

    A GET resumes at its own URL. A POST is stashed server-side (``sessions_policy.resume``) and, after
    re-authentication, a confirmation page offers to send it; only that confirmed POST, from the same session,
    within ten minutes, runs the view with the stashed form data.

    Organization views get it through ``orgsecurity.access.require_capability`` (membership → role →
    this) and ``orgsecurity.access.reauthenticated`` apply it after the access checks, so outsiders get 404 and
    other roles 403 first.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from sessions_policy import resume  # needs the models; this module is imported early by core views

        if not request.user.is_authenticated:
            return view(request, *args, **kwargs)  # the pipeline or the view refuses anonymous visitors
        fresh = recently_authenticated(request, reauth_max_age(request, kwargs.get("org_slug")))
        token = request.POST.get(resume.RESUME_FIELD) if request.method == "POST" else None
        if token is not None:
            return _resume(request, token, fresh, view, args, kwargs)
        if fresh:
            return view(request, *args, **kwargs)
        if wants_json(request):
            return json_error("reauthentication_required", "Confirm your identity again to do this.", 401)
        action = protected_action(request)
        if request.method in {"GET", "HEAD"}:
            return _to_reauthenticate(request.get_full_path(), action)
        return _to_reauthenticate(resume.suspend_post(request) or resume.form_page(request), action)

    return wrapped


def _to_reauthenticate(next_url: str, action: str | None = None) -> HttpResponse:
    query = {"next": next_url, **({"action": sign_action(action)} if action else {})}
    return redirect(f"{reverse('reauthenticate')}?{urlencode(query)}")


def _resume(
    request: HttpRequest, token: str, fresh: bool, view: View, args: tuple, kwargs: dict[str, Any]
) -> HttpResponse:
    """The person confirmed a stashed POST: run the view with its data (once), or explain why not."""
    from sessions_policy import resume

    if not fresh:
        if resume.find_suspended(request, token) is not None:
            return _to_reauthenticate(reverse("reauth_resume", args=[token]))
        return _resume_gone(request)
    suspended = resume.take_suspended(request, token)
    if suspended is None:
        return _resume_gone(request)
    request.POST = suspended.as_query_dict()
    return view(request, *args, **kwargs)


def _resume_gone(request: HttpRequest) -> HttpResponse:
    if wants_json(request):
        return json_error("resume_expired", "That saved form expired or belongs to another session.", 410)
    return render(request, "sessions_policy/resume_gone.html", status=410)


def live_session_required(view: View) -> View:
    """For account pages (outside /orgs/): sign-in required, and the session must pass the session rules of
    all the person's organizations (the strictest of each); otherwise the session ends with a clear page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from sessions_policy.enforcement import verify_session

        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        refusal = verify_session(request, None)
        if refusal is not None:
            return render_refusal(request, refusal)
        return view(request, *args, **kwargs)

    return wrapped
