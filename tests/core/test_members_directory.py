"""The members page at scale: search, pages, how each member signs in, and a query count that does not grow."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orgsecurity.directory import INVITATIONS_PER_PAGE, MEMBERS_PER_PAGE
from orgsecurity.models import Invitation, Membership, User
from sso.models import SSOConnection, SSOIdentity

URL = "/orgs/acme/members/"


def add_members(org, count: int, prefix: str = "person") -> list[User]:
    users = User.objects.bulk_create(
        [User(email=f"{prefix}{number:04d}@acme.test", name=f"Person {number}") for number in range(count)]
    )
    Membership.objects.bulk_create([Membership(organization=org, user=user, role="member") for user in users])
    return users


def add_invitations(org, inviter, count: int) -> None:
    expires = timezone.now() + dt.timedelta(days=7)
    Invitation.objects.bulk_create(
        [
            Invitation(
                organization=org,
                email=f"invitee{number:04d}@partner.test",
                token_hash=f"{number:064d}",
                invited_by=inviter,
                expires_at=expires,
            )
            for number in range(count)
        ]
    )


def member_emails(html: str) -> list[str]:
    table = html[html.index('<table id="members">') : html.index("</table>")]
    return re.findall(r"<small>([^<@]+@[^<]+)</small></td>", table)


def test_it_checks_access(client_for, owner, member, outsider):
    assert client_for(owner).get(URL, {"q": "x", "page": "2"}).status_code == 200
    assert client_for(member).get(URL, {"q": "x"}).status_code == 200
    assert client_for(outsider).get(URL, {"q": "x"}).status_code == 404


def test_members_come_in_pages_with_links_that_keep_the_search(client_for, org, owner):
    add_members(org, 120)
    client = client_for(owner)
    first = client.get(URL).content.decode()
    assert len(member_emails(first)) == MEMBERS_PER_PAGE
    assert "Members page 1 of 3" in first
    third = client.get(URL, {"page": "3"}).content.decode()
    shown = member_emails(third)
    assert len(shown) == 120 + 1 - 2 * MEMBERS_PER_PAGE  # 121 members with the owner
    assert "person0119@acme.test" in shown
    searched = client.get(URL, {"q": "person00"}).content.decode()  # person0000 … person0099
    assert "100 members matching" in searched and "Members page 1 of 2" in searched
    assert 'href="?q=person00&amp;page=2"' in searched


@pytest.mark.parametrize("page", ["abc", "999", "-1", "0"])
def test_a_bad_page_number_shows_the_nearest_page(client_for, org, owner, page):
    add_members(org, 60)
    response = client_for(owner).get(URL, {"page": page})
    assert response.status_code == 200
    assert member_emails(response.content.decode())


def test_search_finds_members_by_email_or_name_and_says_when_nobody_matches(client_for, org, owner):
    add_members(org, 5)
    client = client_for(owner)
    assert member_emails(client.get(URL, {"q": "PERSON0003"}).content.decode()) == ["person0003@acme.test"]
    assert member_emails(client.get(URL, {"q": "Person 4"}).content.decode()) == ["person0004@acme.test"]
    html = client.get(URL, {"q": "nobody-here"}).content.decode()
    assert "No member matches “nobody-here”." in html


def test_pending_invitations_are_paged_and_searched_so_the_page_stays_small(client_for, org, owner):
    add_invitations(org, owner, 332)
    client = client_for(owner)
    response = client.get(URL)
    html = response.content.decode()
    assert "332 pending invitations" in html
    assert html.count("@partner.test</td>") == INVITATIONS_PER_PAGE
    assert len(response.content) < 60_000  # was 139 KB with every invitation on one page
    found = client.get(URL, {"q": "invitee0331"}).content.decode()
    assert found.count("@partner.test</td>") == 1 and "invitee0331@partner.test" in found


def test_a_plain_member_sees_no_invitations(client_for, org, owner, member):
    add_invitations(org, owner, 3)
    html = client_for(member).get(URL).content.decode()
    assert "@partner.test" not in html and "pending invitation" not in html


def test_each_member_shows_their_sign_in_method_sso_link_and_last_sign_in(client_for, org, owner, member, admin):
    connection_ = SSOConnection.objects.create(organization=org, protocol="saml", status="on")
    SSOIdentity.objects.create(
        connection=connection_,
        user=member,
        issuer="https://idp.acme.test",
        subject_format="email",
        subject="m-123",
        asserted_email="member.alias@acme.test",
    )
    client_for(member, method="saml")
    html = client_for(owner).get(URL).content.decode()
    rows = {
        email: row
        for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
        for email in re.findall(r"<small>(\S+@acme\.test)</small></td>", row)
    }
    assert "SAML SSO" in rows["member@acme.test"]
    assert "Linked <small>as member.alias@acme.test</small>" in rows["member@acme.test"]
    assert "Password" in rows["owner@acme.test"] and "Not linked" in rows["owner@acme.test"]
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", rows["member@acme.test"])
    assert "<small>Never</small>" in rows["admin@acme.test"]  # admin never signed in here


def test_an_identity_at_another_organizations_connection_does_not_count(client_for, org, other_org, owner, member):
    connection_ = SSOConnection.objects.create(organization=other_org, protocol="saml", status="on")
    SSOIdentity.objects.create(
        connection=connection_, user=member, issuer="https://idp.globex.test", subject_format="email", subject="x"
    )
    html = client_for(owner).get(URL, {"q": "member@acme.test"}).content.decode()
    assert "Not linked" in html and "Linked <small>" not in html


def test_the_query_count_does_not_grow_with_the_number_of_rows(client_for, org, owner):
    client = client_for(owner)
    add_members(org, 3, prefix="few")
    add_invitations(org, owner, 3)
    client.get(URL)  # warm the session and caches
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    add_members(org, 200, prefix="many")
    Invitation.objects.filter(organization=org).delete()
    add_invitations(org, owner, 200)
    with CaptureQueriesContext(connection) as many:
        html = client.get(URL).content.decode()
    assert len(member_emails(html)) == MEMBERS_PER_PAGE
    assert len(many.captured_queries) == len(few.captured_queries), [q["sql"] for q in many.captured_queries]
