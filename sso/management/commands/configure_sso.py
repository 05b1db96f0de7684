"""configure_sso SLUG --protocol saml (--metadata-url URL | --metadata-file PATH): set up an organization's SSO.

Each protocol adds its own argument group and a ``configure_<protocol>`` method; ``handle`` dispatches on
``--protocol``. The connection is created with status off (run "Test SSO", then turn it on) or, if the
organization already has a connection of that protocol, its IdP side is updated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.recorder import Actor
from orgsecurity.models import Membership, Organization
from orgsecurity.roles import Role
from sso.models import SSOConnection
from sso.saml import actions as saml_actions
from sso.saml.metadata import MAX_METADATA_BYTES, MetadataError, fetch_metadata, parse_idp_metadata
from sso.saml.presets import PRESETS, preset_map


class Command(BaseCommand):
    help = "Create or update an organization's SSO connection from the IdP's metadata."
    actor = Actor.system("configure_sso command")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organization, e.g. acme")
        parser.add_argument("--protocol", required=True, choices=["saml"], help="The SSO protocol")
        parser.add_argument("--name", default="", help="What your people call the IdP, e.g. 'Okta'")
        saml = parser.add_argument_group("SAML (--protocol saml)")
        source = saml.add_mutually_exclusive_group()
        source.add_argument("--metadata-url", help="Fetch the IdP metadata from this URL")
        source.add_argument("--metadata-file", help="Read the IdP metadata from this file")
        saml.add_argument("--preset", choices=sorted(PRESETS), help="Attribute mapping preset for a new connection")

    def handle(self, *args: Any, slug: str, protocol: str, **options: Any) -> None:
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"There is no organization {slug!r}.")
        getattr(self, f"configure_{protocol}")(organization, **options)

    def configure_saml(
        self, organization: Organization, *, metadata_url: str | None, metadata_file: str | None, **options: Any
    ) -> None:
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
