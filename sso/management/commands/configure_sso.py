"""configure_sso: set up an organization's SSO connection from the command line.

    configure_sso SLUG --protocol saml (--metadata-url URL | --metadata-file PATH) [--name N] [--preset P]
    configure_sso SLUG --protocol oidc --issuer URL --client-id ID --client-secret-env VAR [--scopes S] [--preset P]

Each protocol has its own argument group and a ``configure_<protocol>`` method; ``handle`` dispatches on
``--protocol``. A new connection starts with status off (run "Test SSO", then turn it on); an existing connection of
that protocol is updated. Secrets are read from environment variables, never from the command line (where ``ps``
shows them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.recorder import Actor
from orgsecurity.models import Membership, Organization
from orgsecurity.roles import Role
from sso.models import SSOConnection
from sso.oidc.commands import ConfigureError, configure_oidc
from sso.oidc.presets import PRESETS as OIDC_PRESETS
from sso.saml import actions as saml_actions
from sso.saml.metadata import MAX_METADATA_BYTES, MetadataError, fetch_metadata, parse_idp_metadata
from sso.saml.presets import PRESETS as SAML_PRESETS
from sso.saml.presets import preset_map


class Command(BaseCommand):
    help = "Create or update an organization's SSO connection (SAML from IdP metadata, or OpenID Connect)."
    actor = Actor.system("configure_sso command")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organization, e.g. acme")
        parser.add_argument("--protocol", required=True, choices=["saml", "oidc"], help="The SSO protocol")
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
        presets = SAML_PRESETS if protocol == "saml" else OIDC_PRESETS
        if options.get("preset") and options["preset"] not in presets:
            raise CommandError(f"--preset for {protocol} is one of: {', '.join(sorted(presets))}.")
        getattr(self, f"configure_{protocol}")(slug, **options)

    def configure_oidc(self, slug: str, **options: Any) -> None:
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
                slug,
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

    def configure_saml(self, slug: str, *, metadata_url: str | None, metadata_file: str | None, **options: Any) -> None:
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"There is no organization {slug!r}.")
        if not metadata_url and not metadata_file:
            raise CommandError("--protocol saml needs --metadata-url URL or --metadata-file PATH.")
        try:
            if metadata_url:
                idp = parse_idp_metadata(fetch_metadata(metadata_url))
            else:
                path = Path(metadata_file)
                if not path.is_file():
                    raise CommandError(f"{metadata_file} is not a file.")
                if path.stat().st_size > MAX_METADATA_BYTES:
                    raise CommandError(f"{metadata_file} is too large to be IdP metadata.")
                idp = parse_idp_metadata(path.read_bytes())
        except MetadataError as exc:
            raise CommandError(f"The metadata cannot be used: {exc}") from None
        source = "url" if metadata_url else "xml"
        existing = SSOConnection.objects.filter(organization=organization, protocol="saml", saml__isnull=False).first()
        if existing is not None:
            changes = saml_actions.update_idp(
                existing, actor=self.actor, idp=idp, source=source, metadata_url=metadata_url or ""
            )
            self.stdout.write(
                f"Updated SAML connection {existing.pk} of {organization.slug}: "
                + (", ".join(sorted(changes)) if changes else "nothing changed")
                + "."
            )
            return
        owner = Membership.objects.filter(organization=organization, role=Role.OWNER).order_by("pk").first()
        connection = saml_actions.create_saml_connection(
            organization,
            actor=self.actor,
            admin_owner=owner.user if owner else None,
            idp=idp,
            source=source,
            name=options.get("name") or "",
            metadata_url=metadata_url or "",
            attribute_map=preset_map(options["preset"]) if options.get("preset") else {},
        )
        self.stdout.write(
            f"Created SAML connection {connection.pk} for {organization.slug} (status off) with IdP {idp.entity_id} "
            f"and {len(idp.certificates)} signing certificate(s). Run Test SSO, then turn it on."
        )
