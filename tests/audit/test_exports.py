"""Streaming CSV and JSON Lines exports of the filtered audit log, and the audit event they leave."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.exports import FIELDS, csv_chunks, neutralize_formula
from audit.models import AuditEvent
from audit.query import iterate, iterate_batches, log_events
from audit.recorder import Actor
from tests.audit.helpers import record_event, target

CSV_URL = "/orgs/acme/audit/export.csv"
JSONL_URL = "/orgs/acme/audit/export.jsonl"
DAY = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)


def body(response) -> str:
    assert response.streaming, "exports must stream"
    return b"".join(response.streaming_content).decode()


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body(response), newline="")))


def jsonl_rows(response) -> list[dict]:
    return [json.loads(line) for line in body(response).splitlines()]


@pytest.mark.parametrize("url", [CSV_URL, JSONL_URL])
def test_it_checks_access(client_for, owner, admin, auditor, member, billing_user, outsider, url):
    for user in (owner, admin, auditor):
        response = client_for(user).get(url)
        assert response.status_code == 200, user.email
        body(response)
    assert client_for(member).get(url).status_code == 403
    assert client_for(billing_user).get(url).status_code == 403
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(None).get(url).status_code == 302


def test_csv_export_is_a_download_of_every_event(client_for, org, owner):
    for number in range(5):
        record_event(org, actor=owner, changes={"plan_name": ["free", f"plan {number}"]})
    response = client_for(owner).get(CSV_URL)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="acme-audit-')
    rows = csv_rows(response)
    stored = AuditEvent.objects.filter(organization=org)
    # Newest first; the export's own event was recorded before the rows were read, so it is first.
    assert [int(row["seq"]) for row in rows] == sorted(stored.values_list("seq", flat=True), reverse=True)
    assert rows[0]["action"] == "audit.exported"
    newest_change = next(row for row in rows if row["action"] == "billing.updated")
    assert json.loads(newest_change["changes"]) == {"plan_name": ["free", "plan 4"]}
    assert newest_change["sentence"] == "owner@acme.test changed the billing settings"
    assert len(newest_change["hash"]) == 64


def test_jsonl_export_has_one_json_object_per_line(client_for, org, owner):
    record_event(org, actor=owner, changes={"plan_name": ["free", "team"]}, details={"note": "line1\r\nline2"})
    response = client_for(owner).get(JSONL_URL)
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    rows = jsonl_rows(response)
    assert len(rows) == AuditEvent.objects.filter(organization=org).count()
    change = next(row for row in rows if row["action"] == "billing.updated")
    assert change["details"] == {"note": "line1\r\nline2"}
    assert change["changes"] == {"plan_name": ["free", "team"]}


def test_exports_follow_the_current_filter(client_for, org, owner, admin):
    record_event(org, actor=owner, at=DAY)
    record_event(org, actor=admin, at=DAY)
    record_event(org, actor=admin, at=DAY + dt.timedelta(days=40))
    query = {"actor": "admin@acme.test", "action": "billing.updated", "since": "2026-05-01", "until": "2026-05-31"}
    csv_export = csv_rows(client_for(owner).get(CSV_URL, query))
    jsonl_export = jsonl_rows(client_for(owner).get(JSONL_URL, query))
    for rows in (csv_export, jsonl_export):
        assert [(row["actor_label"], row["occurred_at"][:10]) for row in rows] == [("admin@acme.test", "2026-05-01")]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_is_itself_audited(client_for, org, auditor, fmt):
    response = client_for(auditor).get(f"/orgs/acme/audit/export.{fmt}", {"action": "billing"}, REMOTE_ADDR="192.0.2.9")
    body(response)
    event = AuditEvent.objects.filter(organization=org, action="audit.exported").get()
    assert event.actor_label == "auditor@acme.test" and event.ip == "192.0.2.9"
    expected = "CSV" if fmt == "csv" else "JSON Lines"
    assert event.sentence == f"auditor@acme.test exported the audit log as {expected} (action=billing)"


@pytest.mark.parametrize("url", [CSV_URL, JSONL_URL])
def test_a_bad_filter_exports_nothing_and_says_why(client_for, org, owner, url):
    response = client_for(owner).get(url, {"since": "last tuesday"})
    assert response.status_code == 400
    assert "Enter the start date as YYYY-MM-DD" in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


@pytest.mark.parametrize("url", [CSV_URL, JSONL_URL])
def test_a_forged_cursor_is_ignored_by_exports(client_for, org, owner, url):
    # Exports cover the whole filtered log; a cursor parameter has no effect on them.
    response = client_for(owner).get(url, {"cursor": "forged"})
    assert response.status_code == 200
    body(response)


@pytest.mark.parametrize(
    ("dangerous", "shown"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\uff1dSUM(A1)", "'\uff1dSUM(A1)"),  # full-width equals sign
        # A leading tab or CR is escaped like every other control character, so it can start nothing.
        ("\tTAB", "\\u0009TAB"),
        ("\rCR=1", "\\u000dCR=1"),
    ],
)
def test_csv_cells_that_spreadsheets_would_run_are_neutralised(client_for, org, owner, dangerous, shown):
    record_event(
        org, "member.removed", actor=Actor.anonymous(dangerous), target=target(dangerous), details={"note": dangerous}
    )
    rows = csv_rows(client_for(owner).get(CSV_URL, {"action": "member.removed"}))
    assert len(rows) == 1
    row = rows[0]
    for column in ("actor_label", "target_label", "sentence"):
        assert row[column].startswith(shown), column
    assert row["actor_label"] == shown


def test_line_breaks_commas_quotes_and_html_survive_csv_quoting(client_for, org, owner):
    label = 'Mallory, "the admin"\r\nfake,row,<script>alert(1)</script>'
    record_event(org, "member.removed", actor=owner, target=target(label))
    response = client_for(owner).get(CSV_URL, {"action": "member.removed"})
    text = body(response)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    # The line break is written as its escape: no cell of the export holds a raw CR or LF.
    assert len(rows) == 1 and rows[0]["target_label"] == label.replace("\r\n", "\\u000d\\u000a")
    assert text.count("\r\n") == 2 and "\n" not in text.replace("\r\n", "")  # the header and one record
    jsonl = body(client_for(owner).get(JSONL_URL, {"action": "member.removed"}))
    assert len(jsonl.splitlines()) == 1 and json.loads(jsonl)["target_label"] == label
    assert "\\r\\n" in jsonl  # escaped inside the JSON string
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),  # right-to-left override: shows as "evilexe.txt"
        ("\u2066isolated\u2069", "\\u2066isolated\\u2069"),
        ("red \x1b[31malert\x1b[0m", "red \\u001b[31malert\\u001b[0m"),  # a terminal escape
        ("a\u2028b\x85c\x7f", "a\\u2028b\\u0085c\\u007f"),
        ("Zoë Müller, 東京", "Zoë Müller, 東京"),
    ],
)
def test_control_and_bidi_characters_are_escaped_in_every_export(client_for, org, owner, label, shown):
    # Events recorded before names refused these characters, or text an IdP or a client sent, still hold them.
    record_event(
        org, "member.removed", actor=Actor.anonymous(label), target=target(label), changes={"name": [label, "x"]}
    )
    row = csv_rows(client_for(owner).get(CSV_URL, {"action": "member.removed"}))[0]
    assert row["actor_label"] == shown and row["target_label"] == shown
    assert shown in row["sentence"] and shown in row["changes"]
    jsonl = body(client_for(owner).get(JSONL_URL, {"action": "member.removed"}))
    assert jsonl.isascii() and jsonl.isprintable() is False  # only the final newline is not printable
    assert jsonl[:-1].isprintable()
    assert json.loads(jsonl)["target_label"] == label


def test_neutralize_formula_leaves_ordinary_values_alone():
    assert neutralize_formula("owner@acme.test") == "owner@acme.test"
    assert neutralize_formula("@owner") == "'@owner"
    assert neutralize_formula("") == ""


def test_exports_read_the_log_in_bounded_batches(org, owner):
    for number in range(23):
        record_event(org, details={"n": number}, at=DAY)
    queryset = log_events(org).filter(action="billing.updated")
    with CaptureQueriesContext(connection) as queries:
        numbers = [event.details["n"] for event in iterate(queryset, batch_size=5)]
    assert numbers == list(reversed(range(23)))
    selects = [query["sql"] for query in queries.captured_queries]
    assert len(selects) == 5 + 1  # five batches of at most five, then one empty read
    assert all("LIMIT 5" in sql and "OFFSET" not in sql.upper() for sql in selects)


def test_the_csv_stream_reads_one_batch_per_chunk(org, owner):
    for number in range(12):
        record_event(org, actor=owner, details={"n": number})
    reads = []

    def batches():
        for batch in iterate_batches(log_events(org).filter(action="billing.updated").values(*FIELDS), 5):
            reads.append(len(batch))
            yield batch

    chunks = csv_chunks(batches())
    assert next(chunks).startswith("occurred_at,seq,action,category,sentence,")  # the header reads nothing
    assert reads == []
    first = next(chunks)
    assert reads == [5] and first.count("\r\n") == 5
    assert [len(chunk.splitlines()) for chunk in chunks] == [5, 2]
    assert reads == [5, 5, 2]
