"""createorg SLUG --name NAME --owner EMAIL [--password-from-env VAR]: create an organization and its owner."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from audit.recorder import Actor
from orgsecurity import actions
from orgsecurity.models import User, normalize_email, slug_validator


class Command(BaseCommand):
    help = "Create an organization with an owner (an existing user, or a new one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL name of the organization, e.g. acme")
        parser.add_argument("--name", required=True, help="Display name, e.g. 'Acme Inc.'")
        parser.add_argument("--owner", required=True, help="Email of the first owner")
        parser.add_argument(
            "--password-from-env",
            metavar="VAR",
            help="Environment variable holding the password for a new owner account (never pass it as an argument).",
        )

    def handle(self, *args: Any, slug: str, name: str, owner: str, password_from_env: str | None, **_: Any) -> None:
        email = normalize_email(owner)
        try:
            slug_validator(slug)
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        password = None
        if password_from_env:
            password = os.environ.get(password_from_env)
            if not password:
                raise CommandError(f"The environment variable {password_from_env} is not set or empty.")
        with transaction.atomic():
            user = User.objects.filter(email=email).first()
            created_user = user is None
            if created_user:
                if password:
                    try:
                        validate_password(password, User(email=email))
                    except ValidationError as exc:
                        raise CommandError("The password is too weak: " + " ".join(exc.messages)) from exc
                user = User.objects.create_user(email, password)
            try:
                actions.create_organization(slug=slug, name=name, owner=user, actor=Actor.system("createorg command"))
            except actions.ActionRefused as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(f"Created organization {slug} ({name}) with owner {email}.")
        if created_user and not password:
            self.stdout.write(f"{email} has no password yet: run `python manage.py changepassword {email}` to set one.")
