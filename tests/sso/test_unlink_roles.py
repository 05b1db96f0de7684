"""Unlinking an SSO identity follows the member rules: admins manage everyone but owners.

Otherwise an admin could unlink every owner from a SAML connection, which lifts the rule that only an owner may
change the IdP an owner signs in through, and then point the connection at an IdP of their own.
"""

from __future__ import annotations

from audit.models import AuditEvent
from sso.models import SSOIdentity
from tests.helpers.core import add_member, make_user
from tests.sso.test_flow import link

BASE = "/orgs/acme/settings/security/sso/"


def test_an_admin_cannot_unlink_an_owners_identity(client_for, owner, admin, connection):
    owners = link(connection, owner, "olivia")
    browser = client_for(admin)
    response = browser.post(f"{BASE}identities/{owners.pk}/unlink/")
    assert response.status_code == 302  # back to the SSO page, which still lists the link, with the reason
    assert "Only owners can unlink an owner" in browser.get(response["Location"]).content.decode()
    assert SSOIdentity.objects.filter(pk=owners.pk).exists()
    assert not AuditEvent.objects.filter(action="sso.identity_unlinked").exists()


def test_admins_unlink_other_roles_and_owners_unlink_anyone(client_for, org, owner, admin, member, connection):
    second_owner = make_user("second@acme.test")
    add_member(org, second_owner, "owner")
    members = link(connection, member, "mia")
    admins = link(connection, admin, "adam")
    owners = link(connection, second_owner, "sam")
    assert client_for(admin).post(f"{BASE}identities/{members.pk}/unlink/").status_code == 302
    assert client_for(owner).post(f"{BASE}identities/{admins.pk}/unlink/").status_code == 302
    assert client_for(owner).post(f"{BASE}identities/{owners.pk}/unlink/").status_code == 302
    assert not SSOIdentity.objects.exists()
