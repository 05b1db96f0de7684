"""The daily refresh of SAML connections imported from a metadata URL (the worker's ``sso.refresh_metadata`` job).

The job runs hourly and refreshes each connection with a metadata URL (status other than off) not checked in the
last ``REFRESH_EVERY`` (23 hours): a run the consumer's scheduler misses is made up by the next hour's, and each
connection is still asked about once a day. ``refresh_connection`` fetches the URL again
through ``sso.fetch`` (the SSRF rules: public addresses only, https, every redirect hop checked) as a conditional GET
(the ETag and Last-Modified of the last answer), and applies a changed document through the action
``sso.saml.actions.apply_metadata_refresh`` (audited, with the certificates added and removed; never removing the
last valid signing certificate). A failure (unreachable, not metadata, no valid certificate) is counted on the
connection's ``SAMLSettings`` (``metadata_failures``, since ``metadata_failing_since``); once it has failed
``NOTIFY_AFTER_FAILURES`` daily checks in a row (over more than a day and a half), the admin owner is emailed once
for that run of failures. A success clears the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string

from audit.recorder import Actor
from orgsecurity.actions import ActionRefused
from sso.models import SAMLSettings, SSOConnection
from sso.saml.actions import apply_metadata_refresh
from sso.saml.metadata import MetadataError, fetch_metadata_if_changed, parse_idp_metadata

REFRESH_EVERY = timedelta(hours=23)
NOTIFY_AFTER_FAILURES = 3
# Three daily checks (REFRESH_EVERY apart) span at least 46 hours; failures of one day never add up to three.
NOTIFY_AFTER_SPAN = timedelta(hours=40)
REFRESH_ACTOR_LABEL = "Daily metadata refresh"


@dataclass(frozen=True)
class RefreshOutcome:
    """What one refresh did: ``result`` is "unchanged" (fetched, same IdP), "not_modified" (304), "updated"
    (``changes`` applied) or "failed" (``error``)."""

    connection_id: int
    result: str
    changes: dict
    error: str = ""


def connections_to_refresh(now: datetime) -> list[int]:
    """Ids of the SAML settings with a metadata URL, whose connection is not off, not checked within
    ``REFRESH_EVERY`` before ``now``; in id order."""
    return list(
        SAMLSettings.objects.exclude(metadata_url="")
        .exclude(connection__status=SSOConnection.Status.OFF)
        .filter(Q(metadata_checked_at=None) | Q(metadata_checked_at__lte=now - REFRESH_EVERY))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def refresh_connection(saml_pk: int, now: datetime) -> RefreshOutcome:
    """Refresh one connection's IdP side from its metadata URL as of ``now`` (UTC); see the module docstring. The
    HTTP request runs outside any transaction."""
    saml = SAMLSettings.objects.select_related("connection").get(pk=saml_pk)
    connection = saml.connection
    try:
        answer = fetch_metadata_if_changed(
            saml.metadata_url, etag=saml.metadata_etag, last_modified=saml.metadata_last_modified
        )
        if answer.document is None:
            _succeeded(saml_pk, now)
            return RefreshOutcome(connection.pk, "not_modified", {})
        idp = parse_idp_metadata(answer.document)
        changes = apply_metadata_refresh(
            connection,
            actor=Actor.system(REFRESH_ACTOR_LABEL),
            idp=idp,
            now=now,
            etag=answer.etag,
            last_modified=answer.last_modified,
        )
    except (MetadataError, ActionRefused) as exc:
        error = exc.message if isinstance(exc, ActionRefused) else str(exc)
        _failed(saml_pk, now, error)
        return RefreshOutcome(connection.pk, "failed", {}, error)
    _succeeded(saml_pk, now)
    return RefreshOutcome(connection.pk, "updated" if changes else "unchanged", changes)


def _succeeded(saml_pk: int, now: datetime) -> None:
    SAMLSettings.objects.filter(pk=saml_pk).update(
        metadata_checked_at=now,
        metadata_failures=0,
        metadata_failing_since=None,
        metadata_last_error="",
        metadata_failure_notified_at=None,
    )


def _failed(saml_pk: int, now: datetime, error: str) -> None:
    with transaction.atomic():
        saml = (
            SAMLSettings.objects.select_for_update(of=("self",))
            .select_related("connection__organization", "connection__admin_owner")
            .get(pk=saml_pk)
        )
        saml.metadata_checked_at = now
        saml.metadata_failures += 1
        saml.metadata_failing_since = saml.metadata_failing_since or now
        saml.metadata_last_error = error[:500]
        notify = (
            saml.metadata_failure_notified_at is None
            and saml.metadata_failures >= NOTIFY_AFTER_FAILURES
            and now - saml.metadata_failing_since >= NOTIFY_AFTER_SPAN
        )
        if notify:
            saml.metadata_failure_notified_at = now
        saml.save(
            update_fields=[
                "metadata_checked_at",
                "metadata_failures",
                "metadata_failing_since",
                "metadata_last_error",
                "metadata_failure_notified_at",
            ]
        )
        owner = saml.connection.admin_owner
        if notify and owner is not None:
            organization = saml.connection.organization
            context = {
                "organization": organization,
                "connection": saml.connection,
                "saml": saml,
                "connection_url": f"{settings.PUBLIC_BASE_URL}/orgs/{organization.slug}/settings/security/sso/"
                f"{saml.connection.pk}/",
            }
            subject = f"{organization.name}: the SSO metadata URL has failed for {saml.metadata_failures} days"
            body = render_to_string("sso/email/metadata_refresh_failing.txt", context)
            transaction.on_commit(lambda: send_mail(subject, body, None, [owner.email], fail_silently=False))


def refresh_all(now: datetime) -> list[RefreshOutcome]:
    """Refresh every connection due a refresh (``connections_to_refresh``) as of ``now``."""
    return [refresh_connection(pk, now) for pk in connections_to_refresh(now)]
