"""The "oidc" protocol handler: start an authorization code flow with PKCE, and what the connection page shows.

``start_login`` follows OIDC Core §3.1.2.1: ``response_type=code``, our client ID and redirect URI, the
connection's scopes, a ``state`` that is the key of the server-side pending login (``sso.signin.flow.begin``), a
``nonce``, and a PKCE S256 challenge (RFC 7636 §4.2) whose verifier stays in the pending login. For
re-authentication (``force_authn``) it adds ``prompt=login`` and ``max_age=0`` and the callback then requires
``auth_time``.
"""

from __future__ import annotations

import os
import secrets
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from mozilla_django_oidc.utils import generate_code_challenge

from orgsecurity.versions import loaded_stamp
from sso.errors import ConfigureError, SSOSignInRefused
from sso.models import OIDCSettings, SSOConnection, SSOTestRun
from sso.oidc import versions
from sso.oidc.backend import client_secret
from sso.oidc.commands import configure_oidc
from sso.oidc.config import redirect_uri
from sso.oidc.forms import OIDCSettingsForm
from sso.oidc.presets import PRESETS
from sso.protocols import ProtocolHandler
from sso.signin import flow


def settings_for(connection: SSOConnection) -> OIDCSettings:
    """The connection's OIDC settings; raises SSOSignInRefused (409) when it is not set up yet."""
    oidc = OIDCSettings.objects.filter(connection=connection).select_related("connection__organization").first()
    if oidc is None:
        raise SSOSignInRefused(
            "This OpenID Connect connection is not set up yet. An admin must enter the provider's issuer, client "
            "ID and secret on the SSO page.",
            code="oidc_not_configured",
            status=409,
        )
    return oidc


def authorization_url(endpoint: str, params: dict[str, str]) -> str:
    """``endpoint`` with ``params`` added to whatever query it already has (OIDC Core §3.1.2.1)."""
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"


class OIDCHandler(ProtocolHandler):
    """The "oidc" protocol (``sso.protocols.ProtocolHandler``): starts OIDC sign-ins, configures connections from
    the command line and contributes to the connection page."""

    protocol = SSOConnection.Protocol.OIDC
    create_url_name = "sso:oidc:create"

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
        """Store the pending login (state, nonce, PKCE verifier) and redirect the browser to the provider.

        Raises SSOSignInRefused when the connection is not set up or its client secret cannot be read.
        """
        oidc = settings_for(connection)
        client_secret(oidc)  # refuse now, not after the person signed in at the provider
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
        flow.begin(
            request,
            connection,
            key=state,
            purpose=purpose,
            next_url=next_url,
            user=user,
            test_run=test_run,
            data={"nonce": nonce, "code_verifier": code_verifier, "max_age": 0 if force_authn else None},
        )
        params = {
            "response_type": "code",
            "client_id": oidc.client_id,
            "redirect_uri": redirect_uri(connection),
            "scope": oidc.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": generate_code_challenge(code_verifier, "S256"),
            "code_challenge_method": "S256",
        }
        if force_authn:
            params.update({"prompt": "login", "max_age": "0"})
        return HttpResponseRedirect(authorization_url(oidc.authorization_endpoint, params))

    def config_context(self, request: HttpRequest, connection: SSOConnection) -> dict[str, Any]:
        """Context for templates/sso/oidc/_config.html: the settings, the redirect URI and the settings form."""
        oidc = OIDCSettings.objects.filter(connection=connection).first()
        form = getattr(request, "oidc_settings_form", None) or OIDCSettingsForm(
            initial=OIDCSettingsForm.initial_for(oidc), configured=oidc is not None
        )
        return {
            "oidc": oidc,
            "oidc_redirect_uri": redirect_uri(connection),
            "oidc_form": form,
            "oidc_version": loaded_stamp(versions.settings_values(connection)),
        }

    def configure(self, org_slug: str, options: dict[str, Any]) -> str:
        """``configure_sso --protocol oidc``: needs ``issuer``, ``client_id`` and ``client_secret_env`` (the name
        of the environment variable holding the secret); see ``sso.oidc.commands.configure_oidc``."""
        if options.get("preset") and options["preset"] not in PRESETS:
            raise ConfigureError(f"--preset for oidc is one of: {', '.join(sorted(PRESETS))}.")
        missing = [flag for flag in ("issuer", "client_id", "client_secret_env") if not options.get(flag)]
        if missing:
            names = ", ".join("--" + flag.replace("_", "-") for flag in missing)
            raise ConfigureError(f"--protocol oidc needs {names}.")
        variable = options["client_secret_env"]
        secret = os.environ.get(variable, "")
        if not secret:
            raise ConfigureError(f"The environment variable {variable} is not set or empty.")
        return configure_oidc(
            org_slug,
            issuer=options["issuer"],
            client_id=options["client_id"],
            client_secret=secret,
            name=options.get("name") or "",
            scopes=options.get("scopes"),
            preset=options.get("preset"),
        ).summary()
