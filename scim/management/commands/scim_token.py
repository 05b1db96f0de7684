"""``python manage.py scim_token SLUG [--name NAME] [--connection ID]``: create a SCIM token for scripted set-up and
print it once (only its keyed hash is stored). Without ``--connection`` the organization's only SSO connection is
used; with several, name one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.recorder import Actor
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Organization
from scim.actions import create_token
from scim.resources import base_url
from sso.models import SSOConnection


class Command(BaseCommand):
    help = "Create a SCIM bearer token for an organization and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organization's slug.")
        parser.add_argument("--name", default="SCIM (command line)", help="A name people recognize the token by.")
        parser.add_argument("--connection", type=int, help="The SSO connection (id) of the IdP that provisions.")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["slug"]).first()
        if organization is None:
            raise CommandError(f"There is no organization {options['slug']!r}.")
        connections = SSOConnection.objects.filter(organization=organization)
        if options["connection"] is not None:
            connections = connections.filter(pk=options["connection"])
        found = list(connections[:2])
        if not found:
            raise CommandError("No such SSO connection in this organization: create the IdP's connection first.")
        if len(found) > 1:
            raise CommandError("This organization has several SSO connections: name one with --connection ID.")
        try:
            token, text = create_token(
                organization, actor=Actor.system("manage.py scim_token"), connection=found[0], name=options["name"]
            )
        except ActionRefused as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"SCIM base URL: {base_url(organization.slug)}")
        self.stdout.write(f"Token {token.prefix} (shown once, store it in your IdP now):")
        self.stdout.write(text)
