"""Streaming exports of an audit log as CSV (RFC 4180) or JSON Lines, in constant memory.

Rows are read in keyset batches (``audit.query.iterate_batches``) as plain values, and each batch is
written out as one chunk of a StreamingHttpResponse, so a million-event export never holds more than one
batch of rows and one chunk of text.

Free text can hold anything an older event, an IdP or a client sent, so exports neutralise it. In CSV, control
characters (CR, LF, ESC, NUL, ...), line separators and bidirectional overrides (U+202A to U+202E, U+2066 to U+2069)
are written as their ``\\uXXXX`` escapes, and cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, ...) are prefixed with an apostrophe, as OWASP's "CSV Injection" guidance recommends
(``orgsecurity.text.spreadsheet_cell``). In JSON Lines every string is JSON-escaped (ASCII only, DEL included), so
the same characters are ``\\uXXXX`` escapes there too and CR, LF, U+2028 and HTML stay inside their line.
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

from audit.events import sentence_for
from audit.models import AuditEvent
from audit.query import EXPORT_BATCH_SIZE, iterate_batches
from orgsecurity.text import FORMULA_TRIGGERS, neutralize_for_export, spreadsheet_cell

# The stored fields an export reads, and the columns it writes (the sentence is rendered, times are UTC ISO 8601).
FIELDS = (
    "occurred_at",
    "seq",
    "action",
    "category",
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
COLUMNS = (*FIELDS[:4], "sentence", *FIELDS[4:])


def export_record(row: dict[str, Any]) -> dict[str, Any]:
    """One event (a dict of FIELDS) as the export's columns."""
    record = dict(row)
    record["occurred_at"] = row["occurred_at"].astimezone(dt.UTC).isoformat()
    record["sentence"] = sentence_for(
        row["action"],
        actor=row["actor_label"],
        target=row["target_label"],
        changes=row["changes"],
        details=row["details"],
    )
    return record


def neutralize_formula(value: str) -> str:
    """Prefix a cell that a spreadsheet would evaluate as a formula with an apostrophe."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _text(value: str | None) -> str:
    return spreadsheet_cell(value) if value else ""


def _json(value: Any) -> str:
    # A JSON object or array starts with { or [, which no spreadsheet evaluates; json.dumps escapes C0 controls but
    # leaves bidi overrides, separators, DEL and C1 controls as they are.
    return neutralize_for_export(json.dumps(value, sort_keys=True, ensure_ascii=False))


def csv_row(record: dict[str, Any]) -> list[Any]:
    """The CSV cells of one export record, in COLUMNS order. Free text is neutralised (control and bidi characters
    escaped, formulas defused); the time, position, hashes and IP address are machine-made."""
    return [
        record["occurred_at"],
        record["seq"],
        _text(record["action"]),
        _text(record["category"]),
        _text(record["sentence"]),
        _text(record["actor_type"]),
        _text(record["actor_id"]),
        _text(record["actor_label"]),
        _text(record["target_type"]),
        _text(record["target_id"]),
        _text(record["target_label"]),
        _json(record["changes"]),
        _json(record["details"]),
        record["ip"] or "",
        _text(record["user_agent"]),
        _text(record["request_id"]),
        record["prev_hash"],
        record["hash"],
    ]


class _Echo:
    """A file-like object whose write() returns what was written, so csv.writer can feed a generator."""

    def write(self, text: str) -> str:
        return text


def csv_chunks(batches: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    """The header line, then one chunk of CSV lines (CRLF-terminated, RFC 4180) per batch of events."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for batch in batches:
        yield "".join([writer.writerow(csv_row(export_record(row))) for row in batch])


def jsonl_chunks(batches: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    """One chunk per batch of events, one JSON object per line per event (JSON Lines)."""
    for batch in batches:
        yield "".join(_json_line(export_record(row)) for row in batch)


def _json_line(record: dict[str, Any]) -> str:
    # ensure_ascii escapes every non-ASCII character and C0 control; DEL (U+007F) is ASCII and only ever appears
    # inside a string, where its \u007f escape means the same.
    return json.dumps(record, sort_keys=True, ensure_ascii=True).replace("\x7f", "\\u007f") + "\n"


FORMATS = {
    "csv": ("text/csv; charset=utf-8", csv_chunks),
    "jsonl": ("application/jsonl; charset=utf-8", jsonl_chunks),
}


def streaming_export(
    queryset: QuerySet[AuditEvent], fmt: str, filename_stem: str, *, batch_size: int = EXPORT_BATCH_SIZE
) -> StreamingHttpResponse:
    """A download of every event of ``queryset`` (one log, filtered), newest first, as ``fmt`` (csv or jsonl)."""
    content_type, chunks = FORMATS[fmt]
    batches = iterate_batches(queryset.values(*FIELDS), batch_size)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(chunks(batches), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename_stem}-audit-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
