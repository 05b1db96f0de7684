"""Certificate expiry notices: IdP signing certificates and our SP certificate expiring within 30, 14, 7 and 1 days
are emailed to the connection's admin owner and the organization's owners, once per threshold, by the worker's
hourly job (run here with an injected clock); the connection list shows an expiring SP certificate too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core import mail

from orgsecurity.jobs import run_job
from orgsecurity.roles import Role
from sso.models import CertificateExpiryNotice, SAMLSettings, SSOConnection
from sso.saml.certificates import load_certificate
from sso.saml.expiry import threshold_for
from tests.helpers.core import add_member, make_user
from tests.helpers.saml import connect
from tests.sso.saml.idp import TestIdP, make_key_pair

JOB = "sso.certificate_expiry_notices"


def test_thresholds():
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert threshold_for(now + timedelta(days=45), now) is None
    assert threshold_for(now + timedelta(days=30), now) == 30
    assert threshold_for(now + timedelta(days=10), now) == 14
    assert threshold_for(now + timedelta(hours=20), now) == 1
    assert threshold_for(now - timedelta(hours=1), now) is None


def test_each_threshold_is_noticed_once_to_the_admin_owner_and_the_owners(
    org, owner, admin, django_capture_on_commit_callbacks
):
    second_owner = make_user("owner2@acme.test")
    add_member(org, second_owner, Role.OWNER)
    idp = TestIdP()
    _, expiring = make_key_pair("rollover.acme.test", days=40)
    idp.extra_certs.append(expiring)
    connection = connect(org, owner, idp)
    SSOConnection.objects.filter(pk=connection.pk).update(admin_owner=admin)
    cert = load_certificate(expiring)
    now = datetime.now(UTC)

    def at(days_before: float) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            return run_job(JOB, now=cert.not_after - timedelta(days=days_before))

    assert at(35) == "0 notices sent"
    assert at(29) == "1 notices sent"
    assert sorted(message.to[0] for message in mail.outbox) == sorted([owner.email, admin.email, second_owner.email])
    message = mail.outbox[0]
    assert "IdP signing certificate" in message.subject and "expires in 29 days" in message.subject
    assert cert.fingerprint in message.body and f"/settings/security/sso/{connection.pk}/" in message.body
    mail.outbox.clear()
    assert at(28) == "0 notices sent"  # once per threshold, however often the job runs
    assert at(13.5) == "1 notices sent"
    assert at(6) == "1 notices sent"
    assert at(0.5) == "1 notices sent"
    assert at(0.4) == "0 notices sent"
    assert len(mail.outbox) == 3 * 3
    assert sorted(CertificateExpiryNotice.objects.values_list("threshold_days", flat=True)) == [1, 7, 14, 30]
    assert now < cert.not_after


def test_our_sp_certificate_is_noticed_and_listed(org, owner, client_for, django_capture_on_commit_callbacks):
    connection = connect(org, owner, TestIdP())
    _, cert_pem = make_key_pair("sp.acme.test", days=5)
    SAMLSettings.objects.filter(connection=connection).update(sp_certificate=cert_pem)
    sp = load_certificate(cert_pem)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job(JOB) == "1 notices sent"
    assert "SP certificate (ours)" in mail.outbox[0].subject and "expires in 4 days" in mail.outbox[0].subject
    listing = client_for(owner).get("/orgs/acme/settings/security/sso/").content.decode()
    assert f"SP certificate {sp.short_fingerprint} expires on {sp.not_after:%Y-%m-%d}" in listing


def test_connections_that_are_off_are_not_noticed(org, owner):
    connection = connect(org, owner, TestIdP(), status="off")
    _, cert_pem = make_key_pair("sp.acme.test", days=5)
    SAMLSettings.objects.filter(connection=connection).update(sp_certificate=cert_pem)
    assert run_job(JOB) == "0 notices sent"
