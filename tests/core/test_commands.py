"""Management commands: createorg and seed_demo print what they did and fail with clear messages."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from orgsecurity.models import Membership, Organization, Project, Team, User


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_createorg_creates_the_org_and_its_owner(db, monkeypatch):
    monkeypatch.setenv("OWNER_PASSWORD", "a long enough passphrase")
    output = run(
        "createorg",
        "initech",
        "--name",
        "Initech",
        "--owner",
        "Boss@Initech.test",
        "--password-from-env",
        "OWNER_PASSWORD",
    )
    assert "Created organization initech" in output
    user = User.objects.get(email="boss@initech.test")
    assert user.check_password("a long enough passphrase")
    assert Membership.objects.get(user=user).role == "owner"
    assert AuditEvent.objects.filter(action="org.created", organization__slug="initech").exists()


def test_createorg_without_password_says_how_to_set_one(db):
    output = run("createorg", "initech", "--name", "Initech", "--owner", "boss@initech.test")
    assert "changepassword" in output
    assert not User.objects.get(email="boss@initech.test").has_usable_password()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad Slug!", "--name", "X", "--owner", "a@b.test"], "lower-case letters"),
        (["ok", "--name", "X", "--owner", "not-an-email"], "valid email"),
        (["ok", "--name", "X", "--owner", "a@b.test", "--password-from-env", "NOPE_UNSET"], "NOPE_UNSET is not set"),
    ],
)
def test_createorg_refuses_bad_input(db, args, message):
    with pytest.raises(CommandError, match=message):
        run("createorg", *args)
    assert not Organization.objects.exists()


def test_createorg_refuses_a_taken_slug_and_changes_nothing(db):
    run("createorg", "initech", "--name", "Initech", "--owner", "boss@initech.test")
    with pytest.raises(CommandError, match="already taken"):
        run("createorg", "initech", "--name", "Other", "--owner", "other@initech.test")
    assert not User.objects.filter(email="other@initech.test").exists()


def test_seed_demo_runs_once(db):
    first = run("seed_demo")
    assert "owner@acme.test" in first and "acme-demo-password" in first
    acme = Organization.objects.get(slug="acme")
    assert sorted(acme.memberships.values_list("role", flat=True)) == ["admin", "member", "owner"]
    assert Team.objects.filter(organization=acme).count() == 2
    assert Project.objects.filter(organization=acme).count() == 3
    second = run("seed_demo")
    assert "already exists" in second
    assert Organization.objects.get(slug="acme").memberships.count() == 3


def test_the_demo_org_routes_its_email_domain_and_has_a_support_person(db):
    """make idp's people sign in email-first and by JIT: acme.test is verified; support staff see /support/."""
    from sso.domains.verification import verified_domain_for

    assert "support@platform.test" in run("seed_demo")
    assert verified_domain_for("newhire@acme.test") is None
    assert "acme.test is verified" in run("seed_demo", "--verify-domain")
    assert verified_domain_for("newhire@acme.test").organization.slug == "acme"
    assert "acme.test is verified" in run("seed_demo", "--verify-domain")  # again: nothing changes
    support = User.objects.get(email="support@platform.test")
    assert support.is_staff and support.check_password("acme-demo-password")
