"""Audit events over the admin API: the dashboard's filters, newest first, signed cursors."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query

from adminapi import schemas
from adminapi.access import org_access
from adminapi.core import ERRORS, api, invalid
from audit.models import AuditEvent
from audit.query import AuditFilterForm, Cursor, InvalidCursor, log_events, page_of
from keys import scopes


def event_document(event: AuditEvent) -> dict[str, Any]:
    target = None
    if event.target_type or event.target_label:
        target = {"type": event.target_type, "id": event.target_id, "label": event.target_label}
    return {
        "id": event.pk,
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "action": event.action,
        "category": event.category,
        "sentence": event.sentence,
        "actor": {"type": event.actor_type, "id": event.actor_id, "label": event.actor_label},
        "target": target,
        "changes": event.changes,
        "details": event.details,
        "ip": event.ip,
        "request_id": event.request_id,
    }


@api.get(
    "/orgs/{org_slug}/audit/events",
    response={200: schemas.AuditPage, **ERRORS},
    summary="Audit events, newest first",
    tags=["audit"],
)
def audit_events(request: HttpRequest, org_slug: str, filters: Query[schemas.AuditQuery]) -> dict[str, Any]:
    """Scope ``audit:read``. The audit log's filters (the same as the dashboard's), newest first, ``limit`` per
    page; follow ``older`` with ``?cursor=`` (cursors are signed and bound to this organization's log)."""
    access = org_access(request, org_slug, scopes.AUDIT_READ)
    organization = access.organization
    data = {name: value for name, value in filters.dict().items() if name not in {"cursor", "limit"}}
    form = AuditFilterForm({name: "" if value is None else str(value) for name, value in data.items()})
    if not form.is_valid():
        fields = {name: str(errors[0]) for name, errors in form.errors.items()}
        listed = "; ".join(f"{name}: {message}" for name, message in fields.items())
        return invalid(f"Check the filters: {listed}", fields)
    cursor = None
    if filters.cursor:
        try:
            cursor = Cursor.load(filters.cursor, organization)
        except InvalidCursor:
            return invalid("This cursor is not one this log gave out; start again without it.", {"cursor": "invalid"})
    queryset = form.filters().apply(log_events(organization))
    page = page_of(queryset, organization, cursor, size=filters.limit)
    return {"events": [event_document(event) for event in page.events], "older": page.older, "newer": page.newer}
