"""audit_verify [SLUG]: walk the audit hash chains and report the first broken link of each.

Without SLUG it checks every organization (by slug) and then the platform log. Each chain gets one line,
``<scope>: ok, N events (head <hash>)`` or ``<scope>: BROKEN at event #K (<kind>): <what was found>``.
Exit status: 0 when every chain checked is intact, 1 when any is broken, 2 for an unknown SLUG.
A chain pruned by audit retention is verified from its anchor (the last pruned event's position and hash), and says
so; an anchor that no recorded prune (``audit.pruned``) accounts for is reported as ``BROKEN … (anchor moved)``.
Keep the printed head hashes somewhere else: a rewrite of a whole chain tail and its head is only detectable against
an earlier head.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.chain import ChainReport, verify_chain
from orgsecurity.models import Organization


class Command(BaseCommand):
    help = "Verify the audit hash chains (one organization, or all plus the platform log)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", nargs="?", help="Only this organization's chain, e.g. acme")

    def handle(self, *args: Any, slug: str | None = None, **options: Any) -> None:
        if slug is not None:
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                raise CommandError(f"There is no organization with the slug {slug!r}.", returncode=2)
            chains: list[tuple[str, Organization | None]] = [(organization.slug, organization)]
        else:
            chains = [(org.slug, org) for org in Organization.objects.order_by("slug").iterator()]
            chains.append(("platform", None))
        broken = 0
        for label, organization in chains:
            report = verify_chain(organization)
            self.stdout.write(f"{label}: {describe(report)}")
            broken += not report.ok
        if broken:
            raise CommandError(
                f"{broken} of {len(chains)} audit chain{'s' if len(chains) != 1 else ''} "
                f"{'is' if broken == 1 else 'are'} broken.",
                returncode=1,
            )


def describe(report: ChainReport) -> str:
    """The one-line verdict for a chain."""
    if report.ok:
        after = f" after the retention anchor #{report.anchor_seq}" if report.anchor_seq else ""
        return f"ok, {report.checked} event{'s' if report.checked != 1 else ''}{after} (head {report.head_hash})"
    return f"BROKEN at event #{report.broken_seq} ({report.kind}): {report.problem}"
