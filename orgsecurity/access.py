"""The access-check stack of every security view, in one documented order:

1. **organization membership**: someone who is not a member of ``org_slug`` gets 404, as for an organization that
   does not exist (``orgsecurity.accessors.org_for_member``);
2. **role / capability**: a member whose role lacks the capability gets 403;
3. **recent re-authentication**: the person proved who they are within the organization's re-authentication window,
   else they are sent to re-authenticate (the guard an app registers with ``register_reauth_guard``: the
   ``sessions_policy`` app registers ``require_recent_auth`` in its ``ready()``).

So a plain member is told 403 and never asked to re-authenticate for a change they may not make anyway, and an
outsider learns nothing (404). ``require_capability`` applies all three; ``reauthenticated`` applies step 3 alone,
for a view that decided steps 1 and 2 itself (e.g. against the object it acts on: a member revoking their own key).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from orgsecurity.accessors import org_for_member
from orgsecurity.roles import Capability

View = Callable[..., HttpResponse]
ReauthGuard = Callable[[View], View]

_reauth_guards: list[ReauthGuard] = []


def register_reauth_guard(guard: ReauthGuard) -> None:
    """Make ``guard`` step 3 of the stack: a view decorator that runs the view only when the session authenticated
    recently, and otherwise answers with the way to re-authenticate. Call it once, from an ``AppConfig.ready()``;
    a second registration replaces the first."""
    _reauth_guards[:] = [guard]


def _reauth_guard() -> ReauthGuard:
    if not _reauth_guards:
        raise ImproperlyConfigured(
            "No re-authentication guard is registered (orgsecurity.access.register_reauth_guard): add the app that "
            "registers one (sessions_policy) to INSTALLED_APPS."
        )
    return _reauth_guards[0]


def protect_action(request: HttpRequest, description: str) -> None:
    """Name the action a re-authentication during this request protects, as the re-authentication page shows it:
    a phrase completing "Confirm it is you to …", e.g. ``"revoke API key osk_ab12cd34"`` (at most 120 characters
    are kept). Call it before the ``reauthenticated`` view runs."""
    request.protected_action = description[:120]  # type: ignore[attr-defined]


def protecting(description: str) -> Callable[[View], View]:
    """Decorate a view to name the action its re-authentication protects (``protect_action``), for views whose
    ``reauthenticated`` step is not given an ``action=`` through ``require_capability``. Place it above
    ``@reauthenticated``."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if protected_action(request) is None:
                protect_action(request, description)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def protected_action(request: HttpRequest) -> str | None:
    """The description given to ``protect_action`` for this request, or None."""
    return getattr(request, "protected_action", None)


def reauthenticated(view: View) -> View:
    """Step 3 alone: run ``view`` only after a recent re-authentication (the registered guard, looked up on the
    first request, so views may be decorated before the apps are ready). Refuses to run without a guard
    (``ImproperlyConfigured``) rather than let a sensitive view through unchecked."""
    guarded: list[View] = []

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not guarded:
            guarded.append(_reauth_guard()(view))
        return guarded[0](request, *args, **kwargs)

    return wrapped


def require_capability(
    capability: Capability | None, *, reauthenticate: bool = True, action: str | None = None
) -> Callable[[View], View]:
    """Decorate an organization view (one with an ``org_slug`` URL argument) with the whole stack: membership
    (404) → ``capability`` (403; None: any member) → recent re-authentication (skipped with
    ``reauthenticate=False``, for pages that change nothing), whose page names ``action`` (see
    ``protect_action``). The view itself loads its ``OrgContext`` with ``org_for_member`` as before (cached on the
    request: no second query)."""

    def decorator(view: View) -> View:
        inner = reauthenticated(view) if reauthenticate else view

        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            org_for_member(request, kwargs["org_slug"], capability)
            if action is not None and protected_action(request) is None:
                protect_action(request, action)
            return inner(request, *args, **kwargs)

        return wrapped

    return decorator
