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
