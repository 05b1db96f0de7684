"""configure_sso SLUG --protocol oidc --issuer URL --client-id ID --client-secret-env VAR: set up SSO for an org.

Only ``--protocol oidc`` is handled here so far; SAML (``--metadata-url`` / ``--metadata-file``) joins at merge.
The client secret is read from an environment variable, never from the command line (where ``ps`` shows it).
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sso.oidc.commands import ConfigureError, configure_oidc
from sso.oidc.presets import PRESETS


class Command(BaseCommand):
    help = "Create or update an organization's SSO connection (OpenID Connect: issuer, client ID, client secret)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL name of the organization, e.g. acme")
        parser.add_argument("--protocol", required=True, choices=["oidc"], help="oidc (OpenID Connect)")
        parser.add_argument("--issuer", help="The provider's issuer URL; its discovery document is read from there.")
        parser.add_argument("--client-id", help="The client ID the provider gave this application.")
        parser.add_argument(
            "--client-secret-env",
            metavar="VAR",
            help="Environment variable holding the client secret (never pass the secret as an argument).",
        )
        parser.add_argument("--name", default="", help="What your people call the IdP, e.g. 'Okta'.")
        parser.add_argument("--scopes", help="Space-separated scopes (default: openid email profile).")
        parser.add_argument("--preset", choices=sorted(PRESETS), help="Claim mapping preset (default: standard).")

    def handle(self, *args: Any, **options: Any) -> None:
        missing = [flag for flag in ("issuer", "client_id", "client_secret_env") if not options.get(flag)]
        if missing:
            names = ", ".join("--" + flag.replace("_", "-") for flag in missing)
            raise CommandError(f"--protocol oidc needs {names}.")
        variable = options["client_secret_env"]
        secret = os.environ.get(variable, "")
        if not secret:
            raise CommandError(f"The environment variable {variable} is not set or empty.")
        try:
            result = configure_oidc(
                options["slug"],
                issuer=options["issuer"],
                client_id=options["client_id"],
                client_secret=secret,
                name=options["name"],
                scopes=options["scopes"],
                preset=options["preset"],
            )
        except ConfigureError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary())
