"""A first SSO sign-in whose subject (Okta: NameID / sub) or Entra object id is a SCIM user's externalId links that
person's account, whatever email the IdP sends; owners and admins link themselves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from scim.actions import update_settings
from scim.linking import ENTRA_OID_ATTRIBUTE
from sso.assertion import AssertedIdentity
from sso.models import SSOIdentity
from sso.protocols import HANDLERS
from sso.signin import flow
from tests.helpers.scim import user_body
from tests.helpers.sso import IDP_ISSUER, ScriptedIdP


@pytest.fixture
def idp(monkeypatch) -> ScriptedIdP:
    scripted = ScriptedIdP()
    monkeypatch.setitem(HANDLERS, "saml", scripted)
    return scripted


def sign_in(idp, subject, attributes=None):
    browser = Client()
    assert browser.get("/sso/acme/login/").status_code == 302
    pending = idp.started[-1][0]
    claimed = flow.claim(pending.connection, pending.key)
    identity = AssertedIdentity(
        issuer=IDP_ISSUER,
        subject=subject,
        subject_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        attributes={"mail": ["someone.else@elsewhere.test"], **(attributes or {})},
        email_verified=True,
        authenticated_at=datetime.now(UTC),
    )
    return browser, browser.get(flow.answer(claimed, identity))


def test_first_sign_in_links_by_external_id(scim, idp, connection):
    scim.post("Users", user_body("bea@acme.test", external_id="00u1okta"))
    browser, finished = sign_in(idp, "00u1okta")
    assert finished.status_code == 302, finished.content
    linked = SSOIdentity.objects.get(connection=connection)
    assert linked.user.email == "bea@acme.test" and linked.subject == "00u1okta"
    assert browser.get("/orgs/acme/").status_code == 200


def test_entra_object_id_links_when_the_connection_says_so(scim, idp, connection, org, owner):
    update_settings(org, actor=owner, default_role="member", link_attributes={connection.pk: "entra_oid"})
    oid = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
    scim.post("Users", user_body("bea@acme.test", external_id=oid))
    _, finished = sign_in(idp, "some-pairwise-nameid", {ENTRA_OID_ATTRIBUTE: [oid]})
    assert finished.status_code == 302, finished.content
    assert SSOIdentity.objects.get(connection=connection).user.email == "bea@acme.test"


def test_owners_and_admins_link_themselves(scim, idp, connection, admin):
    scim.post("Users", user_body("admin@acme.test", external_id="00u2admin"))
    _, finished = sign_in(idp, "00u2admin")
    assert finished.status_code in (302, 403)
    assert not SSOIdentity.objects.filter(connection=connection).exists()


def test_a_deactivated_scim_user_does_not_link(scim, idp, connection):
    created = scim.post("Users", user_body("bea@acme.test", external_id="00u1okta")).json()
    scim.patch(f"Users/{created['id']}", [{"op": "replace", "path": "active", "value": False}])
    sign_in(idp, "00u1okta")
    assert not SSOIdentity.objects.filter(connection=connection).exists()
