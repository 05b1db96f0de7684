"""The daily metadata refresh: connections imported from a metadata URL fetch it again (a conditional GET, through
the SSRF-guarded fetcher) and apply added or removed signing certificates and endpoint changes with an audit event
showing the difference; a refresh never removes the last valid signing certificate; three daily failures in a row
email the admin owner once. A local HTTP server serves real IdPs' metadata (tests/fixtures/idp); nothing fetches the
internet, and the job runs with an injected clock."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core import mail
from werkzeug import Response

from audit.models import AuditEvent
from orgsecurity.jobs import run_job
from sso.connections import actions as sso_actions
from sso.models import SAMLSettings
from sso.saml import actions
from sso.saml.certificates import load_certificate
from sso.saml.metadata import parse_idp_metadata

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "idp"
GOOGLE = (FIXTURES / "saml-google-workspace-metadata.xml").read_text(encoding="utf-8")
ONELOGIN = (FIXTURES / "saml-onelogin-app-metadata.xml").read_text(encoding="utf-8")
JOB = "sso.refresh_metadata"
# The injected clock: both Google certificates valid (2026-12-16 and 2027-04-26 expiry), OneLogin's expired.
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


def without_first_key(document: str) -> str:
    """Google's metadata after its rollover: only the second (newer) signing certificate."""
    start = document.index("<md:KeyDescriptor")
    end = document.index("</md:KeyDescriptor>") + len("</md:KeyDescriptor>")
    return document[:start] + document[end:]


class MetadataServer:
    """What the IdP serves at its metadata URL: ``document`` with a strong ETag, 304 to a matching If-None-Match,
    or ``status`` (an error) instead; ``requests`` keeps the conditional headers of each request."""

    def __init__(self) -> None:
        self.document, self.status, self.requests = "", 200, []

    def __call__(self, request) -> Response:
        self.requests.append(request.headers.get("If-None-Match", ""))
        if self.status != 200:
            return Response("unavailable", status=self.status)
        etag = '"' + hashlib.sha256(self.document.encode()).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(self.document, content_type="application/samlmetadata+xml", headers={"ETag": etag})


@pytest.fixture
def served(httpserver, settings) -> MetadataServer:
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]
    server = MetadataServer()
    httpserver.expect_request("/idp/metadata").respond_with_handler(server)
    return server


@pytest.fixture
def imported(org, owner, admin, served, httpserver):
    """acme's connection imported from the metadata URL (Google Workspace after its rollover), in testing, with
    ``admin`` as its admin owner."""
    served.document = without_first_key(GOOGLE)
    connection = actions.create_saml_connection(
        org,
        actor=owner,
        idp=parse_idp_metadata(served.document),
        source="url",
        metadata_url=httpserver.url_for("/idp/metadata"),
        admin_owner=admin,
    )
    return sso_actions.set_status(connection, actor=owner, status="testing")


def fingerprints(connection) -> list[str]:
    return [
        load_certificate(pem).fingerprint for pem in SAMLSettings.objects.get(connection=connection).idp_certificates
    ]


def test_added_and_removed_certificates_and_endpoints_are_applied_and_audited(imported, served):
    now = NOW
    newer = fingerprints(imported)
    assert run_job(JOB, now=now) == "1 refreshed: 0 updated, 0 failed"  # same document
    served.document = GOOGLE.replace(
        "https://accounts.google.com/o/saml2/idp?idpid=", "https://sso.example.test/?idpid="
    )
    assert run_job(JOB, now=now + timedelta(days=1)) == "1 refreshed: 1 updated, 0 failed"
    both = fingerprints(imported)
    assert len(both) == 2 and newer[0] in both
    event = AuditEvent.objects.filter(action="sso.connection_updated", details__source="metadata refresh").get()
    assert event.actor_type == "system"
    assert event.details["certificates_added"] == [fp for fp in both if fp not in newer]
    assert event.details["certificates_removed"] == []
    assert event.changes["idp_certificates"] == [newer, both]
    assert event.changes["idp_sso_url"][1].startswith("https://sso.example.test/")

    served.document = without_first_key(GOOGLE)
    assert run_job(JOB, now=now + timedelta(days=2)) == "1 refreshed: 1 updated, 0 failed"
    assert fingerprints(imported) == newer
    removed = AuditEvent.objects.filter(action="sso.connection_updated", details__source="metadata refresh").latest(
        "pk"
    )
    assert removed.details["certificates_removed"] == [fp for fp in both if fp not in newer]


def test_an_unchanged_document_is_asked_for_conditionally(imported, served):
    now = NOW
    run_job(JOB, now=now)
    run_job(JOB, now=now + timedelta(days=1))
    assert served.requests[0] == "" and served.requests[-1].startswith('"')  # If-None-Match with the stored ETag
    saml = SAMLSettings.objects.get(connection=imported)
    assert saml.metadata_etag == served.requests[-1] and saml.metadata_checked_at == now + timedelta(days=1)
    assert not AuditEvent.objects.filter(details__source="metadata refresh").exists()


def test_a_refresh_never_removes_the_last_valid_signing_certificate(imported, served):
    before = fingerprints(imported)
    served.document = ONELOGIN  # its one certificate expired in 2025
    assert run_job(JOB, now=NOW) == "1 refreshed: 0 updated, 1 failed"
    assert fingerprints(imported) == before
    saml = SAMLSettings.objects.get(connection=imported)
    assert "no signing certificate that is valid now" in saml.metadata_last_error


def test_three_days_of_failure_tell_the_admin_owner_once(imported, served, admin, django_capture_on_commit_callbacks):
    served.status = 503
    now = NOW
    for day in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            assert run_job(JOB, now=now + timedelta(days=day)) == "1 refreshed: 0 updated, 1 failed"
        assert len(mail.outbox) == (0 if day < 2 else 1)
    (message,) = mail.outbox
    assert message.to == [admin.email] and "failed for 3 days" in message.subject
    assert "HTTP 503" in message.body and "/settings/security/sso/" in message.body
    served.status = 200
    run_job(JOB, now=now + timedelta(days=5))
    saml = SAMLSettings.objects.get(connection=imported)
    assert (saml.metadata_failures, saml.metadata_failing_since, saml.metadata_last_error) == (0, None, "")


def test_the_ssrf_rules_apply(imported, served, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    assert run_job(JOB, now=NOW) == "1 refreshed: 0 updated, 1 failed"
    assert served.requests == []
    assert "only from public addresses" in SAMLSettings.objects.get(connection=imported).metadata_last_error
