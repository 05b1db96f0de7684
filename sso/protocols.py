"""The protocol registry: how to start a sign-in at the IdP for each SSO protocol.

The SAML and OIDC parts register a handler for "saml" and "oidc". Everything after the IdP answers is shared
(``sso.signin.flow`` and ``sso.signin``): the protocol code only validates the answer and hands over an
``AssertedIdentity``.
"""

from __future__ import annotations

from typing import Protocol

from django.http import HttpRequest, HttpResponse

from sso.errors import SSOSignInRefused
from sso.models import SSOConnection, SSOPendingLogin, SSOTestRun


class ProtocolHandler(Protocol):
    def start_login(
        self,
        request: HttpRequest,
        connection: SSOConnection,
        *,
        purpose: str,
        next_url: str,
        user=None,
        test_run: SSOTestRun | None = None,
        force_authn: bool = False,
    ) -> HttpResponse:
        """Create the pending login (``sso.signin.flow.begin``) and return the redirect (or auto-POST page) to the IdP.

        ``force_authn`` asks the IdP for a fresh login (SAML ForceAuthn="true", OIDC prompt=login & max_age=0).
        Raises ``sso.errors.SSOSignInRefused`` when the connection cannot start a sign-in (e.g. incomplete config).
        """

    # Optional: ``validation_problems(connection) -> list[str]``, one sentence per reason the connection cannot
    # sign people in right now (e.g. "The IdP signing certificate expired on 2026-03-01."), [] when it can.
    # Enforcement is refused, and a scheduled enforcement postponed, while there is any (see sso.protocols
    # .validation_problems).


HANDLERS: dict[str, ProtocolHandler] = {}


def register(protocol: str, handler: ProtocolHandler) -> None:
    """Make ``handler`` start sign-ins for connections of ``protocol`` ("saml" or "oidc")."""
    HANDLERS[protocol] = handler


def handler_for(connection: SSOConnection) -> ProtocolHandler:
    """The handler for ``connection``'s protocol; raises ``sso.errors.SSOSignInRefused`` when none is installed."""
    try:
        return HANDLERS[connection.protocol]
    except KeyError:
        raise SSOSignInRefused(
            f"Sign-in with {connection.get_protocol_display()} is not available on this server.", code="no_protocol"
        ) from None


def validation_problems(connection: SSOConnection) -> list[str]:
    """Why ``connection`` cannot sign people in right now, one sentence each; [] when nothing is known to be wrong.

    Asks the protocol handler's optional ``validation_problems(connection)`` (e.g. an expired IdP certificate,
    SAML Core §5 / OIDC Core §10 keys); a protocol with no handler installed cannot sign anyone in at all.
    """
    handler = HANDLERS.get(connection.protocol)
    if handler is None:
        return [f"Sign-in with {connection.get_protocol_display()} is not available on this server."]
    check = getattr(handler, "validation_problems", None)
    return [str(problem) for problem in check(connection)] if check is not None else []


def status_warnings(connection: SSOConnection) -> list[str]:
    """What the dashboard and the connection list warn about for ``connection``, one sentence each (the handler's
    optional ``status_warnings(connection)``, e.g. an IdP certificate that expired or expires within 30 days)."""
    warnings = getattr(HANDLERS.get(connection.protocol), "status_warnings", None)
    return [str(warning) for warning in warnings(connection)] if warnings is not None else []


__all__ = [
    "HANDLERS",
    "ProtocolHandler",
    "SSOPendingLogin",
    "handler_for",
    "register",
    "status_warnings",
    "validation_problems",
]
