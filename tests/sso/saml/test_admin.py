"""SAML admin pages: access, creating a connection from each source, IdP changes, options, presets, the SP side
shown from PUBLIC_BASE_URL, certificate warnings, the audit trail, and the configure_sso command."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from audit.models import AuditEvent
from orgsecurity.crypto import decrypt_secret
from sso.models import SAMLSettings, SSOConnection
from sso.saml.certificates import load_certificate
from tests.helpers.saml import connect
from tests.sso.saml.idp import TestIdP, make_key_pair

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "idp"
BASE = "/orgs/acme/settings/security/sso/"
NEW = BASE + "saml/new/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_it_checks_access(client_for, owner, admin, member, outsider, saml_connection):
    pages = [
        ("get", NEW),
        ("post", f"{BASE}saml/{saml_connection.pk}/idp/"),
        ("post", f"{BASE}saml/{saml_connection.pk}/refresh/"),
        ("post", f"{BASE}saml/{saml_connection.pk}/options/"),
        ("post", f"{BASE}saml/{saml_connection.pk}/preset/"),
    ]
    for method, url in pages:
        assert getattr(client_for(member), method)(url).status_code == 403, url
        assert getattr(client_for(outsider), method)(url).status_code == 404, url
    assert client_for(owner).get(NEW).status_code == 200
    assert client_for(admin).get(NEW).status_code == 200
    assert client_for(owner).get(f"{BASE}{saml_connection.pk}/").status_code == 200


def test_another_orgs_connection_is_not_found(client_for, owner, other_org, globex_idp):
    globex = connect(other_org, other_org.memberships.get().user, globex_idp)
    response = client_for(owner).post(f"{BASE}saml/{globex.pk}/options/", {"allow_idp_initiated": "on"})
    assert response.status_code == 404
    assert SAMLSettings.objects.get(connection=globex).allow_idp_initiated is False


def test_changes_need_a_recent_sign_in(client_for, owner, saml_connection):
    browser = client_for(owner)
    session = browser.session
    session["reauth_at"] = 0
    session.save()
    response = browser.post(f"{BASE}saml/{saml_connection.pk}/options/", {"allow_idp_initiated": "on"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")
    assert SAMLSettings.objects.get(connection=saml_connection).allow_idp_initiated is False
    # The re-authentication page names what it protects, with the connection (issue 20).
    page = html.unescape(browser.get(response["Location"]).content.decode())
    assert f"Confirm it is you to change the SAML options of the SSO connection “{saml_connection.name}”</h1>" in page


def test_an_owner_creates_a_connection_from_pasted_metadata(client_for, owner, test_idp):
    response = client_for(owner).post(
        NEW, {"name": "Okta", "preset": "okta", "source": "xml", "metadata_xml": test_idp.metadata_xml()}
    )
    connection = SSOConnection.objects.get()
    assert response["Location"] == f"{BASE}{connection.pk}/"
    saml = connection.saml
    assert connection.status == "off" and connection.attribute_map["first_name"] == "firstName"
    assert saml.idp_entity_id == test_idp.entity_id and saml.idp_sso_url == test_idp.sso_url
    assert "PRIVATE KEY" in decrypt_secret(saml.sp_private_key_encrypted)
    assert "PRIVATE KEY" not in saml.sp_private_key_encrypted
    fingerprint = load_certificate(test_idp.cert).fingerprint
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("seq")
    assert event.changes["idp_certificates"] == [None, [fingerprint]]
    assert "PRIVATE KEY" not in str(AuditEvent.objects.values_list("changes", "details"))


def test_an_upload_and_a_manual_entry_work_too(client_for, owner, test_idp):
    client = client_for(owner)
    upload = SimpleUploadedFile("idp.xml", (FIXTURES / "saml-google-workspace-metadata.xml").read_bytes())
    client.post(NEW, {"name": "Google", "preset": "google", "source": "xml", "metadata_file": upload})
    google = SSOConnection.objects.get(name="Google").saml
    assert len(google.idp_certificates) == 2
    _key, second_cert = make_key_pair("second")
    client.post(
        NEW,
        {
            "name": "Manual",
            "preset": "custom",
            "source": "manual",
            "entity_id": "https://idp.manual.test/",
            "sso_url": "https://idp.manual.test/sso",
            "sso_binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
            "slo_url": "",
            "certificates": test_idp.cert + "\n" + second_cert,
        },
    )
    manual = SSOConnection.objects.get(name="Manual")
    assert manual.attribute_map == {}
    assert manual.saml.idp_sso_binding.endswith("HTTP-POST") and len(manual.saml.idp_certificates) == 2


def test_a_metadata_url_is_fetched_server_side(client_for, owner, httpserver, settings, test_idp):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]
    httpserver.expect_request("/idp/metadata").respond_with_data(test_idp.metadata_xml(), content_type="text/xml")
    url = httpserver.url_for("/idp/metadata")
    client_for(owner).post(NEW, {"name": "SSP", "preset": "entra", "source": "url", "metadata_url": url})
    saml = SSOConnection.objects.get().saml
    assert saml.metadata_url == url and saml.metadata_fetched_at is not None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"source": "xml", "metadata_xml": "<md:EntityDescriptor"}, "not well-formed XML"),
        ({"source": "xml", "metadata_xml": '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'}, "DOCTYPE or entities"),
        (
            {"source": "xml", "metadata_xml": (FIXTURES / "saml-entra-id-common-federationmetadata.xml").read_text()},
            "{tenantid}",
        ),
        ({"source": "xml", "metadata_xml": "<x/>"}, "no EntityDescriptor"),
        ({"source": "url", "metadata_url": "http://127.0.0.1:9/metadata"}, "only from public addresses"),
        (
            {"source": "manual", "entity_id": "x", "sso_url": "https://idp.test/", "certificates": "garbage"},
            "not base64",
        ),
        ({"source": "manual", "entity_id": "x", "sso_url": "", "certificates": ""}, "Enter the IdP's SSO URL."),
    ],
)
def test_bad_input_is_explained_and_nothing_is_saved(client_for, owner, data, message):
    response = client_for(owner).post(NEW, {"name": "x", "preset": "entra", **data})
    assert response.status_code == 400
    assert message in text(response)
    assert not SSOConnection.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="sso.").exists()


def test_the_connection_page_shows_both_sides_from_the_public_base_url(client_for, owner, saml_connection, test_idp):
    page = text(client_for(owner).get(f"{BASE}{saml_connection.pk}/", HTTP_HOST="app.test"))
    assert "https://testserver/sso/acme/saml/acs/" in page
    assert "https://testserver/sso/acme/saml/metadata/" in page
    assert "https://testserver/sso/acme/saml/sls/" in page
    assert "app.test" not in page
    assert 'data-copy="https://testserver/sso/acme/saml/acs/"' in page
    cert = load_certificate(test_idp.cert)
    assert cert.fingerprint in page and cert.subject in page and f"{cert.not_after:%Y-%m-%d}" in page


def test_sp_metadata_is_built_from_the_public_base_url(saml_connection):
    response = Client().get("/sso/acme/saml/metadata/", HTTP_HOST="app.test")
    assert response.status_code == 200 and response["Content-Type"] == "application/samlmetadata+xml"
    xml = response.content.decode()
    assert 'entityID="https://testserver/sso/acme/saml/metadata/"' in xml
    assert 'Location="https://testserver/sso/acme/saml/acs/"' in xml
    assert 'Location="https://testserver/sso/acme/saml/sls/"' in xml
    assert "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>" in xml
    assert "".join(saml_connection.saml.sp_certificate.strip().splitlines()[1:-1]) in xml
    assert "app.test" not in xml
    assert Client().get("/sso/nowhere/saml/metadata/").status_code == 404


def test_sp_metadata_stays_valid_as_long_as_its_certificate(saml_connection):
    """An IdP that imports the file once must not see it expire in two days, nor keep it longer than it is valid."""
    xml = Client().get("/sso/acme/saml/metadata/").content.decode()
    not_after = load_certificate(saml_connection.saml.sp_certificate).not_after
    assert f'validUntil="{not_after:%Y-%m-%dT%H:%M:%SZ}"' in xml
    assert not_after > datetime.now(UTC) + timedelta(days=365)
    assert 'cacheDuration="P1D"' in xml


def test_certificates_expiring_within_30_days_are_flagged(client_for, owner, org):
    idp = TestIdP()
    _key, soon = make_key_pair("old signing key", days=10)
    idp.extra_certs = [soon]
    connection = connect(org, owner, idp)
    page = text(client_for(owner).get(f"{BASE}{connection.pk}/"))
    expiry = (datetime.now(UTC) + timedelta(days=9)).strftime("%Y-%m-%d")
    assert "expires on" in page and (
        expiry in page or (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%d") in page
    )
    dashboard = text(client_for(owner).get("/orgs/acme/settings/security/"))
    assert "SAML 2.0: On" in dashboard and "⚠ IdP certificate" in dashboard


def test_the_dashboard_is_calm_when_certificates_are_fine(client_for, owner, saml_connection):
    dashboard = text(client_for(owner).get("/orgs/acme/settings/security/"))
    assert "SAML 2.0: On" in dashboard and "⚠" not in dashboard


def test_updating_the_idp_replaces_the_certificate_list_and_audits_fingerprints(
    client_for, owner, saml_connection, test_idp
):
    rolled = TestIdP()
    rolled.extra_certs = [test_idp.cert]
    rolled.entity_id = test_idp.entity_id
    response = client_for(owner).post(
        f"{BASE}saml/{saml_connection.pk}/idp/", {"source": "xml", "metadata_xml": rolled.metadata_xml()}
    )
    assert response.status_code == 302
    saml = SAMLSettings.objects.get(connection=saml_connection)
    fingerprints = [load_certificate(pem).fingerprint for pem in saml.idp_certificates]
    assert fingerprints == [load_certificate(rolled.cert).fingerprint, load_certificate(test_idp.cert).fingerprint]
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("seq")
    assert event.changes["idp_certificates"] == [[fingerprints[1]], fingerprints]


def test_a_broken_update_changes_nothing(client_for, owner, saml_connection):
    before = SAMLSettings.objects.get(connection=saml_connection).idp_certificates
    response = client_for(owner).post(
        f"{BASE}saml/{saml_connection.pk}/idp/", {"source": "xml", "metadata_xml": "<oops"}
    )
    assert response.status_code == 400 and "not well-formed XML" in text(response)
    assert SAMLSettings.objects.get(connection=saml_connection).idp_certificates == before


def test_refresh_fetches_the_stored_url_again(client_for, owner, org, httpserver, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]
    first, second = TestIdP(), TestIdP()
    second.extra_certs = [first.cert]
    httpserver.expect_ordered_request("/m").respond_with_data(first.metadata_xml())
    httpserver.expect_ordered_request("/m").respond_with_data(second.metadata_xml())
    client = client_for(owner)
    client.post(NEW, {"name": "x", "preset": "entra", "source": "url", "metadata_url": httpserver.url_for("/m")})
    connection = SSOConnection.objects.get()
    assert len(connection.saml.idp_certificates) == 1
    assert client.post(f"{BASE}saml/{connection.pk}/refresh/").status_code == 302
    assert len(SAMLSettings.objects.get(connection=connection).idp_certificates) == 2
    httpserver.clear()
    response = client.post(f"{BASE}saml/{connection.pk}/refresh/")
    assert response.status_code == 400 and "nothing was changed" in text(response)


def test_options_and_presets_are_saved_and_audited(client_for, owner, saml_connection):
    client = client_for(owner)
    client.post(f"{BASE}saml/{saml_connection.pk}/options/", {"allow_idp_initiated": "on"})
    assert SAMLSettings.objects.get(connection=saml_connection).allow_idp_initiated is True
    assert AuditEvent.objects.filter(
        action="sso.connection_updated", changes__allow_idp_initiated=[False, True]
    ).exists()
    client.post(f"{BASE}saml/{saml_connection.pk}/preset/", {"preset": "entra"})
    saml_connection.refresh_from_db()
    assert (
        saml_connection.attribute_map["email"] == "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
    )
    assert client.post(f"{BASE}saml/{saml_connection.pk}/preset/", {"preset": "custom"}).status_code == 400


def test_the_index_offers_to_add_a_saml_connection(client_for, owner):
    assert NEW in client_for(owner).get(BASE).content.decode()


def test_configure_sso_command_creates_then_updates(org, owner):
    out = StringIO()
    path = FIXTURES / "saml-okta-app-metadata.xml"
    call_command(
        "configure_sso", "acme", "--protocol", "saml", "--metadata-file", str(path), "--preset", "okta", stdout=out
    )
    connection = SSOConnection.objects.get()
    assert "Created SAML connection" in out.getvalue() and connection.admin_owner == owner
    assert connection.saml.idp_entity_id == "http://www.okta.com/exkppsa1qwuFV4D7z0h7"
    out = StringIO()
    call_command("configure_sso", "acme", "--protocol", "saml", "--metadata-file", str(path), stdout=out)
    assert "nothing changed" in out.getvalue() and SSOConnection.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere", "--protocol", "saml", "--metadata-file", "x.xml"], "no organization"),
        (["acme", "--protocol", "saml"], "needs --metadata-url"),
        (["acme", "--protocol", "saml", "--metadata-file", "/nonexistent.xml"], "is not a file"),
        (
            [
                "acme",
                "--protocol",
                "saml",
                "--metadata-file",
                str(FIXTURES / "saml-entra-id-common-federationmetadata.xml"),
            ],
            "template",
        ),
        (["acme", "--protocol", "saml", "--metadata-url", "http://10.0.0.1/m"], "only from public addresses"),
    ],
)
def test_configure_sso_command_refuses_clearly(org, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("configure_sso", *args)
    assert not SSOConnection.objects.exists()


def test_the_add_page_shows_what_the_idp_admin_needs_first(client_for, owner, org):
    page = client_for(owner).get("/orgs/acme/settings/security/sso/saml/new/").content.decode()
    assert "https://testserver/sso/acme/saml/acs/" in page and "https://testserver/sso/acme/saml/metadata/" in page


def test_a_manual_entry_with_errors_comes_back_with_its_section_open(client_for, owner):
    """The errors sit in the section that was chosen; it is the one open, not the metadata URL's."""
    response = client_for(owner).post(NEW, {"name": "Manual", "preset": "entra", "source": "manual"})
    assert response.status_code == 400
    page = text(response)
    assert '<details data-source="manual" open>' in page
    assert '<details data-source="url">' in page
    manual = page[page.index('<details data-source="manual"') :]
    assert "Enter the IdP's entity ID (its Issuer)." in manual[: manual.index("</details>")]


def test_a_metadata_url_that_cannot_be_reached_is_explained_on_our_page(client_for, owner, settings, saml_connection):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]
    client = client_for(owner)
    data = {"name": "Down", "preset": "entra", "source": "url", "metadata_url": "http://127.0.0.1:9/metadata"}
    response = client.post(NEW, data)
    assert response.status_code == 400 and "could not be reached" in text(response)
    assert SSOConnection.objects.count() == 1  # only the existing one

    SAMLSettings.objects.filter(connection=saml_connection).update(metadata_url="http://127.0.0.1:9/metadata")
    refreshed = client.post(f"{BASE}saml/{saml_connection.pk}/refresh/")
    assert refreshed.status_code == 400
    assert "Refreshing from http://127.0.0.1:9/metadata failed, nothing was changed" in text(refreshed)
    assert "could not be reached" in text(refreshed)
