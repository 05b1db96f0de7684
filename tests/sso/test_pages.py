"""SSO organization pages: access, general settings, status moves, unlinking."""

from __future__ import annotations

import json

from audit.models import AuditEvent
from sso.connections import actions
from sso.models import SSOConnection, SSOIdentity
from tests.sso.test_flow import link

BASE = "/orgs/acme/settings/security/sso/"


def test_it_checks_access_to_the_index(client_for, owner, member, outsider, connection):
    owner_page = client_for(owner).get(BASE)
    assert owner_page.status_code == 200 and b"Acme IdP" in owner_page.content
    member_page = client_for(member).get(BASE)
    assert member_page.status_code == 200
    assert b"Link SSO" in member_page.content and b"Acme IdP" not in member_page.content
    assert client_for(outsider).get(BASE).status_code == 404


def test_it_checks_access_to_a_connection(client_for, owner, member, outsider, connection, other_org):
    url = f"{BASE}{connection.pk}/"
    assert client_for(owner).get(url).status_code == 200
    assert client_for(member).get(url).status_code == 403
    assert client_for(outsider).get(url).status_code == 404
    foreign = actions.create_connection(other_org, actor=other_org.memberships.get().user, protocol="oidc")
    assert client_for(owner).get(f"{BASE}{foreign.pk}/").status_code == 404


def settings_payload(owner, **overrides):
    data = {
        "name": "Okta",
        "admin_owner": owner.pk,
        "jit_default_role": "member",
        "attribute_map": json.dumps({"email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"}),
    }
    return {**data, **overrides}


def test_general_settings_are_saved_and_audited(client_for, owner, connection):
    response = client_for(owner).post(f"{BASE}{connection.pk}/settings/", settings_payload(owner))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.name == "Okta"
    assert connection.attribute_map["email"].endswith("/claims/emailaddress")
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("seq")
    assert event.changes["name"] == ["Acme IdP", "Okta"]


def test_bad_settings_show_errors_and_save_nothing(client_for, owner, member, connection):
    client = client_for(owner)
    response = client.post(f"{BASE}{connection.pk}/settings/", settings_payload(owner, attribute_map="{nope"))
    assert response.status_code == 400
    assert b"This is not valid JSON" in response.content
    response = client.post(f"{BASE}{connection.pk}/settings/", settings_payload(owner, admin_owner=member.pk))
    assert response.status_code == 400
    response = client.post(f"{BASE}{connection.pk}/settings/", settings_payload(owner, attribute_map='{"shoe": "x"}'))
    assert b"Unknown profile fields: shoe" in response.content
    connection.refresh_from_db()
    assert connection.name == "Acme IdP"


def test_status_moves_and_refusals(client_for, owner, member, connection):
    client = client_for(owner)
    assert client.post(f"{BASE}{connection.pk}/status/", {"status": "off"}).status_code == 302
    assert SSOConnection.objects.get(pk=connection.pk).status == "off"
    # Enforcement is not one of this page's moves: it goes through the confirmation page (typed slug).
    response = client.post(f"{BASE}{connection.pk}/status/", {"status": "enforced"})
    assert response.status_code == 400 and b"Choose one of the listed statuses" in response.content
    assert client_for(member).post(f"{BASE}{connection.pk}/status/", {"status": "on"}).status_code == 403
    assert SSOConnection.objects.get(pk=connection.pk).status == "off"


def test_members_unlink_only_themselves(client_for, owner, admin, member, connection):
    mine = link(connection, member, "mia")
    theirs = link(connection, admin, "adam")
    client = client_for(member)
    assert client.post(f"{BASE}identities/{theirs.pk}/unlink/").status_code == 404
    assert client.post(f"{BASE}identities/{mine.pk}/unlink/").status_code == 302
    assert list(SSOIdentity.objects.values_list("subject", flat=True)) == ["adam"]
    assert client_for(owner).post(f"{BASE}identities/{theirs.pk}/unlink/").status_code == 302
    assert not SSOIdentity.objects.exists()
