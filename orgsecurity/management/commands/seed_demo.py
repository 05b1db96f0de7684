"""seed_demo: create the demo organization 'acme' (owner, admin, member, two teams, three projects) and a platform
support person, once; with --verify-domain (as `make run` does) also acme's email domain acme.test, verified."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from audit.recorder import Actor
from orgsecurity import actions
from orgsecurity.models import Membership, Organization, Project, Team, User
from orgsecurity.roles import Role

DEMO_PASSWORD = "acme-demo-password"  # noqa: S105 (a documented demo credential for local runs)
DEMO_PEOPLE = [
    ("owner@acme.test", "Olivia Owner", Role.OWNER),
    ("admin@acme.test", "Adam Admin", Role.ADMIN),
    ("member@acme.test", "Mia Member", Role.MEMBER),
]
OUTSIDER = ("outsider@globex.test", "Oscar Outsider")
SUPPORT = ("support@platform.test", "Sam Support")  # platform staff: /support/, and verified acme.test for the demo


class Command(BaseCommand):
    help = "Create the demo organization 'acme' with sample people, teams and projects (does nothing if it exists)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--verify-domain",
            action="store_true",
            help="also verify acme.test for acme (email-first sign-in and JIT provisioning with `make idp`)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if Organization.objects.filter(slug="acme").exists():
            self.stdout.write("The demo organization 'acme' already exists; nothing to do.")
        else:
            self._seed()
            self.stdout.write("Created the demo organization 'acme'.")
        if options["verify_domain"]:
            self._verify_domain()
        self.stdout.write(f"Sign in at {settings.PUBLIC_BASE_URL}/accounts/login/ with any of:")
        for email, _, role in DEMO_PEOPLE:
            self.stdout.write(f"  {email:<24} {role.label:<8} password: {DEMO_PASSWORD}")
        self.stdout.write(f"  {OUTSIDER[0]:<24} outsider (not in acme) password: {DEMO_PASSWORD}")
        self.stdout.write(f"  {SUPPORT[0]:<24} platform support staff (/support/) password: {DEMO_PASSWORD}")

    @transaction.atomic
    def _seed(self) -> None:
        system = Actor.system("seed_demo command")
        users = {}
        for email, name, _ in [*DEMO_PEOPLE, (*OUTSIDER, None)]:
            users[email] = User.objects.filter(email=email).first() or User.objects.create_user(
                email, DEMO_PASSWORD, name=name
            )
        owner_email = DEMO_PEOPLE[0][0]
        acme = actions.create_organization(slug="acme", name="Acme Inc.", owner=users[owner_email], actor=system)
        # includes suspended: the demo's own fresh rows
        memberships = {owner_email: Membership.objects.get(organization=acme, user=users[owner_email])}
        for email, _, role in DEMO_PEOPLE[1:]:
            memberships[email] = actions.add_member(acme, actor=system, user=users[email], role=role, via="seed_demo")
        platform = Team.objects.create(organization=acme, slug="platform", name="Platform")
        data = Team.objects.create(organization=acme, slug="data", name="Data")
        platform.members.add(memberships["admin@acme.test"], memberships["member@acme.test"])
        data.members.add(memberships["admin@acme.test"])
        Project.objects.create(organization=acme, team=platform, slug="web", name="Web app")
        Project.objects.create(organization=acme, team=platform, slug="mobile", name="Mobile app")
        Project.objects.create(organization=acme, team=data, slug="warehouse", name="Data warehouse")
        _support_user()
        if not Organization.objects.filter(slug="globex").exists():
            actions.create_organization(slug="globex", name="Globex Corp.", owner=users[OUTSIDER[0]], actor=system)

    @transaction.atomic
    def _verify_domain(self) -> None:
        from sso.domains import verification as domains  # demo data only: acme's domain, verified by support
        from sso.models import VerifiedDomain

        acme = Organization.objects.get(slug="acme")
        claimed = VerifiedDomain.objects.filter(organization=acme, domain="acme.test").first()
        if claimed is None:
            # includes suspended: the demo's own fresh rows
            owner = acme.memberships.filter(role=Role.OWNER).select_related("user").first().user
            claimed = domains.claim(acme, actor=owner, domain="acme.test")
        if not claimed.is_verified:
            note = "demo organization (seed_demo --verify-domain)"
            domains.verify_by_support(claimed, staff=_support_user(), note=note)
        self.stdout.write("acme's email domain acme.test is verified (email-first sign-in, JIT provisioning).")


def _support_user() -> User:
    """The demo's platform support person (staff), made on first use (a database seeded before it existed)."""
    return User.objects.filter(email=SUPPORT[0]).first() or User.objects.create_user(
        SUPPORT[0], DEMO_PASSWORD, name=SUPPORT[1], is_staff=True
    )
