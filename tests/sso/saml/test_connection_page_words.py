"""Small things an admin reads on the connection and test pages: where the IdP metadata came from, and times sent
by the IdP shown as dates."""

from __future__ import annotations

from sso.connections import actions

BASE = "/orgs/acme/settings/security/sso/"


def test_after_an_xml_upload_the_page_says_so(client_for, owner, saml_connection):
    page = client_for(owner).get(f"{BASE}{saml_connection.pk}/").content.decode()
    assert "none: an uploaded metadata XML file" in page
    assert "entered or pasted" not in page


def test_time_claims_show_as_dates(client_for, owner, saml_connection):
    run = actions.start_test_run(saml_connection, actor=owner)
    details = {
        "issuer": "https://op.example.test",
        "subject": "mia",
        "subject_format": "oidc",
        "authenticated_at": "2026-12-07T10:00:00+00:00",
        "attributes": {"updated_at": ["1765101600"], "email": ["mia@acme.test"]},
        "mapped": {"email": "mia@acme.test"},
        "sources": {"email": "email"},
    }
    actions.finish_test_run(run, actor=owner, success=True, details=details)
    page = client_for(owner).get(f"{BASE}{saml_connection.pk}/tests/{run.pk}/").content.decode()
    assert "2026-12-07 10:00:00 UTC" in page
    assert "2025-12-07 10:00:00 UTC (1765101600)" in page
    assert "mia@acme.test" in page


def test_ldap_style_answers_get_the_ldap_preset_suggested(client_for, owner, saml_connection):
    from sso.saml.presets import preset_map, suggest_preset

    ldap_answer = {
        "mail": ["mia@acme.test"],
        "givenName": ["Mia"],
        "sn": ["Ma"],
        "displayName": ["Mia Ma"],
        "uid": ["mia"],
    }
    assert suggest_preset(ldap_answer) == "ldap"
    assert suggest_preset({"urn:oid:0.9.2342.19200300.100.1.3": ["mia@acme.test"]}) == "ldap_oid"
    assert suggest_preset({"nothing": ["x"]}) is None

    run = actions.start_test_run(saml_connection, actor=owner)
    actions.finish_test_run(run, actor=owner, success=True, details={"attributes": ldap_answer})
    browser = client_for(owner)
    page = browser.get(f"{BASE}{saml_connection.pk}/").content.decode()
    assert "matches the preset <strong>LDAP names: mail, givenName, sn, displayName" in page
    assert '<option value="ldap" selected>' in page

    actions.update_connection(saml_connection, actor=owner, attribute_map=preset_map("ldap"))
    assert 'id="preset-suggestion"' not in browser.get(f"{BASE}{saml_connection.pk}/").content.decode()
