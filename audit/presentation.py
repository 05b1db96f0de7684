"""Rendering an audit log page: the filter form, one page of events with their details panels, and links.

Shared by the organization viewer (``audit.views``) and the support console (``audit.support_views``);
each passes the log (an organization or None for the platform log) and the URLs of its own pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest

from audit import events
from audit.models import AuditEvent
from audit.query import AuditFilterForm, AuditFilters, Cursor, InvalidCursor, Page, log_events, page_of
from orgsecurity.models import Organization

MAX_CURSOR_LENGTH = 500


@dataclass(frozen=True)
class EventPanel:
    """An event with its sentence and action name (``label``, the raw code stays in the panel) and what its details
    panel shows: ``changes`` as (field, old, new) rows and
    ``details`` as (key, value) rows, values already turned into text."""

    event: AuditEvent
    sentence: str
    label: str
    changes: list[tuple[str, str, str]]
    details: list[tuple[str, str]]


def _as_text(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def panel(event: AuditEvent) -> EventPanel:
    """The details panel of one event (redacted values stay redacted: they were never stored)."""
    changes: list[tuple[str, str, str]] = []
    for name, pair in (event.changes or {}).items():
        if isinstance(pair, list) and len(pair) == 2:
            changes.append((name, _as_text(pair[0]), _as_text(pair[1])))
        else:
            changes.append((name, "", _as_text(pair)))
    details = [(key, _as_text(value)) for key, value in (event.details or {}).items()]
    return EventPanel(event, event.sentence, events.label_for(event.action), changes, details)


@dataclass
class LogPage:
    """Everything a log template needs. ``status`` is 400 when a filter or the cursor was refused
    (then ``errors`` says why and no events are shown)."""

    form: AuditFilterForm
    filters: AuditFilters | None
    panels: list[EventPanel] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    older_url: str = ""
    newer_url: str = ""
    newest_url: str = ""
    export_query: str = ""
    status: int = 200

    @property
    def filtered(self) -> bool:
        return bool(self.filters and self.filters.as_params())


def read_filters(request: HttpRequest) -> AuditFilters | None:
    """The filters in the query string, or None when any is invalid (``log_page`` then says why)."""
    form = AuditFilterForm(request.GET)
    return form.filters() if form.is_valid() else None


def log_page(request: HttpRequest, organization: Organization | None) -> LogPage:
    """One page of ``organization``'s log (None: the platform log) for the filters and cursor in the
    query string. Invalid filters or a cursor that was altered or made for another log give an empty
    page with a message and status 400."""
    form = AuditFilterForm(request.GET)
    filters = form.filters() if form.is_valid() else None
    if filters is None:
        return LogPage(form, None, errors=form.error_sentences(), status=400)
    params = filters.as_params()
    result = LogPage(form, filters, export_query=urlencode(params), newest_url="?" + urlencode(params))
    token = request.GET.get("cursor", "")
    cursor = None
    if token:
        try:
            if len(token) > MAX_CURSOR_LENGTH:
                raise InvalidCursor(InvalidCursor.message)
            cursor = Cursor.load(token, organization)
        except InvalidCursor as exc:
            result.errors.append(str(exc))
            result.status = 400
            return result
    page: Page = page_of(filters.apply(log_events(organization)), organization, cursor)
    result.panels = [panel(event) for event in page.events]
    if page.older:
        result.older_url = "?" + urlencode({**params, "cursor": page.older})
    if page.newer:
        result.newer_url = "?" + urlencode({**params, "cursor": page.newer})
    return result
