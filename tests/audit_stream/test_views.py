"""The streaming page: owners only, re-authentication for changes, the secret shown once, the receiver's answer to a
test event, the status of each destination, and retention previewed before it is saved."""

from __future__ import annotations

import datetime as dt
import html as html_lib

import pytest
from django.utils import timezone

from audit.models import AuditChain, AuditEvent
from audit_stream import actions, delivery
from audit_stream.models import Destination
from tests.audit.helpers import record_event

pytestmark = pytest.mark.django_db
PAGE = "/orgs/acme/settings/security/streaming/"


def test_it_checks_access(client_for, owner, admin, member, outsider):
    assert client_for(owner).get(PAGE).status_code == 200
    assert client_for(admin).get(PAGE).status_code == 403
    assert client_for(member).get(PAGE).status_code == 403
    assert client_for(outsider).get(PAGE).status_code == 404
    assert client_for(member).post(PAGE + "destinations/add/", {}).status_code == 403
    assert client_for(outsider).post(PAGE + "destinations/add/", {}).status_code == 404


def test_the_dashboard_links_the_page_for_owners(client_for, owner, admin):
    assert PAGE in client_for(owner).get("/orgs/acme/settings/security/").content.decode()
    assert PAGE not in client_for(admin).get("/orgs/acme/settings/security/").content.decode()


def test_adding_a_webhook_shows_its_secret_once_and_it_signs(client_for, owner, org, receiver, pki):
    client = client_for(owner)
    response = client.post(
        PAGE + "destinations/add/",
        {"kind": "webhook", "url": receiver.url("/ui"), "ca_pem": pki.ca_pem, "batch_size": 50, "name": "SIEM"},
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    secret = page.context["secret"]
    assert secret.startswith("whsec_") and secret in page.content.decode()
    assert page["Cache-Control"] == "no-store, private"
    again = client.get(response["Location"])
    assert again.status_code == 410 and secret not in again.content.decode()

    receiver.state.secrets["/ui"] = secret
    destination = Destination.objects.get(organization=org)
    assert delivery.deliver_next_batch(destination).outcome == delivery.DELIVERED
    assert receiver.state.errors == []


def test_a_refused_url_is_explained_on_the_page(client_for, owner, settings):
    settings.AUDIT_STREAM_ALLOW_PRIVATE_TARGETS = False
    response = client_for(owner).post(
        PAGE + "destinations/add/", {"kind": "webhook", "url": "https://169.254.169.254/", "batch_size": 10}
    )
    assert response.status_code == 400
    assert "a link-local address" in response.content.decode()


def test_send_test_event_shows_the_receivers_answer(client_for, owner, org, receiver, pki):
    created = actions.create_destination(org, actor=owner, kind="webhook", url=receiver.url("/t"), ca_pem=pki.ca_pem)
    receiver.state.secrets["/t"] = created.signing_secret
    client = client_for(owner)

    response = client.post(PAGE + f"destinations/{created.destination.pk}/test/", follow=True)

    text = html_lib.unescape(response.content.decode())
    assert 'accepted the test event: HTTP 200: {"text": "Success", "code": 0}' in text


def test_the_status_shows_lag_errors_and_the_chart(client_for, owner, org, receiver, pki):
    created = actions.create_destination(org, actor=owner, kind="webhook", url=receiver.url("/s"), ca_pem=pki.ca_pem)
    receiver.state.secrets["/s"] = created.signing_secret
    delivery.deliver_next_batch(created.destination)
    created.destination.refresh_from_db()
    for _ in range(3):
        record_event(org)
    receiver.state.faults.append("500")
    delivery.deliver_next_batch(created.destination)

    html = html_lib.unescape(client_for(owner).get(PAGE).content.decode())

    waiting = AuditEvent.objects.filter(organization=org, seq__gt=created.destination.cursor_seq + 3).count()
    assert f"{waiting + 3} events, oldest waiting" in html  # the 3 events and the owner's sign-in
    assert "The receiver refused the batch: HTTP 500" in html
    assert f'id="delivery-chart-{created.destination.pk}"' in html and "<rect x=" in html
    assert "Last delivered</dt><dd>event #" in html


def test_another_organizations_destination_is_not_found(client_for, owner, outsider, other_org):
    theirs = actions.create_destination(
        other_org, actor=outsider, kind="webhook", url="https://siem.example.com/h"
    ).destination
    client = client_for(owner)
    assert client.post(PAGE + f"destinations/{theirs.pk}/remove/").status_code == 404
    assert client.post(PAGE + f"destinations/{theirs.pk}/test/").status_code == 404
    assert Destination.objects.filter(pk=theirs.pk).exists()


def test_retention_is_previewed_then_saved(client_for, owner, org, settings):
    settings.AUDIT_RETENTION_MIN_DAYS = 90
    client = client_for(owner)

    # The preview applies the rule saving applies: a period Save refuses is never previewed.
    too_short = client.get(PAGE + "retention/", {"keep": "days", "days": 30}, follow=True)
    assert "at least 90 days" in too_short.content.decode()
    assert b"retention-preview" not in too_short.content
    refused = client.post(PAGE + "retention/", {"keep": "days", "days": 30}, follow=True)
    assert "at least 90 days" in refused.content.decode()

    preview = client.get(PAGE + "retention/", {"keep": "days", "days": 120})
    html = preview.content.decode()
    assert "would delete <strong>0 events</strong>" in html
    assert "The oldest event kept would be #1" in html
    assert AuditChain.objects.get(organization=org).retention_days is None

    saved = client.post(PAGE + "retention/", {"keep": "days", "days": 120}, follow=True)
    assert "kept 120 days" in saved.content.decode()
    assert AuditChain.objects.get(organization=org).retention_days == 120
    assert AuditEvent.objects.filter(organization=org, action="audit.retention_changed").count() == 1


def test_a_paused_destination_shows_on_the_dashboard_and_the_overview(client_for, owner, org):
    destination = actions.create_destination(
        org, actor=owner, kind="webhook", url="https://siem.example.com/h", name="Splunk Cloud"
    ).destination
    Destination.objects.filter(pk=destination.pk).update(
        status="paused", failing_since=timezone.now() - dt.timedelta(days=3), last_error="HTTP 503"
    )
    client = client_for(owner)

    assert "Paused: Splunk Cloud" in client.get("/orgs/acme/settings/security/").content.decode()
    overview = client.get("/orgs/acme/settings/security/overview/").content.decode()
    assert "Audit streaming to Splunk Cloud is paused" in overview
