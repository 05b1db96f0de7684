"""audit_stream SLUG add|list|remove: scripted set-up of an organization's audit stream destinations.

- ``add --kind webhook|hec|syslog --url URL [--token-env VAR] [--ca-file PATH] [--name NAME] [--batch-size N]``
  prints the new destination's id and, for a webhook, its signing secret (the only time it is shown). An HEC token
  is read from the environment variable VAR (never from the command line, where process listings show it).
- ``list`` prints one line per destination: id, kind, status, URL, last delivered sequence, lag, last error.
- ``remove ID`` deletes one destination of that organization.

Changes are recorded in the organization's audit log as the platform's system actor ("audit_stream command").
Exit status 2 for an unknown organization or destination, 1 for a refused change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.recorder import Actor
from audit_stream import actions, delivery
from audit_stream.models import Destination, Kind
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Organization

ACTOR = Actor.system("audit_stream command")


class Command(BaseCommand):
    help = "Add, list or remove an organization's audit stream destinations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organization, e.g. acme")
        sub = parser.add_subparsers(dest="operation", required=True)
        add = sub.add_parser("add", help="Add a destination")
        add.add_argument("--kind", required=True, choices=Kind.values)
        add.add_argument("--url", required=True, help="https://… (webhook, HEC) or tls://host:port (syslog)")
        add.add_argument("--token-env", help="Environment variable holding the Splunk HEC token")
        add.add_argument("--ca-file", help="PEM file of the CA to trust instead of the system roots")
        add.add_argument("--name", default="")
        add.add_argument("--batch-size", type=int)
        sub.add_parser("list", help="List the destinations and their status")
        remove = sub.add_parser("remove", help="Remove a destination")
        remove.add_argument("id", type=int)

    def handle(self, *args: Any, slug: str, operation: str, **options: Any) -> None:
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"There is no organization with the slug {slug!r}.", returncode=2)
        try:
            getattr(self, f"_{operation}")(organization, **options)
        except ActionRefused as exc:
            raise CommandError(exc.message, returncode=1) from None

    def _add(self, organization: Organization, **options: Any) -> None:
        token = ""
        if options.get("token_env"):
            token = os.environ.get(options["token_env"], "")
            if not token:
                raise CommandError(f"The environment variable {options['token_env']} is empty or not set.")
        ca_pem = ""
        if options.get("ca_file"):
            try:
                ca_pem = Path(options["ca_file"]).read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"The CA file {options['ca_file']} cannot be read: {exc}.") from None
        created = actions.create_destination(
            organization,
            actor=ACTOR,
            kind=options["kind"],
            url=options["url"],
            name=options.get("name") or "",
            token=token,
            ca_pem=ca_pem,
            batch_size=options.get("batch_size"),
        )
        self.stdout.write(str(created.destination.pk))
        if created.signing_secret:
            self.stdout.write(f"signing secret (shown once): {created.signing_secret}")

    def _list(self, organization: Organization, **options: Any) -> None:
        for destination in Destination.objects.filter(organization=organization).order_by("pk"):
            lag = delivery.lag(destination)
            error = f" last error: {destination.last_error}" if destination.last_error else ""
            self.stdout.write(
                f"{destination.pk} {destination.kind} {destination.status} {destination.url} "
                f"delivered through #{destination.cursor_seq}, lag {lag.events} events / {lag.seconds:.0f} s"
                f"{error}"
            )

    def _remove(self, organization: Organization, **options: Any) -> None:
        destination = Destination.objects.filter(organization=organization, pk=options["id"]).first()
        if destination is None:
            raise CommandError(f"{organization.slug} has no destination {options['id']}.", returncode=2)
        actions.remove_destination(destination, actor=ACTOR)
        self.stdout.write(f"removed {destination.pk}")
