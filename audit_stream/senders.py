"""Sending one batch of audit events to a receiver: HTTPS webhook, Splunk HEC, or syslog over TLS.

Every sender takes a batch (a list of ``OutgoingEvent``, see ``audit_stream.delivery.encode_event``) and either
returns the receiver's answer (``Answer``) once the receiver has accepted the whole batch, or raises
``DeliveryFailed`` with a sentence. Connections go only to addresses ``audit_stream.ssrf`` checked; redirects are
never followed; one deadline bounds each exchange (``CONNECT_TIMEOUT_SECONDS``, ``READ_TIMEOUT_SECONDS``).

- **Webhook** (Standard Webhooks, https://www.standardwebhooks.com/): ``POST`` of
  ``{"type": "audit.events", "organization": slug, "events": [...]}`` with ``webhook-id`` (stable for a batch, so
  retries carry the same id), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (``v1,<base64 HMAC-
  SHA256>`` made by the ``standardwebhooks`` library with the destination's ``whsec_`` secret). Any 2xx accepts.
- **Splunk HEC** (``/services/collector/event``): one JSON object per event, concatenated, each
  ``{"time", "host", "source", "sourcetype", "event"}``; ``Authorization: Splunk <token>``; a 2xx accepts.
- **Syslog over TLS**: RFC 5424 messages (facility 13 "log audit", severity 5 "notice"; MSGID the action; the event
  JSON as MSG) framed by octet counting (RFC 5425 §4.3: ``MSG-LEN SP SYSLOG-MSG``) on a fresh TLS connection per
  batch. Syslog has no application acknowledgment, so the batch counts as delivered when the receiver, after our
  TLS close_notify, closes its side cleanly (it has read everything before it); a reset or timeout fails the batch.

A destination's ``ca_pem``, when set, is the only CA trusted for it; otherwise the system's roots are.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from standardwebhooks import Webhook
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError, NewConnectionError

from audit_stream import ssrf

CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 2048
USER_AGENT = "orgsecurity-audit-stream/1"
HEC_PATH = "/services/collector/event"
SYSLOG_PRI = 13 * 8 + 5  # RFC 5424 §6.2.1: facility 13 (log audit), severity 5 (notice)
SD_ID = "orgsecurity@32473"  # RFC 5424 §7.2.2 SD-ID with an enterprise number (32473: RFC 5612's example number)


class DeliveryFailed(Exception):
    """The receiver did not accept a batch; ``message`` says what happened, for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class OutgoingEvent:
    """One event as sent: its ``sequence``, ``action``, ``occurred_at`` (UTC), ``organization`` (slug) and ``json``,
    the serialized event object (see ``audit_stream.delivery.encode_event``)."""

    sequence: int
    action: str
    occurred_at: dt.datetime
    organization: str
    json: str

    @classmethod
    def from_object(cls, event: dict[str, Any]) -> OutgoingEvent:
        """An event given as a JSON-ready dict (the test event)."""
        return cls(
            event["sequence"],
            event["action"],
            dt.datetime.fromisoformat(event["occurred_at"]).astimezone(UTC),
            event["organization"],
            json.dumps(event, separators=(",", ":"), ensure_ascii=False),
        )


@dataclass(frozen=True)
class Answer:
    """The receiver's answer to an accepted batch, as shown to a person (e.g. ``HTTP 200: {"ok":true}``)."""

    summary: str


class Sender(Protocol):
    def send(self, events: list[OutgoingEvent]) -> Answer: ...

    def close(self) -> None: ...


def tls_context(ca_pem: str) -> ssl.SSLContext:
    """A client TLS context verifying the server's certificate and name against ``ca_pem`` (PEM text; empty: the
    system roots). Raises DeliveryFailed for a CA that is not PEM."""
    try:
        context = ssl.create_default_context(cadata=ca_pem) if ca_pem.strip() else ssl.create_default_context()
    except (ssl.SSLError, ValueError):
        raise DeliveryFailed("The CA certificate to trust is not a valid PEM certificate.") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def describe_error(exc: BaseException) -> str:
    """What went wrong on the connection, in words (a timeout, a refused connection, a TLS problem)."""
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, ssrf.TargetRefused):
        return reason.message
    text = str(reason)
    if isinstance(reason, TimeoutError | socket.timeout) or "timed out" in text.lower():
        return f"no answer within {READ_TIMEOUT_SECONDS:g} seconds"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "the receiver's TLS certificate is not trusted (check the CA to trust)"
    if "Connection refused" in text:
        return "nothing answers at that address and port (connection refused)"
    return (text.split(": ", 1)[-1] or type(reason).__name__)[:200]


class _CheckedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        try:
            return ssrf.connect(self.host, self.port, self.timeout)
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to connect to {self.host}: {exc}") from exc


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _HTTPSender:
    """Shared HTTP plumbing: one kept-alive connection to the checked address, no redirects, no retries."""

    def __init__(self, target: ssrf.Target, ca_pem: str) -> None:
        self.target = target
        timeout = Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS)
        if target.scheme == "https":
            self.pool: HTTPConnectionPool = _HTTPSPool(
                target.host, target.port, timeout=timeout, retries=False, maxsize=1, ssl_context=tls_context(ca_pem)
            )
        else:
            self.pool = _HTTPPool(target.host, target.port, timeout=timeout, retries=False, maxsize=1)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        headers = {"User-Agent": USER_AGENT, **headers}
        try:
            response = self.pool.urlopen(
                "POST", path, body=body, headers=headers, redirect=False, retries=False, preload_content=False
            )
        except ssrf.TargetRefused as exc:
            raise DeliveryFailed(exc.message) from None
        except HTTPError as exc:
            raise DeliveryFailed(f"The receiver could not be reached: {describe_error(exc)}.") from None
        try:
            answer = response.read(MAX_ANSWER_BYTES, decode_content=False)
            response.drain_conn()
        except HTTPError as exc:
            raise DeliveryFailed(f"Reading the receiver's answer failed: {describe_error(exc)}.") from None
        finally:
            response.release_conn()
        text = answer.decode("utf-8", "replace").strip()
        summary = f"HTTP {response.status}" + (f": {text[:300]}" if text else "")
        if 300 <= response.status < 400:
            location = response.headers.get("Location", "")
            raise DeliveryFailed(f"The receiver redirected to {location or '(nowhere)'}; redirects are not followed.")
        if not 200 <= response.status < 300:
            raise DeliveryFailed(f"The receiver refused the batch: {summary}")
        return Answer(summary)

    def close(self) -> None:
        self.pool.close()


