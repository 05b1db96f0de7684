"""The "Provisioning (SCIM)" section of the SSO page, token creation shown once, revocation, settings, the mapping
page with its preview, the members page marker, the management command and the test-only setting's check."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from orgsecurity.roles import Role
from scim.checks import refuse_any_domain_outside_tests
from scim.models import GroupMapping, ScimToken
from tests.helpers.scim import ScimClient, user_body

SSO_PAGE = "/orgs/acme/settings/security/sso/"


def test_it_checks_access(client_for, owner, admin, member, outsider, connection):
    assert "Provisioning (SCIM)" in client_for(owner).get(SSO_PAGE).content.decode()
    assert "Provisioning (SCIM)" in client_for(admin).get(SSO_PAGE).content.decode()
    assert "Provisioning (SCIM)" not in client_for(member).get(SSO_PAGE).content.decode()
    assert client_for(outsider).get(SSO_PAGE).status_code == 404
    mappings = "/orgs/acme/settings/security/scim/mappings/"
    assert client_for(owner).get(mappings).status_code == 200
    assert client_for(member).get(mappings).status_code == 403
    assert client_for(outsider).get(mappings).status_code == 404
    create = "/orgs/acme/settings/security/scim/tokens/"
    assert client_for(admin).post(create, {"connection": connection.pk}).status_code == 403
    assert client_for(member).post(create, {"connection": connection.pk}).status_code == 403
    assert client_for(outsider).post(create, {"connection": connection.pk}).status_code == 404
    assert not ScimToken.objects.exists()


def test_owner_creates_a_token_shown_once_that_works(client_for, owner, connection, acme_domain):
    browser = client_for(owner)
    response = browser.post(
        "/orgs/acme/settings/security/scim/tokens/", {"connection": connection.pk, "name": "Entra ID"}
    )
    assert response.status_code == 302
    page = browser.get(response["Location"])
    assert page.status_code == 200
    secret = re.search(r'value="(scim_[0-9A-Za-z]{48})"', page.content.decode()).group(1)
    assert "data-copy" in page.content.decode()
    assert browser.get(response["Location"]).status_code == 410  # shown once
    assert ScimClient(secret).post("Users", user_body("bea@acme.test")).status_code == 201
    section = browser.get(SSO_PAGE).content.decode()
    assert "https://testserver/scim/v2/acme/" in section
    assert "provisioned the SCIM user" in section and ScimToken.objects.get().prefix in section
    assert "scim.user_created" not in section  # people read sentences, not action codes


def test_owner_revokes_a_token(client_for, owner, scim):
    token = ScimToken.objects.get()
    response = client_for(owner).post(f"/orgs/acme/settings/security/scim/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    assert scim.get("Users").status_code == 401


def test_mapping_preview_then_save(client_for, owner, scim, org):
    browser = client_for(owner)
    scim.post("Users", user_body("bea@acme.test"))
    page = browser.get("/orgs/acme/settings/security/scim/mappings/", {"group_ref": "Ops", "role": "admin"})
    assert page.status_code == 200
    assert not GroupMapping.objects.exists()
    saved = browser.post("/orgs/acme/settings/security/scim/mappings/", {"group_ref": "Ops", "role": "admin"})
    assert saved.status_code == 302
    assert GroupMapping.objects.get().role == Role.ADMIN


def test_members_page_marks_scim_managed_members_and_removal_warns(client_for, owner, scim, org):
    scim.post("Users", user_body("bea@acme.test"))
    browser = client_for(owner)
    page = browser.get("/orgs/acme/members/").content.decode()
    assert "Managed by SCIM: the IdP overwrites manual role changes and removals" in page
    membership = org.memberships.get(user__email="bea@acme.test")
    removal = browser.get(f"/orgs/acme/members/{membership.pk}/remove/").content.decode()
    assert "the IdP will overwrite this removal" in removal


def test_scim_token_command_prints_a_working_token_once(org, connection, acme_domain):
    out = StringIO()
    call_command("scim_token", "acme", "--name", "scripted", stdout=out)
    secret = re.search(r"scim_[0-9A-Za-z]{48}", out.getvalue()).group(0)
    assert ScimClient(secret).get("Users").status_code == 200
    assert ScimToken.objects.get().name == "scripted"


@pytest.mark.parametrize(("module", "errors"), [("tests.settings", 0), ("orgsecurity.settings", 1)])
def test_any_domain_setting_is_refused_outside_tests(module, errors):
    with override_settings(SCIM_ACCEPT_ANY_EMAIL_DOMAIN=True, SETTINGS_MODULE=module):
        assert len(refuse_any_domain_outside_tests()) == errors
