"""The protocol registry: how to start a sign-in at the IdP for each SSO protocol.

The SAML and OIDC parts register a handler for "saml" and "oidc". Everything after the IdP answers is shared
(``sso.signin.flow`` and ``sso.signin``): the protocol code only validates the answer and hands over an
``AssertedIdentity``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from django.http import HttpRequest, HttpResponse

from sso.errors import SSOSignInRefused
from sso.models import SSOConnection, SSOPendingLogin, SSOTestRun


class ProtocolHandler(ABC):
    """What every SSO protocol ("saml", "oidc") provides; ``sso.saml.handler`` and ``sso.oidc.handler`` subclass it
    and register an instance in ``SsoConfig.ready()``. Callers iterate ``HANDLERS`` or ask ``handler_for``, never
    branch on the protocol themselves.

    - ``start_login``: create the pending login and send the browser to the IdP (abstract).
    - the answer: each protocol validates its IdP's answer in its own endpoint (SAML ACS, OIDC callback) and hands
      ``sso.signin.flow.answer`` an ``AssertedIdentity``; everything after that is shared.
    - ``configure``: create or update an organization's connection from the command line (``configure_sso``).
    - ``validation_problems`` / ``status_warnings``: why a connection cannot sign in now / what to warn about.
    - ``config_context``: the protocol's part of the connection page.
    - ``create_url_name``: the URL name of the page that adds a connection of this protocol.
    """

    protocol: str = ""
    create_url_name: str = ""

    @abstractmethod
    def start_login(
        self,
        request: HttpRequest,
        connection: SSOConnection,
        *,
        purpose: str,
        next_url: str,
        user: Any = None,
        test_run: SSOTestRun | None = None,
        force_authn: bool = False,
    ) -> HttpResponse:
        """Create the pending login (``sso.signin.flow.begin``) and return the redirect (or auto-POST page) to the IdP.

        ``force_authn`` asks the IdP for a fresh login (SAML ForceAuthn="true", OIDC prompt=login & max_age=0).
        Raises ``sso.errors.SSOSignInRefused`` when the connection cannot start a sign-in (e.g. incomplete config).
        """

    @abstractmethod
    def configure(self, org_slug: str, options: dict[str, Any]) -> str:
        """Create or update the organization's connection of this protocol from ``configure_sso``'s ``options``
        (its parsed command-line flags); returns the lines to print. Raises ``sso.errors.ConfigureError`` (never
        containing a secret) when it cannot."""

    def config_context(self, request: HttpRequest, connection: SSOConnection) -> dict[str, Any]:
        """Context for the protocol's part of the connection page (``templates/sso/<protocol>/_config.html``)."""
        return {}

    def validation_problems(self, connection: SSOConnection) -> list[str]:
        """One sentence per reason ``connection`` cannot sign people in right now (e.g. "The IdP signing
        certificate expired on 2026-03-01."), [] when it can. Enforcement is refused, and a scheduled enforcement
        postponed, while there is any."""
        return []

    def status_warnings(self, connection: SSOConnection) -> list[str]:
        """Short warnings for the dashboard and the connection list (e.g. an IdP certificate expiring soon)."""
        return []


# The statuses in which a connection lets anyone start a sign-in (``sso.rollout.readiness.sign_in_allowed`` without
# a user): on and enforced for everyone, testing for its test group (known only once the IdP answers).
SIGN_IN_STATUSES = frozenset({SSOConnection.Status.TESTING, SSOConnection.Status.ON, SSOConnection.Status.ENFORCED})

HANDLERS: dict[str, ProtocolHandler] = {}


def register(handler: ProtocolHandler) -> None:
    """Make ``handler`` serve connections of ``handler.protocol`` ("saml" or "oidc")."""
    HANDLERS[handler.protocol] = handler


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
    # getattr: a handler need not subclass ProtocolHandler (the test suite's scripted IdP does not).
    check = getattr(handler, "validation_problems", None)
    return [str(problem) for problem in check(connection)] if check is not None else []


def status_warnings(connection: SSOConnection) -> list[str]:
    """What the dashboard and the connection list warn about for ``connection``, one sentence each (the handler's
    ``status_warnings(connection)``, e.g. an IdP certificate that expired or expires within 30 days)."""
    warnings = getattr(HANDLERS.get(connection.protocol), "status_warnings", None)
    return [str(warning) for warning in warnings(connection)] if warnings is not None else []


def sign_in_connection(org_slug: str, protocol: str | None = None) -> SSOConnection | None:
    """The connection members of ``org_slug`` sign in through (of ``protocol`` when given): the first, by id, whose
    status lets anyone start a sign-in (``SIGN_IN_STATUSES``: testing, on or enforced); None when there is none.
    One query, with the organization."""
    connections = SSOConnection.objects.filter(organization__slug=org_slug, status__in=list(SIGN_IN_STATUSES))
    if protocol is not None:
        connections = connections.filter(protocol=protocol)
    return connections.select_related("organization").order_by("pk").first()


__all__ = [
    "HANDLERS",
    "ProtocolHandler",
    "SSOPendingLogin",
    "handler_for",
    "register",
    "sign_in_connection",
    "status_warnings",
    "validation_problems",
]
