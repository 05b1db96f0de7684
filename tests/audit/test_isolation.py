"""An organization admin never sees another organization's events: not by URL, filter, cursor or export."""

from __future__ import annotations

import csv
import io
import json

import pytest

from audit.models import AuditEvent
from audit.query import Cursor
from tests.audit.helpers import record_event, sentences

SECRET_LABEL = "globex-only-event"


@pytest.fixture
def globex_log(other_org, outsider):
    for number in range(30):
        record_event(
            other_org, "member.removed", actor=outsider, details={"n": number}, changes={"note": [None, SECRET_LABEL]}
        )
    return other_org


def test_the_other_organizations_viewer_and_exports_are_404(client_for, admin, globex_log):
    client = client_for(admin)
    for url in ("/orgs/globex/audit/", "/orgs/globex/audit/export.csv", "/orgs/globex/audit/export.jsonl"):
        assert client.get(url).status_code == 404, url


def test_filtering_by_the_other_organizations_actor_finds_nothing(client_for, admin, globex_log):
    client = client_for(admin)
    for query in ({"actor": "owner@globex.test"}, {"q": "globex"}, {"target": "Globex"}):
        response = client.get("/orgs/acme/audit/", query)
        assert response.status_code == 200
        assert sentences(response) == [], query
    response = client.get("/orgs/acme/audit/", {"action": "member"})
    assert sentences(response) and not any("globex" in sentence for sentence in sentences(response))
    assert SECRET_LABEL not in response.content.decode()


def test_a_cursor_from_the_other_organization_is_refused(client_for, admin, outsider, globex_log):
    first = client_for(outsider).get("/orgs/globex/audit/")
    html = first.content.decode()
    globex_cursor = html.split('rel="next"')[0].rsplit("cursor=", 1)[1].split('"')[0]
    response = client_for(admin).get("/orgs/acme/audit/?cursor=" + globex_cursor)
    assert response.status_code == 400
    assert "This page link is not valid for this audit log" in response.content.decode()
    assert SECRET_LABEL not in response.content.decode()


def test_a_cursor_pointing_into_the_other_organizations_timeline_still_shows_only_acme(
    client_for, org, admin, globex_log
):
    # Even a correctly signed acme cursor positioned among globex events only reads acme's log.
    newest_globex = AuditEvent.objects.filter(organization=globex_log).order_by("-seq").first()
    token = Cursor(newest_globex.occurred_at, newest_globex.seq + 1).sign(org)
    response = client_for(admin).get("/orgs/acme/audit/", {"cursor": token})
    assert response.status_code == 200
    assert SECRET_LABEL not in response.content.decode()


def test_exports_contain_only_the_organizations_own_events(client_for, org, admin, globex_log):
    csv_text = b"".join(client_for(admin).get("/orgs/acme/audit/export.csv").streaming_content).decode()
    jsonl_text = b"".join(client_for(admin).get("/orgs/acme/audit/export.jsonl").streaming_content).decode()
    acme_seqs = set(AuditEvent.objects.filter(organization=org).values_list("seq", flat=True))
    csv_rows = list(csv.DictReader(io.StringIO(csv_text, newline="")))
    jsonl_rows = [json.loads(line) for line in jsonl_text.splitlines()]
    for rows in (csv_rows, jsonl_rows):
        assert rows and {int(row["seq"]) for row in rows} <= acme_seqs
        assert all(SECRET_LABEL not in json.dumps(row) for row in rows)
    assert SECRET_LABEL not in csv_text + jsonl_text
