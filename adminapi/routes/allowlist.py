"""The IP allowlist over the admin API: settings (ETag, If-Match) and entries, through ``allowlist.actions``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Path, Query

from adminapi import schemas
from adminapi.access import org_access
from adminapi.concurrency import etag_of, idempotent, require_if_match, with_etag
from adminapi.core import ERRORS, MAX_ID, api
from adminapi.errors import refused
from allowlist import actions as allowlist_actions
from allowlist.models import IPAllowlistEntry
from allowlist.preview import preview_settings
from keys import scopes
from orgsecurity.client_ip import client_ip

ENTRIES_PAGE = 200


def allowlist_document(organization: Any) -> dict[str, Any]:
    """The allowlist's settings, entry count and ETag (two queries)."""
    values = allowlist_actions.settings_values(organization)
    entries = IPAllowlistEntry.objects.filter(organization=organization).count()
    return {**values, "entries": entries, "etag": etag_of(values)}


@api.get(
    "/orgs/{org_slug}/allowlist",
    response={200: schemas.AllowlistOut, **ERRORS},
    summary="The IP allowlist's settings",
    tags=["ip allowlist"],
)
def allowlist_settings(request: HttpRequest, org_slug: str, response: HttpResponse) -> dict[str, Any]:
    """Scope ``security:read``. Whether the list is on and what it guards, with its ETag (also in the ``ETag``
    header; the dashboard's allowlist form carries the same version)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    document = allowlist_document(access.organization)
    response["ETag"] = document["etag"]
    return document


def _change_settings(request: HttpRequest, org_slug: str, enabled: bool | None, scope: str | None) -> HttpResponse:
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    organization = access.organization
    current = allowlist_actions.settings_values(organization)
    require_if_match(request, current)
    allowlist_actions.update_settings(
        organization,
        actor=access.actor,
        actor_ip=client_ip(request),
        enabled=current["enabled"] if enabled is None else enabled,
        scope=current["scope"] if scope is None else scope,
    )
    document = allowlist_document(organization)
    return with_etag(JsonResponse(schemas.AllowlistOut(**document).model_dump(mode="json")), document)


@api.put(
    "/orgs/{org_slug}/allowlist",
    response={200: schemas.AllowlistOut, **ERRORS},
    summary="Replace the IP allowlist's settings",
    tags=["ip allowlist"],
)
def put_allowlist_settings(request: HttpRequest, org_slug: str, payload: schemas.AllowlistSettings) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required (428 without, 412 when changed). The dashboard's guard
    applies: 409 ``self_lockout`` when guarding dashboard pages would leave this client's IP outside the list."""
    return _change_settings(request, org_slug, payload.enabled, payload.scope)


@api.patch(
    "/orgs/{org_slug}/allowlist",
    response={200: schemas.AllowlistOut, **ERRORS},
    summary="Change some of the IP allowlist's settings",
    tags=["ip allowlist"],
)
def patch_allowlist_settings(request: HttpRequest, org_slug: str, payload: schemas.AllowlistPatch) -> HttpResponse:
    """As PUT, changing only the fields sent."""
    return _change_settings(request, org_slug, payload.enabled, payload.scope)


def entry_values(entry: IPAllowlistEntry) -> dict[str, Any]:
    """What an entry's ETag versions: its id, block and label."""
    return {"id": entry.pk, "cidr": entry.cidr, "label": entry.label}


def entry_document(entry: IPAllowlistEntry) -> dict[str, Any]:
    return {**entry_values(entry), "added_at": entry.added_at, "etag": etag_of(entry_values(entry))}


