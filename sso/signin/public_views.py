"""Public SSO endpoints: start a sign-in with the organization's IdP, and finish any round trip.

The pipeline does not run here (people are signing in); each view checks what it needs itself.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from sso.connections import actions
from sso.errors import SSOSignInRefused
from sso.models import SSOConnection, SSOPendingLogin
from sso.protocols import handler_for, sign_in_connection
from sso.signin import flow
from sso.signin.completion import complete
from sso.signin.refusals import refusal_page


def sign_in_start(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a public view that starts a sign-in at an IdP (anyone can open it, and each start stores a pending login
    and a session): starts beyond the client network's limit (``sso.signin.flow.count_sign_in_start``) get a 429
    page with ``Retry-After`` and store nothing. (Expired pending logins are purged by the worker: ``sso.tasks``.)"""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            flow.count_sign_in_start(request)
        except flow.TooManySignInStarts as exc:
            response = refusal_page(request, exc)  # no connection: nothing is looked up, nothing is audited
            response["Retry-After"] = str(exc.retry_after)
            return response
        return view(request, *args, **kwargs)

    return wrapped


@require_safe
@sign_in_start
def login(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Start SSO sign-in for ``org_slug`` with its IdP (``?next=`` a same-origin path to land on). When the
    organization has more than one live connection (on or enforced), the person picks one first (``?connection=``
    names the pick)."""
    live = list(
        SSOConnection.objects.filter(organization__slug=org_slug, status__in=LIVE_STATUSES)
        .select_related("organization")
        .order_by("pk")
    )
    chosen = request.GET.get("connection", "")
    connection = next((one for one in live if str(one.pk) == chosen), None)
    if connection is None and len(live) > 1:
        return _pick_connection(request, live)
    connection = connection or sign_in_connection(org_slug)
    if connection is None:
        exc = SSOSignInRefused(
            "Single sign-on is not available for this organization. Sign in with your password.",
            code="sso_unavailable",
            status=404,
        )
        return refusal_page(request, exc)
    next_url = flow.safe_next_url(request.GET.get("next"), "")
    try:
        return handler_for(connection).start_login(
            request, connection, purpose=SSOPendingLogin.Purpose.LOGIN, next_url=next_url
        )
    except SSOSignInRefused as exc:
        return refusal_page(request, exc, connection)


LIVE_STATUSES = (SSOConnection.Status.ON, SSOConnection.Status.ENFORCED)


def _pick_connection(request: HttpRequest, live: list[SSOConnection]) -> HttpResponse:
    """The page where the person picks one of the organization's live connections (each a sign-in link that keeps
    ``next``)."""
    next_url = flow.safe_next_url(request.GET.get("next"), "")
    choices = []
    for connection in live:
        query = {"connection": connection.pk, **({"next": next_url} if next_url else {})}
        label = connection.name or connection.get_protocol_display()
        choices.append((label, connection.get_protocol_display(), f"{request.path}?{urlencode(query)}"))
    context = {"organization": live[0].organization, "choices": choices}
    return render(request, "sso/pick_connection.html", context)


@require_safe
def finish(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Finish a round trip in the browser that started it (see sso.signin.flow): sign in, link, test or
    re-authenticate."""
    try:
        pending, identity = flow.take_answered(request, org_slug, request.GET.get("token", ""))
    except SSOSignInRefused as exc:
        return refusal_page(request, exc)
    try:
        outcome = complete(request, pending, identity)
    except SSOSignInRefused as exc:
        return refused_answer(request, pending.connection, pending, exc, details={"subject": identity.subject})
    return redirect(outcome.redirect_to)


def refused_answer(
    request: HttpRequest,
    connection: SSOConnection,
    pending: SSOPendingLogin | None,
    exc: SSOSignInRefused,
    *,
    details: dict[str, Any],
) -> HttpResponse:
    """Answer an IdP answer that was refused (``exc``) at any step, for every protocol: when ``pending`` is a
    connection test, its test run is finished as failed (with ``details``, what is known of the answer, and the
    refusal's message) and the browser goes to its result page; any other refusal gets the refusal page."""
    if pending is not None and pending.purpose == SSOPendingLogin.Purpose.TEST and pending.test_run is not None:
        run = pending.test_run
        actor = actions.test_run_actor(run)
        actions.finish_test_run(run, actor=actor, success=False, details=details, error=exc.message)
        return redirect(actions.tester_result_url(run))
    return refusal_page(request, exc, connection)
