"""Provisioning never takes an account over: an email renamed at the IdP renames the linked account only when this
organization alone governs it (never an owner or admin here, an account of another organization too, or platform
staff), so a SCIM token holder cannot rename someone's sign-in email to a mailbox they read and reset the password.
Found by an attack run: the token renamed acme's owner, and the owner of another organization, to attacker@acme.test."""

from __future__ import annotations

import re

from django.core import mail
from django.test import Client

from orgsecurity.models import User
from orgsecurity.roles import Role
from tests.helpers.core import add_member, make_org, make_user
from tests.helpers.scim import user_body


def provision(scim, email: str) -> str:
    response = scim.post("Users", user_body(email))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def rename(scim, scim_id: str, email: str):
    patch = [{"op": "replace", "path": "emails", "value": [{"value": email, "primary": True, "type": "work"}]}]
    return scim.patch(f"Users/{scim_id}", patch)


def test_the_owner_is_never_renamed_so_a_token_holder_cannot_reset_their_password(scim, owner):
    scim_id = provision(scim, "owner@acme.test")

    response = rename(scim, scim_id, "attacker@acme.test")

    assert response.status_code == 409
    assert response.json()["scimType"] == "mutability"
    assert "owners and admins manage their own" in response.json()["detail"]
    owner.refresh_from_db()
    assert owner.email == "owner@acme.test"
    Client().post("/accounts/password/reset/", {"email": "attacker@acme.test"})
    assert not [message for message in mail.outbox if re.search(r"/accounts/reset/", message.body)]


def test_an_admin_is_not_renamed_either(scim, admin):
    scim_id = provision(scim, "admin@acme.test")
    assert rename(scim, scim_id, "someone-else@acme.test").status_code == 409
    admin.refresh_from_db()
    assert admin.email == "admin@acme.test"


def test_an_account_of_another_organization_is_not_renamed(scim, org):
    alice = make_user("alice@acme.test")
    make_org("initrode", alice, "Initrode")  # alice owns another organization and is a plain member here
    scim_id = provision(scim, "alice@acme.test")

    response = rename(scim, scim_id, "alice-renamed@acme.test")

    assert response.status_code == 409
    assert "also belongs to other organizations" in response.json()["detail"]
    alice.refresh_from_db()
    assert alice.email == "alice@acme.test"


def test_platform_staff_are_not_renamed(scim, org):
    staff = make_user("helpdesk@acme.test", is_staff=True)
    add_member(org, staff, Role.MEMBER)
    scim_id = provision(scim, "helpdesk@acme.test")
    assert rename(scim, scim_id, "x@acme.test").status_code == 409
    assert User.objects.filter(email="helpdesk@acme.test").exists()


def test_a_member_only_here_is_still_renamed_as_the_idp_says(scim, org):
    scim_id = provision(scim, "bea@acme.test")
    response = rename(scim, scim_id, "bea.jones@acme.test")
    assert response.status_code == 200, response.content
    assert User.objects.filter(email="bea.jones@acme.test").exists()
    assert not User.objects.filter(email="bea@acme.test").exists()


def test_a_group_mapping_never_demotes_a_recovery_account_and_the_refusal_is_on_record(scim, org, owner, admin):
    from audit.models import AuditEvent
    from orgsecurity.models import Membership
    from scim import actions
    from sso.recovery import accounts as recovery
    from tests.helpers.scim import GROUP_SCHEMA

    recovery.designate(org, actor=owner, membership=org.memberships.get(user=admin))
    actions.save_mapping(org, actor=owner, group_ref="Everyone", role="member")
    bea = provision(scim, "bea@acme.test")
    ids = [provision(scim, "admin@acme.test"), bea]

    response = scim.post(
        "Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Everyone", "members": [{"value": i} for i in ids]}
    )

    assert response.status_code == 201, response.content
    roles = dict(Membership.objects.filter(organization=org).values_list("user__email", "role"))
    assert roles["admin@acme.test"] == "admin"  # the break-glass account keeps working
    assert roles["bea@acme.test"] == "member"
    refused = AuditEvent.objects.get(organization=org, action="member.deprovision_refused")
    assert refused.details["code"] == "recovery_account" and refused.details["attempted"] == "demote"
