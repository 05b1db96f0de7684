"""Audit stream destinations over the admin API: list with delivery state, create (a webhook's ``whsec_`` secret
shown once), read, change (ETag, If-Match), delete, send a test event and resume a paused one, through
``audit_stream.actions``.

Who: where the audit log streams to is for owners, as on the streaming page (``Capability.MANAGE_AUDIT_LOG``;
``audit_stream.actions.require_log_manager``, 403 ``role_not_allowed``): only an owner's personal key, with
``security:read`` to read and ``security:write`` to change; an admin's key and a service account's key (which acts
as an admin) are refused. URLs pass the page's checks (``audit_stream.ssrf``: https only, no credentials, no
loopback, private or link-local literal; names are checked again at each connection), and a test event is sent only
to a destination of the key's organization.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import Path

from adminapi import schemas_integrations as schemas
from adminapi.access import KeyAccess, org_access
from adminapi.concurrency import etag_of, idempotent, require_if_match, with_etag
from adminapi.core import ERRORS, MAX_ID, api, delegated
from adminapi.errors import refused
from audit_stream import actions as stream_actions
from audit_stream import delivery
from audit_stream.models import Destination, Status
from keys import scopes

TAGS = ["audit streams"]


def destination_values(destination: Destination) -> dict[str, Any]:
    """What a destination's ETag versions: its settings (the CA by its SHA-256; never the secret or token)."""
    return {
        "id": destination.pk,
        "kind": destination.kind,
        "name": destination.name,
        "url": destination.url,
        "ca": hashlib.sha256(destination.ca_pem.encode()).hexdigest() if destination.ca_pem else "",
        "batch_size": destination.batch_size,
    }


def destination_document(destination: Destination, now: Any = None) -> dict[str, Any]:
    """A destination with its delivery state (``audit_stream.delivery.lag``: two indexed reads)."""
    lag = delivery.lag(destination, now or timezone.now())
    return {
        "id": destination.pk,
        "kind": destination.kind,
        "name": destination.name,
        "url": destination.url,
        "custom_ca": bool(destination.ca_pem),
        "batch_size": destination.batch_size,
        "status": destination.status,
        "created_at": destination.created_at,
        "delivery": {
            "cursor_seq": destination.cursor_seq,
            "delivered_at": destination.cursor_at,
            "head_seq": lag.head_seq,
            "lag_events": lag.events,
            "lag_seconds": lag.seconds,
            "paused": destination.status == Status.PAUSED,
            "consecutive_failures": destination.consecutive_failures,
            "failing_since": destination.failing_since,
            "last_error": destination.last_error,
            "next_attempt_at": destination.next_attempt_at,
        },
        "etag": etag_of(destination_values(destination)),
    }


def _owners_only(access: KeyAccess) -> None:
    # The actions' rule, asked for reads too (the streaming page is owners' only).
    stream_actions.require_log_manager(access.organization, delegated(access))


def _destination(access: KeyAccess, destination_id: int) -> Destination:
    destination = (
        Destination.objects.filter(organization_id=access.organization.pk, pk=destination_id)
        .select_related("organization")
        .first()
    )
    if destination is None:
        raise refused("not_found", f"There is no audit stream destination {destination_id} in this organization.", 404)
    return destination


def _answer(destination_id: int, status: int = 200) -> HttpResponse:
    destination = Destination.objects.select_related("organization").get(pk=destination_id)
    body = schemas.DestinationOut(**destination_document(destination)).model_dump(mode="json")
    return with_etag(JsonResponse(body, status=status), destination_values(destination))