class WebhookSender(_HTTPSender):
    """Standard Webhooks JSON batches (see the module docstring)."""

    def __init__(self, target: ssrf.Target, ca_pem: str, secret: str, organization_slug: str, destination_id: int):
        super().__init__(target, ca_pem)
        self.webhook = Webhook(secret)
        self.organization_slug = organization_slug
        self.destination_id = destination_id

    def send(self, events: list[OutgoingEvent], *, now: dt.datetime | None = None) -> Answer:
        organization = json.dumps(self.organization_slug)
        body = (
            f'{{"type":"audit.events","organization":{organization},"events":['
            + ",".join(event.json for event in events)
            + "]}"
        ).encode()
        first, last = events[0].sequence, events[-1].sequence
        message_id = f"msg_audit_{self.destination_id}_{first}_{last}"
        timestamp = now or dt.datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": self.webhook.sign(message_id, timestamp, body),
        }
        return self.post(self.target.path, body, headers)


class HECSender(_HTTPSender):
    """Splunk HTTP Event Collector batches (see the module docstring)."""

    def __init__(self, target: ssrf.Target, ca_pem: str, token: str) -> None:
        super().__init__(target, ca_pem)
        self.token = token
        self.path = target.path if target.path not in {"", "/"} else HEC_PATH
        self.host = urlsplit(settings.PUBLIC_BASE_URL).hostname or "orgsecurity"

    def send(self, events: list[OutgoingEvent]) -> Answer:
        host = json.dumps(self.host)
        body = "\n".join(
            f'{{"time":{event.occurred_at.timestamp():.6f},"host":{host},"source":"orgsecurity",'
            f'"sourcetype":"orgsecurity:audit","event":{event.json}}}'
            for event in events
        ).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Splunk {self.token}"}
        return self.post(self.path, body, headers)


def syslog_frame(event: OutgoingEvent, hostname: str) -> bytes:
    """One octet-counted RFC 5424 message (RFC 5425 §4.3) carrying ``event`` as JSON."""
    msgid = "".join(ch for ch in event.action if 33 <= ord(ch) <= 126)[:32] or "-"
    timestamp = event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    org = event.organization.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
    structured = f'[{SD_ID} org="{org}" seq="{event.sequence}"]'
    message = f"<{SYSLOG_PRI}>1 {timestamp} {hostname} orgsecurity - {msgid} {structured} {event.json}".encode()
    return f"{len(message)} ".encode() + message


class SyslogSender:
    """RFC 5424 over TLS (RFC 5425), one connection per batch (see the module docstring)."""

    def __init__(self, target: ssrf.Target, ca_pem: str) -> None:
        self.target = target
        self.context = tls_context(ca_pem)
        self.hostname = urlsplit(settings.PUBLIC_BASE_URL).hostname or "orgsecurity"

    def send(self, events: list[OutgoingEvent]) -> Answer:
        payload = b"".join(syslog_frame(event, self.hostname) for event in events)
        try:
            raw = ssrf.connect(self.target.host, self.target.port, CONNECT_TIMEOUT_SECONDS)
        except ssrf.TargetRefused as exc:
            raise DeliveryFailed(exc.message) from None
        except OSError as exc:
            raise DeliveryFailed(f"The syslog receiver could not be reached: {describe_error(exc)}.") from None
        raw.settimeout(READ_TIMEOUT_SECONDS)
        try:
            with self.context.wrap_socket(raw, server_hostname=self.target.host) as tls:
                tls.sendall(payload)
                try:
                    tls.unwrap()  # our close_notify; returns once the receiver answered with its own
                except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                    pass  # it closed its side (TCP FIN) after reading everything
                except ssl.SSLError as exc:
                    if "APPLICATION_DATA_AFTER_CLOSE_NOTIFY" not in str(exc):
                        raise
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryFailed(f"The syslog receiver did not take the batch: {describe_error(exc)}.") from None
        finally:
            raw.close()
        return Answer(f"{len(events)} message{'s' if len(events) != 1 else ''} accepted over TLS")

    def close(self) -> None:
        pass


def open_sender(destination: Any) -> Sender:
    """The sender for ``destination`` (an ``audit_stream.models.Destination``). Raises DeliveryFailed when its URL is
    refused (``ssrf.check_target``) or its CA is not PEM."""
    try:
        target = ssrf.check_target(destination.url, destination.kind)
    except ssrf.TargetRefused as exc:
        raise DeliveryFailed(exc.message) from None
    if destination.kind == "webhook":
        return WebhookSender(
            target, destination.ca_pem, destination.secret, destination.organization.slug, destination.pk
        )
    if destination.kind == "hec":
        return HECSender(target, destination.ca_pem, destination.secret)
    return SyslogSender(target, destination.ca_pem)
