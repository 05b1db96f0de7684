"""Recent authentication ("sudo mode"): sensitive actions need a sign-in within a short window.

A fresh sign-in counts (``orgsecurity.auth.sign_in`` marks it); otherwise the person re-enters their
password, or, for SSO sessions, goes back to their IdP with a forced fresh login. SSO apps register how
to do that per sign-in method with ``register_provider("saml", start)``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core import signing
from django.http import HttpRequest, HttpResponse

from orgsecurity import signin_state
from sessions_policy import clock

# method ("saml", "oidc") -> function(request, next_url) returning the response that starts a forced
# fresh login at the IdP; the IdP's answer must end in mark_reauthenticated().
ReauthProvider = Callable[[HttpRequest, str], HttpResponse]
PROVIDERS: dict[str, ReauthProvider] = {}


# function(request, next_url, signed_action) returning the page that re-authenticates with a second factor, or None
# when the account has none (the password alone then): the twofactor app registers one.
FactorReauth = Callable[[HttpRequest, str, str], "HttpResponse | None"]
FACTOR_REAUTH: list[FactorReauth] = []


def register_factor_reauth(start: FactorReauth) -> None:
    """Let ``start(request, next_url, signed_action)`` take over password re-authentication for accounts with a
    second factor (it returns its page, or None to leave the password form)."""
    if start not in FACTOR_REAUTH:
        FACTOR_REAUTH.append(start)


def register_provider(method: str, start: ReauthProvider) -> None:
    """Make ``start`` the re-authentication flow for sessions signed in with ``method``.

    ``start(request, next_url)`` returns the response that sends the person to their IdP for a forced fresh
    login (SAML ``ForceAuthn="true"``, SAML Core §3.4.1; OIDC ``prompt=login`` and ``max_age=0`` with
    ``auth_time`` checked, OIDC Core §3.1.2.1). When the IdP's answer is verified, call
    ``mark_reauthenticated(request)`` and redirect to ``next_url`` (a local path, already checked): it may be
    the page that asks the person to confirm an interrupted form.
    """
    PROVIDERS[method] = start


def mark_reauthenticated(request: HttpRequest, *, at: float | None = None) -> None:
    """Record that the person proved who they are just now (``at``: Unix seconds, UTC)."""
    signin_state.set_reauthenticated_at(request, int(at if at is not None else clock.timestamp()))


def reauth_max_age(request: HttpRequest, org_slug: str | None = None) -> int:
    """Seconds a re-authentication stays valid: the re-authentication window of ``org_slug``'s session policy
    (the default, ``REAUTH_MAX_AGE_SECONDS``, when it has none); without an organization, the shortest window
    of the person's organizations."""
    from sessions_policy.enforcement import rules_for_request  # enforcement needs models; this module must not

    return rules_for_request(request, org_slug).reauth_max_age_s


def recently_authenticated(request: HttpRequest, max_age: int, *, now: float | None = None) -> bool:
    """True when the session proved its identity less than ``max_age`` seconds ago."""
    at = signin_state.reauthenticated_at(request)
    if at is None:
        return False
    return 0 <= (now if now is not None else clock.timestamp()) - at < max_age


_ACTION_SALT = "sessions_policy.reauth.action"


def sign_action(description: str) -> str:
    """The ``action`` query parameter of the re-authentication page for ``description`` (see
    ``orgsecurity.access.protect_action``), signed so that a link made elsewhere cannot put words on our page."""
    return signing.dumps(description[:120], salt=_ACTION_SALT)


def action_from(signed: str | None) -> str | None:
    """The description in a ``sign_action`` value; None when absent or not made by this server."""
    if not signed:
        return None
    try:
        description = signing.loads(signed, salt=_ACTION_SALT)
    except signing.BadSignature:
        return None
    return description if isinstance(description, str) else None