@api.get(
    "/orgs/{org_slug}/audit/streams",
    response={200: schemas.DestinationPage, **ERRORS},
    summary="Audit stream destinations with their delivery state",
    tags=TAGS,
)
def list_destinations(request: HttpRequest, org_slug: str) -> dict[str, Any]:
    """Scope ``security:read``; owners' keys only (403 ``role_not_allowed``). Each destination (at most ten) with
    its cursor, lag, pause and last error, as the streaming page shows them."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    _owners_only(access)
    now = timezone.now()
    rows = Destination.objects.filter(organization_id=access.organization.pk).order_by("pk")
    return {"destinations": [destination_document(destination, now) for destination in rows]}


@api.post(
    "/orgs/{org_slug}/audit/streams",
    response={201: schemas.DestinationCreated, **ERRORS},
    summary="Add an audit stream destination (a webhook's secret is shown once)",
    tags=TAGS,
)
def create_destination(request: HttpRequest, org_slug: str, payload: schemas.DestinationIn) -> HttpResponse:
    """Scope ``security:write``; owners' keys only. The page's checks with its codes: 400 ``target_refused`` (not
    https, credentials in the URL, a loopback, private or link-local address), ``token_missing`` (HEC), ``bad_ca``,
    ``too_many``. A webhook's ``signing_secret`` (``whsec_…``) is shown once: null in a replay of the same
    ``Idempotency-Key``. Answered with ``Cache-Control: no-store``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    _owners_only(access)

    def run() -> HttpResponse:
        created = stream_actions.create_destination(
            access.organization,
            actor=delegated(access),
            kind=payload.kind,
            url=payload.url,
            name=payload.name,
            token=payload.token,
            ca_pem=payload.ca_pem,
            batch_size=payload.batch_size,
        )
        destination = Destination.objects.get(pk=created.destination.pk)
        body = {"destination": destination_document(destination), "signing_secret": created.signing_secret or None}
        response = JsonResponse(schemas.DestinationCreated(**body).model_dump(mode="json"), status=201)
        response["ETag"] = etag_of(destination_values(destination))
        response["Cache-Control"] = "no-store"
        return response

    return idempotent(request, access.key.pk, run, secret_fields=("signing_secret",))


@api.get(
    "/orgs/{org_slug}/audit/streams/{destination_id}",
    response={200: schemas.DestinationOut, **ERRORS},
    summary="One audit stream destination",
    tags=TAGS,
)
def get_destination(
    request: HttpRequest, org_slug: str, destination_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:read``; owners' keys only. The destination and its delivery state, with its ETag."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    _owners_only(access)
    return _answer(_destination(access, destination_id).pk)


@api.patch(
    "/orgs/{org_slug}/audit/streams/{destination_id}",
    response={200: schemas.DestinationOut, **ERRORS},
    summary="Change an audit stream destination",
    tags=TAGS,
)
def patch_destination(
    request: HttpRequest,
    org_slug: str,
    payload: schemas.DestinationPatch,
    destination_id: int = Path(..., ge=1, le=MAX_ID),
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required; owners' keys only. Its name, URL (checked as when added),
    HEC token (400 ``bad_token`` for another kind), CA (``""``: system roots) or batch size; delivery continues from
    its cursor."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    _owners_only(access)
    destination = _destination(access, destination_id)
    require_if_match(request, destination_values(destination))
    stream_actions.update_destination(
        destination,
        actor=delegated(access),
        name=payload.name,
        url=payload.url,
        token=payload.token,
        ca_pem=payload.ca_pem,
        batch_size=payload.batch_size,
    )
    return _answer(destination.pk)


@api.delete(
    "/orgs/{org_slug}/audit/streams/{destination_id}",
    response={204: None, **ERRORS},
    summary="Remove an audit stream destination",
    tags=TAGS,
)
def delete_destination(
    request: HttpRequest, org_slug: str, destination_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required; owners' keys only. Nothing more is sent to it."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    _owners_only(access)
    destination = _destination(access, destination_id)
    require_if_match(request, destination_values(destination))
    stream_actions.remove_destination(destination, actor=delegated(access))
    return HttpResponse(status=204)


@api.post(
    "/orgs/{org_slug}/audit/streams/{destination_id}/test",
    response={200: schemas.TestEventOut, **ERRORS},
    summary="Send a test event",
    tags=TAGS,
)
def send_test_event(
    request: HttpRequest, org_slug: str, destination_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """Scope ``security:write``; owners' keys only. Sends one test event outside the stream (the cursor does not
    move) and answers whether the receiver accepted it, with its answer or the error; the attempt is audited."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    _owners_only(access)
    destination = _destination(access, destination_id)
    accepted, answer = stream_actions.send_test_event(destination, actor=delegated(access))
    return {"accepted": accepted, "answer": answer}


@api.post(
    "/orgs/{org_slug}/audit/streams/{destination_id}/resume",
    response={200: schemas.DestinationOut, **ERRORS},
    summary="Resume a paused destination",
    tags=TAGS,
)
def resume_destination(
    request: HttpRequest, org_slug: str, destination_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``; owners' keys only. Delivery continues from its cursor (nothing was skipped); 409
    ``not_paused`` for an active one, as on the page."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    _owners_only(access)
    destination = _destination(access, destination_id)
    stream_actions.resume_destination(destination, actor=delegated(access))
    return _answer(destination.pk)
