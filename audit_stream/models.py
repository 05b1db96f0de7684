"""Audit streaming destinations: where an organization's audit trail is delivered, and how far each has got.

The audit table is the outbox: a destination keeps only a cursor (``cursor_seq``, the last sequence of its
organization's chain it delivered), so recording an event writes nothing per destination. Delivery
(``audit_stream.delivery``) reads the events after the cursor in sequence order and advances it after the receiver
accepted them: at least once, in order.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from orgsecurity.crypto import decrypt_secret, encrypt_secret
from orgsecurity.models import Organization


class Kind(models.TextChoices):
    WEBHOOK = "webhook", "HTTPS webhook (Standard Webhooks signature)"
    HEC = "hec", "Splunk HTTP Event Collector"
    SYSLOG = "syslog", "Syslog over TLS (RFC 5424 / RFC 5425)"


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"


class Destination(models.Model):
    """One receiver of an organization's audit events.

    ``url`` is ``https://…`` for webhooks and HEC, ``tls://host:port`` for syslog. ``secret_encrypted`` holds the
    webhook's ``whsec_`` signing secret or the HEC token (``orgsecurity.crypto``); ``ca_pem`` the PEM CA
    certificate(s) to trust instead of the system roots (empty: system roots). ``cursor_seq`` is the last delivered
    sequence, ``cursor_at`` when it was delivered (UTC). Failures: ``consecutive_failures``, ``failing_since``
    (first failure of the current run), ``last_error`` (a sentence), ``next_attempt_at`` (backoff).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_destinations")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    url = models.CharField(max_length=500)
    secret_encrypted = models.TextField(blank=True)
    ca_pem = models.TextField(blank=True)
    batch_size = models.PositiveIntegerField(default=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    cursor_seq = models.BigIntegerField(default=0)
    cursor_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="audit_stream_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.url}"

    @property
    def label(self) -> str:
        """The name shown for this destination (its name, else its kind and URL)."""
        return self.name or f"{self.get_kind_display()} {self.url}"

    @property
    def secret(self) -> str:
        """The decrypted secret (webhook signing secret or HEC token); empty when none."""
        return decrypt_secret(self.secret_encrypted) if self.secret_encrypted else ""

    def set_secret(self, value: str) -> None:
        self.secret_encrypted = encrypt_secret(value) if value else ""


class DeliveredHour(models.Model):
    """How many events a destination delivered in one UTC hour (``hour`` truncated), for the status chart.

    Written once per delivered batch (an upsert), never per event."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="delivered_hours")
    hour = models.DateTimeField()
    events = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["destination", "hour"], name="audit_stream_hour_unique")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.events}"
