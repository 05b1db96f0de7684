"""Before a role change that cuts a program off: demoting an admin whose personal read-write key a member may not
hold shows the key by name on a confirmation page (GET, with its CSV) before anything happens; confirming revokes it
with the role change; a change that affects nobody else is made at once (issue 20, found by the walkthrough)."""

from __future__ import annotations

import html

from keys.models import APIKey
from orgsecurity.actions import preview_change_role
from orgsecurity.models import Membership
from orgsecurity.roles import Role
from tests.helpers.adminapi import scoped_key


def _role_url(membership: Membership) -> str:
    return f"/orgs/acme/members/{membership.pk}/role/"


def test_demoting_an_admin_lists_the_key_they_lose_before_anything_changes(org, owner, admin, client_for):
    key, _ = scoped_key(org, admin, [], name="deploy script", permission=APIKey.Permission.READ_WRITE)
    membership = Membership.objects.get(user=admin)
    browser = client_for(owner)

    posted = browser.post(_role_url(membership), {"role": Role.MEMBER})

    assert posted.status_code == 302 and posted["Location"].startswith(_role_url(membership) + "?")
    page = html.unescape(browser.get(posted["Location"]).content.decode())
    assert "Make admin@acme.test Member?" in page
    assert f"{key.prefix} (deploy script)" in page and "revoked" in page
    assert Membership.objects.get(pk=membership.pk).role == Role.ADMIN  # nothing changed yet
    assert APIKey.objects.get(pk=key.pk).revoked_at is None
    csv = browser.get(posted["Location"] + "&format=csv")
    assert key.prefix in csv.content.decode()

    done = browser.post(_role_url(membership), {"role": Role.MEMBER, "confirmed": "1"})

    assert done.status_code == 302 and done["Location"] == "/orgs/acme/members/"
    assert Membership.objects.get(pk=membership.pk).role == Role.MEMBER
    assert APIKey.objects.get(pk=key.pk).revoked_at is not None


def test_a_change_that_affects_nobody_else_is_made_at_once(org, owner, member, client_for):
    membership = Membership.objects.get(user=member)
    response = client_for(owner).post(_role_url(membership), {"role": Role.ADMIN})
    assert response.status_code == 302 and response["Location"] == "/orgs/acme/members/"
    assert Membership.objects.get(pk=membership.pk).role == Role.ADMIN


def test_the_preview_lists_only_what_the_action_revokes(org, owner, admin):
    scoped_key(org, admin, [], name="reader", permission=APIKey.Permission.READ)
    read_write, _ = scoped_key(org, admin, [], name="writer", permission=APIKey.Permission.READ_WRITE)
    membership = Membership.objects.get(user=admin)
    impact = preview_change_role(org, membership, Role.MEMBER)
    listed = {item.name for item in impact.group("keys").items}
    from orgsecurity.actions import change_role

    change_role(membership, actor=owner, role=Role.MEMBER)
    revoked = {f"{key.prefix} ({key.name})" for key in APIKey.objects.filter(revoked_at__isnull=False)}
    assert listed == revoked and f"{read_write.prefix} (writer)" in listed
    assert preview_change_role(org, Membership.objects.get(user=owner), Role.ADMIN).notes  # the last owner
