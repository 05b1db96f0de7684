"""Recent authentication ("sudo mode"): sensitive actions need a sign-in within a short window.

A fresh sign-in counts (``orgsecurity.auth.sign_in`` marks it); otherwise the person re-enters their
password, or, for SSO sessions, goes back to their IdP with a forced fresh login. SSO apps register how
to do that per sign-in method with ``register_provider("saml", start)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

SESSION_KEY = "reauth_at"

# method ("saml", "oidc") -> function(request, next_url) returning the response that starts a forced
# fresh login at the IdP; the IdP's answer must end in mark_reauthenticated().
ReauthProvider = Callable[[HttpRequest, str], HttpResponse]
PROVIDERS: dict[str, ReauthProvider] = {}


def register_provider(method: str, start: ReauthProvider) -> None:
    """Make ``start`` the re-authentication flow for sessions signed in with ``method``."""
    PROVIDERS[method] = start


def mark_reauthenticated(request: HttpRequest, *, at: float | None = None) -> None:
    """Record that the person proved who they are just now (``at``: Unix seconds, UTC)."""
    request.session[SESSION_KEY] = int(at if at is not None else time.time())


def reauth_max_age(request: HttpRequest, org_slug: str | None = None) -> int:
    """Seconds a re-authentication stays valid for ``org_slug`` (the site default without an org policy)."""
    return settings.REAUTH_MAX_AGE_SECONDS


def recently_authenticated(request: HttpRequest, max_age: int, *, now: float | None = None) -> bool:
    """True when the session proved its identity less than ``max_age`` seconds ago."""
    at = request.session.get(SESSION_KEY)
    if not isinstance(at, int):
        return False
    return 0 <= (now if now is not None else time.time()) - at < max_age
