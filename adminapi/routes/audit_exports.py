"""Audit export links over the admin API: ``POST /orgs/<org>/audit/exports`` answers a short-lived link to the same
export the log viewer's "Export CSV / JSON Lines" buttons download (``audit.exports.streaming_export``, the viewer's
filters, audited as ``audit.exported`` when the download starts).

How a program is authorized to download: the link is **signed and key-bound, and the download is key-authenticated
too**. Its last path segment is a token signed (``django.core.signing``, salted with the organization's id) over
the issuing key's id, the format, the filters and an expiry ``LINK_SECONDS`` ahead; the download itself is an admin
API operation, so it needs the same ``Authorization: Bearer`` key again, with ``audit:read`` still on it and a role
that may read the log. A link is therefore useless on its own (a leaked URL in a proxy log reads nothing), answers
404 for any other key (another organization's fails the organization check; another key of the same organization
fails the binding) and 410 ``export_link_expired`` after its expiry.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from ninja import Path

from adminapi import schemas_integrations as schemas
from adminapi.access import KeyAccess, org_access
from adminapi.core import ERRORS, api, delegated, invalid
from adminapi.errors import refused
from adminapi.schemas import Error
from audit.exports import streaming_export
from audit.query import AuditFilterForm, log_events
from audit.views import record_export
from keys import scopes

LINK_SECONDS = 15 * 60
FILTERS = ("actor", "action", "target", "since", "until", "q", "ref")
TAGS = ["audit"]

clock = time.time  # seconds since the epoch; tests replace it


def _salt(access: KeyAccess) -> str:
    return f"adminapi.audit-export:{access.organization.pk}"


def _form(filters: dict[str, str]) -> AuditFilterForm:
    return AuditFilterForm({name: filters.get(name, "") for name in FILTERS})


@api.post(
    "/orgs/{org_slug}/audit/exports",
    response={201: schemas.ExportLink, **ERRORS},
    summary="A link to export the audit log (CSV or JSON Lines)",
    tags=TAGS,
)
def create_export(request: HttpRequest, org_slug: str, payload: schemas.ExportIn) -> HttpResponse:
    """Scope ``audit:read``. Checks the filters (the log viewer's: 400 ``invalid_request`` with ``fields``) and
    answers a link to download the filtered log, newest first, valid for 15 minutes; GET it with the same key."""
    access = org_access(request, org_slug, scopes.AUDIT_READ)
    filters = {name: getattr(payload, name).strip() for name in FILTERS if getattr(payload, name).strip()}
    form = _form(filters)
    if not form.is_valid():
        fields = {name: str(errors[0]) for name, errors in form.errors.items()}
        listed = "; ".join(f"{name}: {message}" for name, message in fields.items())
        return invalid(f"Check the filters: {listed}", fields)
    expires = int(clock()) + LINK_SECONDS
    token = signing.dumps(
        {"k": access.key.pk, "f": payload.format, "q": filters, "e": expires}, salt=_salt(access), compress=True
    )
    path = reverse("adminapi:audit_export_download", kwargs={"org_slug": access.organization.slug, "export_id": token})
    body = {
        "url": settings.PUBLIC_BASE_URL + path,
        "format": payload.format,
        "expires_at": dt.datetime.fromtimestamp(expires, tz=dt.UTC),
        "filters": filters,
    }
    response = JsonResponse(schemas.ExportLink(**body).model_dump(mode="json"), status=201)
    response["Cache-Control"] = "no-store"
    return response


DOWNLOAD_OK = {
    200: {
        "description": "The export, streamed: CSV (RFC 4180) or JSON Lines, as the log viewer's export buttons.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/jsonl": {"schema": {"type": "string"}},
        },
    }
}


@api.get(
    "/orgs/{org_slug}/audit/exports/{export_id}",
    response={410: Error, **ERRORS},
    summary="Download an audit export (the link's URL)",
    tags=TAGS,
    url_name="audit_export_download",
    openapi_extra={"responses": DOWNLOAD_OK},
)
def download_export(request: HttpRequest, org_slug: str, export_id: str = Path(..., max_length=4000)) -> HttpResponse:
    """Scope ``audit:read``, with the key that made the link (404 for any other key or a link that is not ours,
    410 ``export_link_expired`` after 15 minutes). Streams the export and records ``audit.exported``."""
    access = org_access(request, org_slug, scopes.AUDIT_READ)
    try:
        claims: Any = signing.loads(export_id, salt=_salt(access))
    except signing.BadSignature:
        claims = None
    if not isinstance(claims, dict) or claims.get("k") != access.key.pk or claims.get("f") not in ("csv", "jsonl"):
        raise refused("not_found", "There is no such export link for this key; make a new one.", 404)
    if clock() > claims.get("e", 0):
        raise refused("export_link_expired", "This export link has expired; make a new one.", 410)
    form = _form(claims.get("q") or {})
    if not form.is_valid():  # valid when signed; the action list may have changed since
        raise refused("not_found", "This export link's filters are no longer valid; make a new one.", 404)
    filters = form.filters()
    organization = access.organization
    record_export(organization, actor=delegated(access), fmt=claims["f"], filters=filters)
    return streaming_export(filters.apply(log_events(organization)), claims["f"], organization.slug)
