"""Audit stream destinations over the admin API: owners' keys only (as the streaming page), the page's URL checks
(SSRF) with its codes, the webhook's secret once (never in a replay), If-Match on changes, test events to the real
test receiver, and the delivery state with resume."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import ActorType, AuditEvent
from audit_stream import delivery, senders
from audit_stream.models import Destination, Status
from keys import actions as key_actions
from orgsecurity.models import Membership, Team
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key
from tests.helpers.audit_stream import HTTPSReceiver, start_https_receiver
from tests.helpers.tls import make_pki

STREAMS = "/api/v1/orgs/acme/audit/streams"
WRITE = ["security:read", "security:write"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("adminapi-stream-pki"))


@pytest.fixture(scope="module")
def _https_receiver(pki):
    receiver = start_https_receiver(pki)
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver(_https_receiver, settings, monkeypatch) -> HTTPSReceiver:
    """The module's HTTPS receiver on 127.0.0.1 (allowed for these tests only), answering within half a second."""
    settings.AUDIT_STREAM_ALLOW_PRIVATE_TARGETS = True
    monkeypatch.setattr(senders, "READ_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(senders, "CONNECT_TIMEOUT_SECONDS", 0.5)
    _https_receiver.state.reset()
    return _https_receiver


@pytest.fixture
def writer(org, owner):
    allow_api_changes(org, owner)
    return scoped_key(org, owner, WRITE)


def webhook(receiver, pki, path="/siem", **fields):
    return {"kind": "webhook", "url": receiver.url(path), "ca_pem": pki.ca_pem, "name": "SIEM", **fields}


def test_it_checks_access(org, owner, admin, member, writer):
    _, owners = writer
    body = {"kind": "webhook", "url": "https://siem.example.com/hook"}
    assert call("GET", STREAMS, owners).status_code == 200
    # The streaming page is owners' only: an admin's key, or a service account's (acting as an admin), is refused.
    _, admins = scoped_key(org, admin, WRITE)
    for method, path, payload in (("GET", STREAMS, None), ("POST", STREAMS, body)):
        refused = call(method, path, admins, payload)
        assert refused.status_code == 403 and error_code(refused) == "role_not_allowed"
    account = key_actions.create_service_account(org, actor=owner, name="terraform")
    _, service = scoped_key(org, owner, WRITE, service_account=account)
    refused = call("POST", STREAMS, service, body)
    assert refused.status_code == 403 and error_code(refused) == "role_not_allowed"
    team = Team.objects.create(organization=org, slug="platform", name="Platform")
    team.members.add(Membership.objects.get(user=member, organization=org))
    _, members = key_actions.create_api_key(
        org, actor=member, name="mine", permission="read", team_ids=[team.pk], scopes=["security:read"]
    )
    assert error_code(call("GET", STREAMS, members)) == "role_not_allowed"
    assert not Destination.objects.exists()
    assert error_code(call("GET", "/api/v1/orgs/globex/audit/streams", owners)) == "not_found"
    _, audit_only = scoped_key(org, owner, ["audit:read"])
    assert error_code(call("GET", STREAMS, audit_only)) == "scope_missing"
    key_actions.set_api_security_changes(org, actor=owner, allowed=False)
    assert error_code(call("POST", STREAMS, owners, body)) == "api_security_changes_off"


def test_a_webhooks_secret_is_shown_once_and_signs_deliveries(org, writer, receiver, pki):
    key, token = writer
    first = call("POST", STREAMS, token, webhook(receiver, pki), **{"Idempotency-Key": "siem-1"})
    assert first.status_code == 201, first.content
    assert first["Cache-Control"] == "no-store"
    secret = first.json()["signing_secret"]
    assert secret.startswith("whsec_")
    replay = call("POST", STREAMS, token, webhook(receiver, pki), **{"Idempotency-Key": "siem-1"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["signing_secret"] is None and secret not in replay.content.decode()
    destination = Destination.objects.get(organization=org)
    assert replay.json()["destination"]["id"] == destination.pk
    receiver.state.secrets["/siem"] = secret
    assert delivery.deliver_next_batch(destination).outcome == delivery.DELIVERED
    assert receiver.state.errors == [] and receiver.state.events("/siem")
    listing = call("GET", STREAMS, token).json()["destinations"]
    assert listing[0]["delivery"]["lag_events"] == 0 and secret not in str(listing)
    event = AuditEvent.objects.get(organization=org, action="audit_stream.destination_added")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label


def test_the_pages_url_checks_refuse_with_their_codes(org, writer, settings):
    _, token = writer
    settings.AUDIT_STREAM_ALLOW_PRIVATE_TARGETS = False
    for url in (
        "https://169.254.169.254/latest/meta-data",
        "https://127.0.0.1:8443/",
        "https://[::ffff:10.0.0.1]/",
        "http://siem.example.com/",
        "https://user:pass@siem.example.com/",
        "ftp://siem.example.com/",
    ):
        refused = call("POST", STREAMS, token, {"kind": "webhook", "url": url})
        assert refused.status_code == 400 and error_code(refused) == "target_refused", url
    refused = call("POST", STREAMS, token, {"kind": "syslog", "url": "tls://192.168.1.5:6514"})
    assert error_code(refused) == "target_refused"
    refused = call("POST", STREAMS, token, {"kind": "hec", "url": "https://splunk.example.com/services/collector"})
    assert refused.status_code == 400 and error_code(refused) == "token_missing"
    refused = call("POST", STREAMS, token, {"kind": "webhook", "url": "https://a.example.com/", "ca_pem": "nope"})
    assert refused.status_code == 400 and error_code(refused) == "bad_ca"
    assert not Destination.objects.exists()


def test_changes_need_a_current_etag_and_pass_the_same_checks(org, writer, settings):
    key, token = writer
    body = {"kind": "hec", "url": "https://splunk.example.com/services/collector", "token": "hec-1"}
    created = call("POST", STREAMS, token, body).json()["destination"]
    path = f"{STREAMS}/{created['id']}"
    read = call("GET", path, token)
    assert read["ETag"] == created["etag"] == read.json()["etag"]
    missing = call("PATCH", path, token, {"name": "Splunk"})
    assert missing.status_code == 428 and error_code(missing) == "precondition_required"
    changed = call("PATCH", path, token, {"name": "Splunk", "token": "hec-2"}, **{"If-Match": created["etag"]})
    assert changed.status_code == 200 and changed.json()["name"] == "Splunk"
    assert Destination.objects.get(pk=created["id"]).secret == "hec-2"
    stale = call("PATCH", path, token, {"batch_size": 10}, **{"If-Match": created["etag"]})
    assert stale.status_code == 412 and error_code(stale) == "precondition_failed"
    refused = call("PATCH", path, token, {"url": "https://10.1.2.3/"}, **{"If-Match": changed["ETag"]})
    assert refused.status_code == 400 and error_code(refused) == "target_refused"
    assert Destination.objects.get(pk=created["id"]).url == body["url"]
    event = AuditEvent.objects.get(organization=org, action="audit_stream.destination_changed")
    assert key.prefix in event.actor_label and event.details["hec_rotated"] is True
    assert "hec-2" not in str(event.details) + str(event.changes)
    stale = call("DELETE", path, token, **{"If-Match": created["etag"]})
    assert stale.status_code == 412
    assert call("DELETE", path, token, **{"If-Match": changed["ETag"]}).status_code == 204
    assert not Destination.objects.exists()
    assert AuditEvent.objects.filter(organization=org, action="audit_stream.destination_removed").exists()


def test_send_a_test_event_to_the_receiver(org, writer, receiver, pki):
    key, token = writer
    created = call("POST", STREAMS, token, webhook(receiver, pki, "/t")).json()
    receiver.state.secrets["/t"] = created["signing_secret"]
    path = f"{STREAMS}/{created['destination']['id']}/test"
    answer = call("POST", path, token)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"accepted": True, "answer": 'HTTP 200: {"text": "Success", "code": 0}'}
    assert receiver.state.events("/t")[0]["action"] == "audit_stream.test"
    receiver.state.faults.append("500")
    failed = call("POST", path, token).json()
    assert failed["accepted"] is False and "500" in failed["answer"]
    events = AuditEvent.objects.filter(organization=org, action="audit_stream.test_sent")
    assert events.count() == 2 and all(key.prefix in event.actor_label for event in events)


def test_another_organizations_destination_is_a_404(org, other_org, outsider, writer):
    from audit_stream import actions

    _, token = writer
    theirs = actions.create_destination(other_org, actor=outsider, kind="webhook", url="https://x.example.com/")
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/test"), ("POST", "/resume")):
        response = call(method, f"{STREAMS}/{theirs.destination.pk}{suffix}", token, **{"If-Match": "*"})
        assert response.status_code == 404 and error_code(response) == "not_found"
    assert Destination.objects.filter(pk=theirs.destination.pk).exists()


def test_the_delivery_state_and_resuming_a_paused_destination(org, writer):
    _, token = writer
    created = call("POST", STREAMS, token, {"kind": "webhook", "url": "https://siem.example.com/"}).json()
    destination_id = created["destination"]["id"]
    since = timezone.now() - dt.timedelta(days=3)
    Destination.objects.filter(pk=destination_id).update(
        status=Status.PAUSED, consecutive_failures=40, failing_since=since, last_error="HTTP 503 from the receiver"
    )
    state = call("GET", f"{STREAMS}/{destination_id}", token).json()
    assert state["status"] == "paused" and state["delivery"]["paused"] is True
    assert state["delivery"]["last_error"] == "HTTP 503 from the receiver"
    assert state["delivery"]["consecutive_failures"] == 40
    assert state["delivery"]["lag_events"] >= 1  # at least the destination_added event is waiting
    resumed = call("POST", f"{STREAMS}/{destination_id}/resume", token)
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    assert resumed.json()["delivery"]["consecutive_failures"] == 0
    again = call("POST", f"{STREAMS}/{destination_id}/resume", token)
    assert again.status_code == 409 and error_code(again) == "not_paused"


def test_the_owner_rule_is_the_actions_own(org, admin):
    # The streaming page and the API share one gate: the action refuses an admin whoever calls it.
    from audit_stream import actions
    from orgsecurity.actions import ActionRefused

    with pytest.raises(ActionRefused) as refused:
        actions.create_destination(org, actor=admin, kind="webhook", url="https://siem.example.com/")
    assert refused.value.code == "role_not_allowed" and refused.value.status == 403
    assert not Destination.objects.exists()
