"""A suspended (deprovisioned) member counts as no member everywhere: every read of memberships in the product goes
through ``Membership.objects.active()`` (or a join with ``memberships__suspended_at__isnull=True``), or says why it
includes suspended ones; and what people notice follows."""

from __future__ import annotations

import re
from pathlib import Path

from django.test import Client

from audit.models import AuditEvent
from orgsecurity import lifecycle
from orgsecurity.actions import ActionRefused, invite_member, usable_owners
from orgsecurity.actors import ProgramActor
from orgsecurity.models import Membership
from orgsecurity.roles import Role
from sso.rollout.readiness import usable_recovery_accounts
from sso.rollout.scheduling import _owner_emails
from tests.helpers.core import add_member, make_user, sign_in_client

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("orgsecurity", "keys", "sessions_policy", "sso", "audit", "allowlist", "scim", "twofactor", "audit_stream")
MARKER = "# includes suspended:"
TOKEN = ProgramActor(type="scim_token", id="1", label="scim_test", role=Role.ADMIN, provisioning=True)
ALLOWED_AFTER_OBJECTS = ("active()", "suspended()", "create(", "none()")


def _product_files():
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_every_membership_read_excludes_suspended_members_or_says_why():
    unexplained = []
    for path in _product_files():
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            explained = MARKER in line or (number > 0 and MARKER in lines[number - 1])
            for match in re.finditer(r"Membership\.objects\.", line):
                if not line[match.end() :].startswith(ALLOWED_AFTER_OBJECTS) and not explained:
                    unexplained.append(f"{path.relative_to(ROOT)}:{number + 1}: {line.strip()}")
            # SQL built from the model (orgsecurity.rows): its WHERE, within the next lines, names suspended_at
            named = any("suspended_at" in later for later in lines[number : number + 4])
            if "table(Membership)" in line and not explained and not named:
                unexplained.append(f"{path.relative_to(ROOT)}:{number + 1}: {line.strip()}")
            joins = re.search(r"memberships__(?!suspended_at)", line)
            if joins and "memberships__suspended_at" not in line and not explained:
                unexplained.append(f"{path.relative_to(ROOT)}:{number + 1}: {line.strip()}")
    assert not unexplained, (
        "Read memberships through Membership.objects.active() (joins: memberships__suspended_at__isnull=True), or "
        f"say why suspended members are included with a '{MARKER} why' comment:\n" + "\n".join(unexplained)
    )


def suspend(user, org):
    Membership.objects.filter(user=user, organization=org).update(suspended_at="2026-01-01T00:00:00Z")


def test_a_suspended_member_gets_404_on_every_org_page(org, owner, member, client_for):
    browser = client_for(member)
    suspend(member, org)
    for path in ("/orgs/acme/", "/orgs/acme/members/", "/orgs/acme/settings/security/sso/", "/orgs/acme/audit/"):
        assert browser.get(path).status_code == 404, path
    # The organization switcher no longer offers it either.
    assert b"/orgs/acme/" not in client_for(member).get("/").content


def test_the_members_page_marks_suspended_members_for_managers_only(org, owner, admin, member, client_for):
    lifecycle.suspend_member(Membership.objects.get(user=member), actor=TOKEN, reason="x")
    page = client_for(admin).get("/orgs/acme/members/")
    assert page.status_code == 200
    assert b"member@acme.test" in page.content
    assert b"Suspended (deprovisioned by SCIM) on" in page.content
    other = make_user("plain@acme.test")
    add_member(org, other, Role.MEMBER)
    plain = client_for(other).get("/orgs/acme/members/")
    assert b"member@acme.test" not in plain.content


def test_a_suspended_owner_is_not_an_owner_who_can_sign_in(org, owner, admin):
    second = make_user("second-owner@acme.test")
    add_member(org, second, Role.OWNER)
    suspend(second, org)
    assert list(usable_owners(org.pk).values_list("user__email", flat=True)) == ["owner@acme.test"]
    # Owner notifications go to the owners who count.
    assert _owner_emails(org) == ["owner@acme.test"]


def test_a_suspended_recovery_account_is_no_way_in(org, owner):
    from sso.recovery import accounts as recovery

    account = recovery.designate(org, actor=owner, membership=Membership.objects.get(user=owner))
    recovery.generate_codes(account, actor=owner)
    assert usable_recovery_accounts(org.pk).count() == 1
    suspend(owner, org)
    assert usable_recovery_accounts(org.pk).count() == 0


def test_a_suspended_member_cannot_be_invited_back_by_hand(org, owner, member):
    suspend(member, org)
    try:
        invite_member(org, actor=owner, email=member.email, role=Role.MEMBER)
    except ActionRefused as refused:
        assert (refused.code, refused.status) == ("member_suspended", 409)
    else:
        raise AssertionError("invited a suspended member")


def test_a_suspended_member_cannot_act(org, owner, admin, member):
    suspend(admin, org)
    try:
        invite_member(org, actor=admin, email="new@acme.test", role=Role.MEMBER)
    except ActionRefused as refused:
        assert refused.code == "not_member"
    else:
        raise AssertionError("a suspended admin invited someone")


def test_sign_in_events_skip_the_organization_of_a_suspended_member(org, member, other_org):
    add_member(other_org, member, Role.MEMBER)
    suspend(member, org)
    signed_in = AuditEvent.objects.filter(action="auth.signed_in", actor_label=member.email)
    sign_in_client(Client(), member)
    assert list(signed_in.values_list("organization__slug", flat=True)) == ["globex"]
