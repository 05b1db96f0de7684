"""The SSO connection page's forms carry the version they were loaded at (issue 20): saving the general settings
(attribute mapping, IdP MFA, JIT…), the SAML options, an attribute mapping preset or the IdP settings over a change
made meanwhile, by another admin or by the admin API, is refused with "changed since you opened this page" and what
changed; the other change stands, and the page then shows the saved state, from which the change saves."""

from __future__ import annotations

import html

from audit.models import AuditEvent
from sso.connections import actions as sso_actions
from sso.models import SAMLSettings, SSOConnection
from sso.saml import actions as saml_actions
from sso.saml.metadata import parse_idp_metadata
from tests.helpers.adminapi import allow_api_changes, call, scoped_key
from tests.helpers.versions import form_version
from tests.sso.saml.idp import TestIdP

BASE = "/orgs/acme/settings/security/sso/"
REFUSED = "These settings were changed since you opened this page, so nothing was saved."


def page_of(client, connection: SSOConnection) -> str:
    return client.get(f"{BASE}{connection.pk}/").content.decode()


def general(connection: SSOConnection, **overrides) -> dict:
    data = {
        "name": connection.name,
        "admin_owner": str(connection.admin_owner_id),
        "jit_default_role": "member",
        "attribute_map": '{"email": "email"}',
        "idp_mfa_values": "",
    }
    return {**data, **overrides}


def test_general_settings_saved_over_an_admin_api_change_are_refused(client_for, owner, org, saml_connection):
    url = f"{BASE}{saml_connection.pk}/settings/"
    client = client_for(owner)
    version, before = form_version(page_of(client, saml_connection), url), saml_connection.name
    # Meanwhile a program renames the connection through the admin API, with its ETag.
    allow_api_changes(org, owner)
    _, token = scoped_key(org, owner, ["security:read", "security:write"])
    api = f"/api/v1/orgs/acme/sso/connections/{saml_connection.pk}"
    patched = call(
        "PATCH", api, token, {"name": "Okta (from Terraform)"}, **{"If-Match": call("GET", api, token)["ETag"]}
    )
    assert patched.status_code == 200, patched.content
    stale = client.post(url, {**general(saml_connection, name="Entra"), "allow_jit": "on", "loaded_version": version})
    assert stale.status_code == 302 and stale["Location"] == f"{BASE}{saml_connection.pk}/"
    page = html.unescape(page_of(client, saml_connection))
    assert REFUSED in page and f"Name: {before} → Okta (from Terraform)" in page
    assert 'value="Okta (from Terraform)"' in page  # the form shows the saved name
    saml_connection.refresh_from_db()
    assert saml_connection.name == "Okta (from Terraform)" and not saml_connection.allow_jit
    # From the page as it is now, the change saves.
    again = client.post(
        url, {**general(saml_connection, name="Entra"), "allow_jit": "on", "loaded_version": form_version(page, url)}
    )
    assert again.status_code == 302
    saml_connection.refresh_from_db()
    assert saml_connection.name == "Entra" and saml_connection.allow_jit


def test_requiring_idp_mfa_over_another_admins_change_is_refused(client_for, owner, admin, saml_connection):
    url = f"{BASE}{saml_connection.pk}/settings/"
    client = client_for(owner)
    version = form_version(page_of(client, saml_connection), url)
    sso_actions.update_connection(
        saml_connection, actor=admin, attribute_map={"email": "mail", "first_name": "givenName"}
    )
    stale = client.post(
        url, {**general(saml_connection), "require_idp_mfa": "on", "idp_mfa_values": "mfa", "loaded_version": version}
    )
    assert stale.status_code == 302
    page = html.unescape(page_of(client, saml_connection))
    assert REFUSED in page and "→ {'email': 'mail', 'first_name': 'givenName'}" in page
    saml_connection.refresh_from_db()
    assert saml_connection.attribute_map == {"email": "mail", "first_name": "givenName"}
    assert not saml_connection.require_idp_mfa


def test_saml_options_saved_over_another_admins_change_are_refused(client_for, owner, admin, saml_connection):
    url = f"{BASE}saml/{saml_connection.pk}/options/"
    client = client_for(owner)
    version = form_version(page_of(client, saml_connection), url)
    saml_actions.set_options(saml_connection, actor=admin, refuse_expired_certificates=True)
    stale = client.post(url, {"allow_idp_initiated": "on", "loaded_version": version})
    assert stale.status_code == 302
    page = html.unescape(page_of(client, saml_connection))
    assert REFUSED in page and "Refuse expired IdP certificates: off → on" in page
    saml = SAMLSettings.objects.get(connection=saml_connection)
    assert saml.refuse_expired_certificates and not saml.allow_idp_initiated
    assert (
        AuditEvent.objects.filter(action="sso.connection_updated", changes__has_key="allow_idp_initiated").count() == 0
    )
    again = client.post(
        url,
        {"allow_idp_initiated": "on", "refuse_expired_certificates": "on", "loaded_version": form_version(page, url)},
    )
    assert again.status_code == 302
    assert SAMLSettings.objects.get(connection=saml_connection).allow_idp_initiated


def test_a_preset_applied_over_a_mapping_changed_meanwhile_is_refused(client_for, owner, admin, saml_connection):
    url = f"{BASE}saml/{saml_connection.pk}/preset/"
    client = client_for(owner)
    version = form_version(page_of(client, saml_connection), url)
    sso_actions.update_connection(saml_connection, actor=admin, attribute_map={"email": "mail"})
    stale = client.post(url, {"preset": "entra", "loaded_version": version})
    assert stale.status_code == 302
    page = html.unescape(page_of(client, saml_connection))
    assert REFUSED in page and "Attribute mapping:" in page
    saml_connection.refresh_from_db()
    assert saml_connection.attribute_map == {"email": "mail"}


def test_idp_settings_saved_over_a_new_certificate_are_refused(client_for, owner, admin, saml_connection):
    url = f"{BASE}saml/{saml_connection.pk}/idp/"
    client = client_for(owner)
    version = form_version(page_of(client, saml_connection), url)
    rolled, mine = TestIdP(), TestIdP()
    changed = configure_idp_as(saml_connection, admin, rolled)
    stale = client.post(url, {"source": "xml", "metadata_xml": mine.metadata_xml(), "loaded_version": version})
    assert stale.status_code == 302
    page = html.unescape(page_of(client, saml_connection))
    assert REFUSED in page and "IdP certificates:" in page
    assert SAMLSettings.objects.get(connection=saml_connection).idp_certificates == changed.idp_certificates


def configure_idp_as(connection: SSOConnection, actor, idp: TestIdP) -> SAMLSettings:
    saml_actions.configure_idp(connection, actor=actor, idp=parse_idp_metadata(idp.metadata_xml()), source="xml")
    return SAMLSettings.objects.get(connection=connection)


def test_a_submission_without_a_version_is_not_checked(client_for, owner, admin, saml_connection):
    """A program posting the form (or a page from before versions) saves as before."""
    saml_actions.set_options(saml_connection, actor=admin, refuse_expired_certificates=True)
    response = client_for(owner).post(f"{BASE}saml/{saml_connection.pk}/options/", {"allow_idp_initiated": "on"})
    assert response.status_code == 302
    assert SAMLSettings.objects.get(connection=saml_connection).allow_idp_initiated