@api.get(
    "/orgs/{org_slug}/allowlist/entries",
    response={200: schemas.EntryPage, **ERRORS},
    summary="The IP allowlist's entries",
    tags=["ip allowlist"],
)
def list_entries(
    request: HttpRequest,
    org_slug: str,
    after: int = Query(0, ge=0, le=MAX_ID),
    limit: int = Query(ENTRIES_PAGE, ge=1, le=1000),
) -> dict[str, Any]:
    """Scope ``security:read``. Entries by id, ``limit`` per page from after the id ``after``."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    rows = list(
        IPAllowlistEntry.objects.filter(organization_id=access.organization.pk, pk__gt=after).order_by("pk")[
            : limit + 1
        ]
    )
    shown = rows[:limit]
    return {
        "entries": [entry_document(entry) for entry in shown],
        "next_after": shown[-1].pk if len(rows) > limit else None,
    }


@api.post(
    "/orgs/{org_slug}/allowlist/entries",
    response={201: schemas.EntriesAdded, **ERRORS},
    summary="Add one entry",
    tags=["ip allowlist"],
)
def add_entry(request: HttpRequest, org_slug: str, payload: schemas.EntryIn) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key``. 400 ``invalid_entry`` or ``duplicate_entry`` as on
    the page."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)

    def run() -> HttpResponse:
        result = allowlist_actions.add_entry(access.organization, payload.cidr, actor=access.actor, label=payload.label)
        return _added(result)

    return idempotent(request, access.key.pk, run)


@api.post(
    "/orgs/{org_slug}/allowlist/entries/bulk",
    response={201: schemas.EntriesAdded, **ERRORS},
    summary="Add many entries (the page's bulk paste)",
    tags=["ip allowlist"],
)
def add_entries(request: HttpRequest, org_slug: str, payload: schemas.BulkEntriesIn) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key``. Any bad line refuses the whole paste (400
    ``invalid_entries`` with ``lines``); duplicates are skipped and reported in ``notices``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)

    def run() -> HttpResponse:
        result = allowlist_actions.add_entries(
            access.organization, payload.text, actor=access.actor, default_label=payload.default_label
        )
        return _added(result)

    return idempotent(request, access.key.pk, run)


def _added(result: allowlist_actions.AddResult) -> HttpResponse:
    body = {"added": [entry_document(entry) for entry in result.added], "notices": result.notices}
    return JsonResponse(schemas.EntriesAdded(**body).model_dump(mode="json"), status=201)


def _entry(organization: Any, entry_id: int) -> IPAllowlistEntry:
    entry = IPAllowlistEntry.objects.filter(organization_id=organization.pk, pk=entry_id).first()
    if entry is None:
        raise refused("not_found", f"There is no allowlist entry {entry_id} in this organization.", 404)
    return entry


@api.get(
    "/orgs/{org_slug}/allowlist/entries/{entry_id}",
    response={200: schemas.EntryOut, **ERRORS},
    summary="One entry",
    tags=["ip allowlist"],
)
def get_entry(
    request: HttpRequest, org_slug: str, response: HttpResponse, entry_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """Scope ``security:read``. The entry with its ETag (also in the ``ETag`` header)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    document = entry_document(_entry(access.organization, entry_id))
    response["ETag"] = document["etag"]
    return document


@api.delete(
    "/orgs/{org_slug}/allowlist/entries/{entry_id}",
    response={204: None, **ERRORS},
    summary="Remove one entry",
    tags=["ip allowlist"],
)
def delete_entry(request: HttpRequest, org_slug: str, entry_id: int = Path(..., ge=1, le=MAX_ID)) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required. 409 ``self_lockout`` when the list guards dashboard pages
    and this client's IP would fall outside it, as on the page."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    entry = _entry(access.organization, entry_id)
    require_if_match(request, entry_values(entry))
    allowlist_actions.remove_entries(access.organization, [entry.pk], actor=access.actor, actor_ip=client_ip(request))
    return HttpResponse(status=204)


@api.post(
    "/orgs/{org_slug}/allowlist/preview",
    response={200: schemas.ImpactOut, **ERRORS},
    summary="Who a change of the IP allowlist's settings would cut off",
    tags=["ip allowlist"],
)
def preview_allowlist_settings(request: HttpRequest, org_slug: str, payload: schemas.AllowlistPatch) -> dict[str, Any]:
    """Scope ``security:read``; changes nothing. The allowlist page's confirmation list
    (``allowlist.preview.preview_settings``) for the settings sent (fields left out keep their saved value): members
    whose sessions of the last 30 days came from addresses that would be outside, and keys whose last-used IP would
    be; a note when the change would lock this client's IP out of dashboard pages."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    current = allowlist_actions.settings_values(access.organization)
    return preview_settings(
        access.organization,
        enabled=current["enabled"] if payload.enabled is None else payload.enabled,
        scope=current["scope"] if payload.scope is None else payload.scope,
        actor_ip=client_ip(request),
    ).as_dict()
