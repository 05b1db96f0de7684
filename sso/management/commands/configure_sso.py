"""configure_sso: set up an organization's SSO connection from the command line.

    configure_sso SLUG --protocol saml (--metadata-url URL | --metadata-file PATH) [--name N] [--preset P]
    configure_sso SLUG --protocol oidc --issuer URL --client-id ID --client-secret-env VAR [--scopes S] [--preset P]

Each protocol has its own argument group; ``handle`` hands the options to the protocol handler's ``configure``
(``sso.protocols.ProtocolHandler``). A new connection starts with status off (run "Test SSO", then turn it on);
an existing connection of that protocol is updated. Secrets are read from environment variables, never from the
command line (where ``ps`` shows them).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sso.errors import ConfigureError
from sso.oidc.presets import PRESETS as OIDC_PRESETS
from sso.protocols import HANDLERS
from sso.saml.presets import PRESETS as SAML_PRESETS


class Command(BaseCommand):
    help = "Create or update an organization's SSO connection (SAML from IdP metadata, or OpenID Connect)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organization, e.g. acme")
        parser.add_argument("--protocol", required=True, choices=sorted(HANDLERS), help="The SSO protocol")
        parser.add_argument("--name", default="", help="What your people call the IdP, e.g. 'Okta'")
        parser.add_argument(
            "--preset",
            help=f"Attribute/claim mapping preset: saml {', '.join(sorted(SAML_PRESETS))}; "
            f"oidc {', '.join(sorted(OIDC_PRESETS))}",
        )
        saml = parser.add_argument_group("SAML (--protocol saml)")
        source = saml.add_mutually_exclusive_group()
        source.add_argument("--metadata-url", help="Fetch the IdP metadata from this URL")
        source.add_argument("--metadata-file", help="Read the IdP metadata from this file")
        oidc = parser.add_argument_group("OpenID Connect (--protocol oidc)")
        oidc.add_argument("--issuer", help="The provider's issuer URL; its discovery document is read from there")
        oidc.add_argument("--client-id", help="The client ID the provider gave this application")
        oidc.add_argument(
            "--client-secret-env",
            metavar="VAR",
            help="Environment variable holding the client secret (never pass the secret as an argument)",
        )
        oidc.add_argument("--scopes", help="Space-separated scopes (default: openid email profile)")

    def handle(self, *args: Any, slug: str, protocol: str, **options: Any) -> None:
        try:
            self.stdout.write(HANDLERS[protocol].configure(slug, options))
        except ConfigureError as exc:
            raise CommandError(str(exc)) from exc
