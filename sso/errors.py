"""SSO exception types. A leaf: it imports nothing of sso (only the core ``orgsecurity.refusals``), so every SSO
module can raise them."""

from __future__ import annotations

from orgsecurity.refusals import Refusal

SSO_REFUSAL_TEMPLATE = "sso/refused.html"
"""The page of a refused SSO sign-in (what went wrong, the reference code, back to sign-in), rendered by
``orgsecurity.errors.render_refusal`` for every SSO refusal (``sso.signin.refusals.refusal_page``)."""


class SSOSignInRefused(Refusal):
    """An SSO round trip was refused. ``message`` is for the person; ``code`` is stable; ``status`` is the HTTP
    status of the refusal page (``SSO_REFUSAL_TEMPLATE``, or JSON for programs); nothing was changed."""

    def __init__(self, message: str, *, code: str = "refused", status: int = 403) -> None:
        super().__init__(code, message, status, template=SSO_REFUSAL_TEMPLATE)


class ConfigureError(Exception):
    """A connection could not be configured from the command line (``configure_sso``); ``str(exc)`` says why, never
    containing a secret."""
