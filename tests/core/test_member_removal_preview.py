"""Before a member is removed: what goes with them (``orgsecurity.actions.preview_remove_member``: teams,
invitations they sent, their keys, keys whose secret they saw, their sessions), the confirmation page with its CSV,
and confirming removes them with exactly that."""

from __future__ import annotations

import csv
import io

from django.test import Client

from keys import actions as key_actions
from keys.models import APIKey, ServiceAccount
from orgsecurity import actions
from orgsecurity.models import Invitation, Membership, Team
from sessions_policy.models import UserSession
from tests.helpers.core import sign_in_client


def names(impact, group: str) -> list[str]:
    return [item.name for item in impact.group(group).items]


def setup_admin(org, owner, admin):
    """The admin: on a team, with a pending and a revoked invitation, a personal key, a service-account key
    whose secret they saw, and a signed-in session."""
    membership = Membership.objects.get(user=admin)
    team = Team.objects.create(organization=org, slug="ops", name="Ops")
    team.members.add(membership)
    pending, _ = actions.invite_member(org, actor=admin, email="new@acme.test", role="member")
    revoked, _ = actions.invite_member(org, actor=admin, email="gone@acme.test", role="member")
    actions.revoke_invitation(revoked, actor=owner)
    personal, _ = key_actions.create_api_key(org, actor=admin, name="admin laptop")
    robot = ServiceAccount.objects.create(organization=org, name="robot")
    seen, _ = key_actions.create_api_key(org, actor=admin, name="robot key", service_account=robot)
    owners_key, _ = key_actions.create_api_key(org, actor=owner, name="owner key")
    return membership, {"pending": pending, "personal": personal, "seen": seen, "owners": owners_key}


def test_the_preview_lists_exactly_what_goes_with_the_member(org, owner, admin):
    membership, made = setup_admin(org, owner, admin)
    sign_in_client(Client(), admin)
    impact = actions.preview_remove_member(membership.organization, membership)
    assert names(impact, "person") == ["admin@acme.test"]
    assert names(impact, "teams") == ["Ops"]
    assert names(impact, "invitations") == ["new@acme.test"]
    assert names(impact, "keys") == [f"{made['personal'].prefix} (admin laptop)"]
    assert names(impact, "service_keys") == [f"{made['seen'].prefix} (robot key)"]
    assert names(impact, "sessions") == ["admin@acme.test"]
    assert impact.change == "member.remove"


def test_removing_does_what_the_preview_said(org, owner, admin):
    membership, _ = setup_admin(org, owner, admin)
    impact = actions.preview_remove_member(membership.organization, membership)
    actions.remove_member(membership, actor=owner)
    revoked = set(APIKey.objects.exclude(revoked_at=None).values_list("key_id", flat=True))
    assert revoked == {item.ref for item in impact.group("keys").items}
    flagged = set(APIKey.objects.exclude(flagged_at=None).values_list("key_id", flat=True))
    assert flagged == {item.ref for item in impact.group("service_keys").items}
    gone = set(Invitation.objects.exclude(revoked_at=None).values_list("email", flat=True))
    assert {"new@acme.test"} <= gone
    assert not Team.objects.get(slug="ops").members.exists()


def test_the_confirmation_lists_them_and_confirming_removes(client_for, org, owner, admin):
    membership, made = setup_admin(org, owner, admin)
    client = client_for(owner)
    url = f"/orgs/acme/members/{membership.pk}/remove/"
    assert f'href="{url}"' in client.get("/orgs/acme/members/").content.decode()
    text = client.get(url).content.decode()
    assert "Remove admin@acme.test?" in text
    assert "Teams they leave (1)" in text and "Ops" in text
    assert "new@acme.test" in text and made["personal"].prefix in text and made["seen"].prefix in text
    assert made["owners"].prefix not in text
    rows = list(csv.reader(io.StringIO(client.get(url, {"format": "csv"}).content.decode())))
    assert [row[1] for row in rows[1:]] == [
        "admin@acme.test",
        "Ops",
        "new@acme.test",
        f"{made['personal'].prefix} (admin laptop)",
        f"{made['seen'].prefix} (robot key)",
    ]
    assert Membership.objects.filter(pk=membership.pk).exists()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == "/orgs/acme/members/"
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_the_confirmation_checks_access(client_for, org, owner, member, outsider):
    membership = Membership.objects.get(user=owner)
    url = f"/orgs/acme/members/{membership.pk}/remove/"
    assert client_for(member).get(url).status_code == 403
    assert client_for(outsider).get(url).status_code == 404
    own = Membership.objects.get(user=member)
    text = client_for(member).get(f"/orgs/acme/members/{own.pk}/remove/").content.decode()
    assert "Leave Acme Inc.?" in text
    assert UserSession.objects.filter(user=member).exists()
