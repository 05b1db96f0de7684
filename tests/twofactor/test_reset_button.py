"""The members' two-factor page offers "Reset factors" only where a reset would go through: for an account a reset
refuses (the owner's own, another organization's too, platform staff, a recovery account while 2FA is required),
the button is disabled and the reason, the same sentence the reset would answer, is shown beside it (issue 20)."""

from __future__ import annotations

import html
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from orgsecurity.models import Membership, User
from orgsecurity.roles import Role
from tests.helpers.core import add_member, make_org, make_user
from tests.helpers.twofactor import give_totp
from twofactor import actions

MEMBERS = "/orgs/acme/settings/security/two-factor/members/"


def _cell(page: str, email: str) -> str:
    row = re.search(rf"<tr>\s*<td>[^<]*<small>{re.escape(email)}</small>.*?</tr>", page, re.S)
    assert row, email
    return html.unescape(row.group(0))


def test_refused_accounts_show_why_instead_of_a_button(org, owner, admin, member, client_for, moving_clock):
    other = make_user("shared@acme.test")
    add_member(org, other, Role.MEMBER)
    add_member(make_org("globex", make_user("boss@globex.test"), "Globex"), other, Role.MEMBER)
    staff = make_user("staff@acme.test")
    add_member(org, staff, Role.MEMBER)
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    for user in (owner, admin, member, other, staff):
        give_totp(user)
    page = client_for(owner).get(MEMBERS).content.decode()

    mine = _cell(page, owner.email)
    assert "disabled" in mine and "These are your own second factors: change them on your account page." in mine
    assert "/reset/" not in mine
    shared = _cell(page, other.email)
    assert "disabled" in shared and "also belongs to other organizations" in shared
    assert "platform staff account" in _cell(page, staff.email)
    for user in (member, admin):  # this organization's alone: the working button
        cell = _cell(page, user.email)
        assert "disabled" not in cell and f"{Membership.objects.get(user=user).pk}/reset/" in cell


def test_a_recovery_account_is_refused_only_while_two_factor_is_required(org, owner, admin, client_for, moving_clock):
    from sso.recovery import accounts as recovery

    give_totp(owner)
    give_totp(admin)
    moving_clock.advance(30)
    recovery.designate(org, actor=owner, membership=org.memberships.get(user=admin))
    client = client_for(owner)
    assert "disabled" not in _cell(client.get(MEMBERS).content.decode(), admin.email)
    actions.set_policy(org, actor=owner, required=True, grace_days=0)
    cell = _cell(client.get(MEMBERS).content.decode(), admin.email)
    assert "disabled" in cell and "This is a recovery account and two-factor authentication is required" in cell


def test_the_reasons_cost_the_same_queries_for_one_or_many(org, owner, client_for):
    client = client_for(owner)
    client.get(MEMBERS)
    with CaptureQueriesContext(connection) as few:
        client.get(MEMBERS)
    for number in range(8):
        user = make_user(f"person{number}@acme.test")
        add_member(org, user, Role.MEMBER)
        give_totp(user)
    with CaptureQueriesContext(connection) as many:
        client.get(MEMBERS)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_admins_see_no_reset_column(org, admin, member, client_for):
    give_totp(member)
    page = client_for(admin).get(MEMBERS).content.decode()
    assert "Reset factors" not in page
