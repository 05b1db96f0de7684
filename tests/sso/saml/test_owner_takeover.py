"""An admin who controls an IdP must not become an owner through SSO.

Admins configure SSO, so they can make a connection trust an IdP of their own (new, or by swapping the
certificates of the one owners sign in through) and have it assert an owner's email or NameID. Both paths are
tried here with responses signed by the admin's own keys, the way an attacker would.
"""

from __future__ import annotations

import html

from django.test import Client

from audit.models import AuditEvent
from sso.domains import verification as domains
from sso.models import SAMLSettings, SSOIdentity
from tests.helpers.core import make_user
from tests.helpers.saml import connect, finish_in, post_to_acs, start
from tests.sso.saml.idp import TestIdP
from tests.sso.saml.test_acs import answer, link

BASE = "/orgs/acme/settings/security/sso/"


def verify_acme_domain(org, owner) -> None:
    staff = make_user("staff@platform.test", is_staff=True)
    domains.verify_by_support(domains.claim(org, actor=owner, domain="acme.test"), staff=staff, note="t")


def test_a_connection_an_admin_made_cannot_sign_in_as_an_owner(org, owner, admin, sp):
    verify_acme_domain(org, owner)
    rogue = TestIdP("https://idp.rogue.test/saml/metadata", host="idp.rogue.test")
    connect(org, admin, rogue)
    browser = Client()
    request_id = start(browser)
    response = finish_in(
        browser, post_to_acs(answer(rogue, sp, request_id, name_id="whoever", attributes={"mail": [owner.email]}))
    )
    assert response.status_code == 403
    assert "Owners and admins link their own SSO identity" in html.unescape(response.content.decode())
    assert "_auth_user_id" not in browser.session
    assert browser.get("/orgs/acme/").status_code == 302
    assert not SSOIdentity.objects.filter(user=owner).exists()


def test_an_admin_cannot_swap_the_certificates_of_a_connection_an_owner_signs_in_through(
    client_for, org, owner, admin, test_idp, saml_connection, sp
):
    link(saml_connection, owner, "olivia-1")
    rogue = TestIdP()
    rogue.entity_id = test_idp.entity_id  # same entity ID, the admin's own key
    before = SAMLSettings.objects.get(connection=saml_connection).idp_certificates
    response = client_for(admin).post(
        f"{BASE}saml/{saml_connection.pk}/idp/", {"source": "xml", "metadata_xml": rogue.metadata_xml()}
    )
    assert response.status_code == 403
    assert "only an owner can change which IdP it trusts" in html.unescape(response.content.decode())
    assert SAMLSettings.objects.get(connection=saml_connection).idp_certificates == before
    assert not AuditEvent.objects.filter(action="sso.connection_updated", actor_label=admin.email).exists()

    browser = Client()  # and the admin's key still does not sign anyone in
    request_id = start(browser)
    acs = post_to_acs(answer(rogue, sp, request_id, name_id="olivia-1"))
    assert acs.status_code in {400, 403}
    assert "_auth_user_id" not in browser.session


def test_an_owner_can_roll_the_certificates_and_admins_can_before_owners_link(
    client_for, org, owner, admin, test_idp, saml_connection
):
    rolled = TestIdP()
    rolled.entity_id = test_idp.entity_id
    rolled.extra_certs = [test_idp.cert]
    url = f"{BASE}saml/{saml_connection.pk}/idp/"
    assert client_for(admin).post(url, {"source": "xml", "metadata_xml": rolled.metadata_xml()}).status_code == 302
    link(saml_connection, owner, "olivia-1")
    rolled_again = TestIdP()
    rolled_again.entity_id = test_idp.entity_id
    rolled_again.extra_certs = [rolled.cert]
    response = client_for(owner).post(url, {"source": "xml", "metadata_xml": rolled_again.metadata_xml()})
    assert response.status_code == 302
    assert rolled_again.cert in SAMLSettings.objects.get(connection=saml_connection).idp_certificates
