"""Streaming exports of an audit log as CSV (RFC 4180) or JSON Lines, in constant memory.

Rows come from ``audit.query.iterate`` (keyset batches) and are written one at a time into a
StreamingHttpResponse, so a million-event export never holds more than one batch.

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return) are prefixed with an apostrophe, as OWASP's "CSV Injection" guidance recommends; the
csv module quotes cells that contain commas, quotes, CR or LF, so a label cannot break a row apart.
In JSON Lines every string is JSON-escaped (ASCII only), so CR, LF, U+2028 and HTML stay inside their line.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from audit.models import AuditEvent
from audit.query import iterate

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = (
    "occurred_at",
    "seq",
    "action",
    "category",
    "sentence",
    "actor_type",
    "actor_id",
    "actor_label",
    "target_type",
    "target_id",
    "target_label",
    "changes",
    "details",
    "ip",
    "user_agent",
    "request_id",
    "prev_hash",
    "hash",
)


def event_record(event: AuditEvent) -> dict[str, Any]:
    """One event as a flat dict of the export columns (times in UTC, ISO 8601)."""
    return {
        "occurred_at": event.occurred_at.astimezone(dt.UTC).isoformat(),
        "seq": event.seq,
        "action": event.action,
        "category": event.category,
        "sentence": event.sentence,
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "changes": event.changes,
        "details": event.details,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def neutralize_formula(value: str) -> str:
    """Prefix a cell that a spreadsheet would evaluate as a formula with an apostrophe."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, str):
        return neutralize_formula(value)
    return value


class _Line:
    """A file-like object whose write() returns what was written, so csv.writer can feed a generator."""

    def write(self, text: str) -> str:
        return text


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The header line, then one CSV line (CRLF-terminated, RFC 4180) per event."""
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for event in events:
        record = event_record(event)
        yield writer.writerow([_csv_cell(record[column]) for column in COLUMNS])


def jsonl_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """One JSON object per line per event (JSON Lines)."""
    for event in events:
        yield json.dumps(event_record(event), sort_keys=True, ensure_ascii=True) + "\n"


FORMATS = {
    "csv": ("text/csv; charset=utf-8", csv_lines),
    "jsonl": ("application/jsonl; charset=utf-8", jsonl_lines),
}


def streaming_export(queryset: QuerySet[AuditEvent], fmt: str, filename_stem: str) -> StreamingHttpResponse:
    """A download of every event of ``queryset`` (one log, filtered), newest first, as ``fmt`` (csv or jsonl)."""
    content_type, lines = FORMATS[fmt]
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(lines(iterate(queryset)), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename_stem}-audit-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
