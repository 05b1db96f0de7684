"""The audit log viewer at /orgs/<slug>/audit/: access, order, details, filters, keyset pages, bad input."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from audit.query import Cursor
from audit.recorder import Actor
from orgsecurity import actions
from orgsecurity.models import Membership
from tests.audit.helpers import newer_link, older_link, record_event, sentences, target

URL = "/orgs/acme/audit/"
DAY = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def test_it_checks_access(client_for, owner, admin, auditor, member, billing_user, outsider):
    for user in (owner, admin, auditor):
        assert client_for(user).get(URL).status_code == 200, user.email
    assert client_for(member).get(URL).status_code == 403
    assert client_for(billing_user).get(URL).status_code == 403
    assert client_for(outsider).get(URL).status_code == 404
    anonymous = client_for(None).get(URL)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_an_unknown_organization_is_404_like_one_you_are_not_in(client_for, owner):
    assert client_for(owner).get("/orgs/no-such-org/audit/").status_code == 404


def test_events_are_shown_newest_first_with_their_sentence(client_for, org, owner):
    client = client_for(owner)  # signing in records an event too; the billing changes come after it
    for plan in ("team", "business", "enterprise"):
        actions.update_billing(org, actor=owner, plan_name=plan)
    shown = sentences(client.get(URL))
    assert shown[:4] == ["owner@acme.test changed the billing settings"] * 3 + [
        "owner@acme.test signed in with password"
    ]
    assert shown[-1] == "tests created the organization Acme Inc."
    # The details panels are in the same order: enterprise (newest) first.
    html = client.get(URL).content.decode()
    assert html.index("→ enterprise") < html.index("→ business") < html.index("→ team")


def test_the_details_panel_shows_changes_and_request_metadata(client_for, owner, member):
    membership = Membership.objects.get(user=member)
    client_for(owner).post(
        f"/orgs/acme/members/{membership.pk}/role/",
        {"role": "auditor"},
        REMOTE_ADDR="198.51.100.7",
        HTTP_USER_AGENT="AuditTest/1.0",
    )
    event = AuditEvent.objects.get(action="member.role_changed")
    html = client_for(owner).get(URL).content.decode()
    assert "owner@acme.test changed the role of member@acme.test (Auditor) from member to auditor" in html
    assert "<td><code>role</code></td><td>member</td><td>→ auditor</td>" in html
    for shown in ("198.51.100.7", "AuditTest/1.0", event.request_id, event.hash, "orgsecurity.membership"):
        assert shown in html


@pytest.fixture
def varied_log(org, owner, admin):
    """Events from two actors, several actions and targets, on several days."""
    record_event(
        org,
        "member.invited",
        actor=owner,
        target=target("new@acme.test", "orgsecurity.invitation"),
        changes={"email": [None, "new@acme.test"], "role": [None, "member"]},
        at=DAY,
    )
    record_event(
        org, "billing.updated", actor=admin, changes={"plan_name": ["free", "team"]}, at=DAY + dt.timedelta(days=1)
    )
    record_event(
        org,
        "member.removed",
        actor=admin,
        target=target("gone@acme.test (Member)"),
        changes={"role": ["member", None]},
        at=DAY + dt.timedelta(days=2),
    )
    record_event(
        org, "billing.updated", actor=owner, changes={"plan_name": ["team", "business"]}, at=DAY + dt.timedelta(days=3)
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"actor": "admin@acme.test"}, ["member.removed", "billing.updated"]),
        ({"actor": "ADMIN@acme.test"}, ["member.removed", "billing.updated"]),
        (
            {"action": "billing.updated", "since": "2026-03-10", "until": "2026-03-20"},
            ["billing.updated", "billing.updated"],
        ),
        ({"action": "member", "since": "2026-03-01", "until": "2026-03-31"}, ["member.removed", "member.invited"]),
        ({"target": "gone@acme.test"}, ["member.removed"]),
        ({"since": "2026-03-11", "until": "2026-03-12"}, ["member.removed", "billing.updated"]),
        ({"until": "2026-03-10"}, ["member.invited"]),
        ({"q": "NEW@ACME"}, ["member.invited"]),
        (
            {"actor": "admin@acme.test", "action": "billing.updated", "since": "2026-03-01", "until": "2026-03-31"},
            ["billing.updated"],
        ),
    ],
)
def test_filters_narrow_the_log(client_for, owner, varied_log, query, expected):
    response = client_for(owner).get(URL, query)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r"<dt>Action code</dt><dd><code>([a-z_.]+)</code></dd>", html) == expected


def test_an_empty_filter_result_says_so(client_for, owner, varied_log):
    response = client_for(owner).get(URL, {"actor": "nobody@acme.test"})
    assert response.status_code == 200
    assert "No events match these filters." in response.content.decode()


def test_the_filter_links_in_a_details_panel_keep_other_filters(client_for, owner, varied_log):
    html = client_for(owner).get(URL, {"action": "member"}).content.decode()
    assert "action=member&amp;actor=admin%40acme.test" in html


def test_pages_follow_cursors_without_offset_or_count(client_for, org, owner, admin):
    for number in range(45):
        record_event(
            org, actor=owner if number % 2 else admin, details={"n": number}, at=DAY + dt.timedelta(minutes=number)
        )
    client = client_for(owner)
    seen: list[str] = []
    url = URL + "?action=billing"
    pages = 0
    with CaptureQueriesContext(connection) as queries:
        while url:
            response = client.get(url)
            assert response.status_code == 200
            pages += 1
            html = response.content.decode()
            seen += re.findall(r"<dt>n</dt><dd>(\d+)</dd>", html)
            next_link = older_link(response)
            url = URL + next_link if next_link else None
    assert pages == 3
    assert seen == [str(number) for number in reversed(range(45))]
    audit_sql = [
        query["sql"].upper() for query in queries.captured_queries if "AUDIT_AUDITEVENT" in query["sql"].upper()
    ]
    assert audit_sql and not any("OFFSET" in sql or "COUNT(" in sql for sql in audit_sql)


def test_newer_goes_back_a_page(client_for, org, owner):
    for number in range(30):
        record_event(org, details={"n": number}, at=DAY + dt.timedelta(minutes=number))
    client = client_for(owner)
    first = client.get(URL)
    second = client.get(URL + older_link(first))
    assert newer_link(first) is None
    back = client.get(URL + newer_link(second))
    assert sentences(back) == sentences(first)
    assert re.findall(r"<dt>n</dt><dd>(\d+)</dd>", back.content.decode())[0] == "29"


def test_events_at_the_same_instant_are_neither_skipped_nor_repeated(client_for, org, owner):
    for number in range(25):
        record_event(org, details={"n": number}, at=DAY)
    client = client_for(owner)
    first = client.get(URL, {"action": "billing.updated"})
    second = client.get(URL + older_link(first))
    numbers = re.findall(r"<dt>n</dt><dd>(\d+)</dd>", first.content.decode() + second.content.decode())
    assert sorted(numbers, key=int) == [str(number) for number in range(25)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "yesterday"}, "Enter the start date as YYYY-MM-DD"),
        ({"until": "2026-02-31"}, "Enter the end date as YYYY-MM-DD"),
        ({"since": "99999-01-01"}, "Enter the start date as YYYY-MM-DD"),
        ({"since": "2026-03-12", "until": "2026-03-01"}, "The end date is before the start date."),
        ({"action": "member.teleported"}, "member.teleported is not a known action or category"),
        ({"action": "'; DROP TABLE audit_auditevent; --"}, "is not a known action or category"),
        ({"actor": "a\x00b"}, "Null characters are not allowed."),
        ({"q": "x" * 201}, "Ensure this value has at most 200 characters"),
    ],
)
def test_bad_filters_get_a_message_not_an_error(client_for, owner, varied_log, query, message):
    response = client_for(owner).get(URL, query)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html.replace("&#x27;", "'")
    assert not sentences(response)


def test_sql_looking_text_is_just_text(client_for, owner, varied_log):
    for text in ("' OR 1=1 --", "%", "_", "\\", "admin@acme.test' UNION SELECT hash FROM audit_auditevent --"):
        response = client_for(owner).get(URL, {"q": text, "actor": text, "target": text})
        assert response.status_code == 200, text
        assert not sentences(response), text
    assert AuditEvent.objects.filter(organization__slug="acme").count() >= 4


def test_the_latest_date_does_not_overflow(client_for, owner, varied_log):
    response = client_for(owner).get(URL, {"since": "0001-01-01", "until": "9999-12-31"})
    assert response.status_code == 200 and len(sentences(response)) >= 4


@pytest.mark.parametrize("cursor", ["garbage", "a" * 2000, "WyJvIiwiMjAyNi0wMy0xMFQxMjowMDowMCswMDowMCIsMV0:forged"])
def test_a_forged_cursor_gets_a_message(client_for, owner, varied_log, cursor):
    response = client_for(owner).get(URL, {"cursor": cursor})
    assert response.status_code == 400
    assert "This page link is not valid for this audit log" in response.content.decode()
    assert not sentences(response)


def test_a_cursor_signed_for_the_platform_log_is_refused(client_for, org, owner, varied_log):
    token = Cursor(DAY + dt.timedelta(days=10), 99).sign(None)
    response = client_for(owner).get(URL, {"cursor": token})
    assert response.status_code == 400 and not sentences(response)


def test_labels_with_html_and_line_breaks_render_escaped(client_for, org, owner):
    record_event(
        org,
        "member.removed",
        actor=Actor.anonymous("<script>alert(1)</script>\r\nFAKE ROW"),
        target=target('"><img src=x onerror=alert(2)>'),
        changes={"role": ["<b>member</b>", None]},
        details={"note": "<iframe src=//evil>"},
    )
    html = client_for(owner).get(URL).content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<iframe" not in html
    assert "<b>member</b>" not in html
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;\r\nFAKE ROW removed &quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    )
    assert "&lt;b&gt;member&lt;/b&gt;" in html and "&lt;iframe src=//evil&gt;" in html


def test_the_page_query_count_does_not_grow_with_the_page(client_for, org, owner):
    client = client_for(owner)
    client.get(URL)  # warm up sessions and caches
    for number in range(5):
        record_event(org, details={"n": number})
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for number in range(30):
        record_event(org, details={"n": number})
    with CaptureQueriesContext(connection) as many:
        client.get(URL)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_filters_survive_in_page_and_export_links(client_for, org, owner):
    for number in range(25):
        record_event(org, details={"n": number}, at=DAY)
    response = client_for(owner).get(URL, {"action": "billing", "since": "2026-03-01"})
    link = older_link(response)
    params = parse_qs(urlsplit(link).query)
    assert params["action"] == ["billing"] and params["since"] == ["2026-03-01"] and params["cursor"]
    assert 'href="/orgs/acme/audit/export.csv?action=billing&amp;since=2026-03-01"' in response.content.decode()
