"""SSO exception types. A leaf: it imports nothing of sso (only the core ``orgsecurity.refusals``), so every SSO
module can raise them."""

from __future__ import annotations

from orgsecurity.refusals import Refusal


class SSOSignInRefused(Refusal):
    """An SSO round trip was refused. ``message`` is for the person; ``code`` is stable; ``status`` is the HTTP
    status of the refusal page; nothing was changed."""

    def __init__(self, message: str, *, code: str = "refused", status: int = 403) -> None:
        super().__init__(code, message, status)


class ConfigureError(Exception):
    """A connection could not be configured from the command line (``configure_sso``); ``str(exc)`` says why, never
    containing a secret."""
