"""A member's role form carries the version of the role it shows (the admin API's member ETag values): changing a
role that someone else (another admin, SCIM, a program) changed since the page was opened is refused with what
changed, and the members page then shows the saved role (issue 20)."""

from __future__ import annotations

import html
import re

from orgsecurity.actions import change_role
from orgsecurity.models import Membership
from orgsecurity.roles import Role
from orgsecurity.versions import VERSION_FIELD

MEMBERS = "/orgs/acme/members/"


def _stamp(page: str, membership: Membership) -> str:
    form = re.search(rf'<form method="post" action="/orgs/acme/members/{membership.pk}/role/".*?</form>', page, re.S)
    return html.unescape(re.search(rf'name="{VERSION_FIELD}" value="([^"]+)"', form.group(0)).group(1))


def test_a_role_changed_meanwhile_is_not_overwritten(client_for, owner, admin, member, org):
    membership = Membership.objects.get(organization=org, user=member)
    client = client_for(owner)
    stamp = _stamp(client.get(MEMBERS).content.decode(), membership)
    change_role(membership, actor=admin, role=Role.BILLING)  # meanwhile
    answer = client.post(f"{MEMBERS}{membership.pk}/role/", {"role": Role.ADMIN, VERSION_FIELD: stamp})
    assert answer.status_code == 302 and answer["Location"] == MEMBERS
    page = html.unescape(client.get(MEMBERS).content.decode())
    assert "changed since you opened this page" in page and "Role: member → billing" in page
    assert Membership.objects.get(pk=membership.pk).role == Role.BILLING
    fresh = _stamp(client.get(MEMBERS).content.decode(), membership)
    client.post(f"{MEMBERS}{membership.pk}/role/", {"role": Role.ADMIN, VERSION_FIELD: fresh})
    assert Membership.objects.get(pk=membership.pk).role == Role.ADMIN


def test_a_form_of_another_member_is_not_a_version_of_this_one(client_for, owner, admin, member, org):
    mine = Membership.objects.get(organization=org, user=member)
    theirs = Membership.objects.get(organization=org, user=admin)
    client = client_for(owner)
    stamp = _stamp(client.get(MEMBERS).content.decode(), theirs)
    client.post(f"{MEMBERS}{mine.pk}/role/", {"role": Role.BILLING, VERSION_FIELD: stamp})
    assert Membership.objects.get(pk=mine.pk).role == Role.MEMBER
