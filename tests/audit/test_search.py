"""The audit viewer's action list (human names grouped by theme) and its search over what people read."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from audit import events
from audit.chain import verify_chain
from audit.models import AuditEvent
from tests.audit.helpers import record_event, sentences, target

URL = "/orgs/acme/audit/"


def _action_codes(html: str) -> list[str]:
    return re.findall(r"<dt>Action code</dt><dd><code>([a-z_.]+)</code></dd>", html)


def test_the_action_list_groups_human_names_by_theme(client_for, owner):
    html = client_for(owner).get(URL).content.decode()
    select = html[html.index('name="action"') : html.index("</select>")]
    assert '<optgroup label="Single sign-on">' in select
    assert '<option value="sso">Any single sign-on event</option>' in select
    assert '<option value="sso.enforcement_scheduled">SSO enforcement scheduled</option>' in select
    assert '<option value="auth.signed_in">Signed in</option>' in select
    assert '<option value="key.rotated">API key rotated</option>' in select
    # Every registered action is listed once, under its own theme, and no raw code is shown as an option's text.
    for event_type in events.all_events():
        assert select.count(f'value="{event_type.name}"') == 1, event_type.name
    assert not re.search(r">[a-z]+\.[a-z_]+</option>", select)


def test_the_log_names_actions_and_keeps_raw_codes_in_the_details_panel(client_for, org, owner):
    record_event(org, "billing.updated", actor=owner, changes={"plan_name": ["free", "team"]})
    html = client_for(owner).get(URL).content.decode()
    assert "<td>Billing updated</td>" in html
    assert "<dt>Action code</dt><dd><code>billing.updated</code></dd>" in html


def test_filtering_by_a_theme_and_by_a_named_action(client_for, org, owner):
    record_event(org, "billing.updated", actor=owner, changes={"plan_name": ["free", "team"]})
    record_event(org, "member.invited", actor=owner, changes={"email": [None, "x@acme.test"], "role": [None, "admin"]})
    client = client_for(owner)
    by_theme = _action_codes(client.get(URL, {"action": "member"}).content.decode())
    assert "member.invited" in by_theme and all(code.startswith("member.") for code in by_theme)
    assert _action_codes(client.get(URL, {"action": "billing.updated"}).content.decode()) == ["billing.updated"]


@pytest.fixture
def searchable_log(org, owner, admin):
    record_event(
        org,
        "key.revoked",
        actor=admin,
        target=target("osk_4f2a (deploy bot)", "keys.apikey"),
        changes={"revoked_reason": ["", "laptop stolen at the airport"]},
    )
    record_event(org, "billing.updated", actor=owner, changes={"plan_name": ["team", "business"]})
    record_event(org, "member.invited", actor=owner, details={"email": "carol@partner.test", "role": "auditor"})


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("stolen", ["key.revoked"]),  # a word of the sentence, from a change's new value
        ("airport laptop", ["key.revoked"]),  # every word must match, in any order
        ("business", ["billing.updated"]),  # a change's value
        ("carol", ["member.invited"]),  # part of an email address in the details
        ("revoked", ["key.revoked"]),  # the action's name
        ("deploy", ["key.revoked"]),  # the target's label
        ("admin revoked", ["key.revoked"]),  # the actor (admin@acme.test) and the action
        ("nothing-like-this", []),
    ],
)
def test_search_finds_events_by_what_people_read(client_for, owner, searchable_log, words, expected):
    html = client_for(owner).get(URL, {"q": words}).content.decode()
    assert _action_codes(html) == expected
    if not expected:
        assert "No events match these filters." in html


def test_search_text_is_written_with_the_event_and_is_not_hashed(org, owner):
    event = record_event(org, "key.revoked", actor=owner, changes={"revoked_reason": ["", "phished"]})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert "phished" in stored.search_text and "API key revoked" in stored.search_text
    assert stored.compute_hash() == stored.hash
    stored.search_text = "something else entirely"
    assert stored.compute_hash() == stored.hash  # the search column is not part of the hashed content
    assert verify_chain(org).ok


def test_search_stays_within_the_organization(client_for, owner, org, other_org):
    record_event(other_org, "billing.updated", changes={"plan_name": ["team", "globexplan"]})
    html = client_for(owner).get(URL, {"q": "globexplan"}).content.decode()
    assert _action_codes(html) == []


@pytest.mark.postgres
def test_postgres_search_is_full_text_with_stemming_and_uses_the_gin_index(client_for, owner, org):
    record_event(org, "key.revoked", actor=owner, changes={"revoked_reason": ["", "the laptops were stolen"]})
    found = sentences(client_for(owner).get(URL, {"q": "laptop"}))  # "laptop" finds "laptops": English stemming
    assert found == ["owner@acme.test revoked API key …: the laptops were stolen"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'audit_search_idx'")
        (definition,) = cursor.fetchone()
    assert "gin" in definition and "to_tsvector('english'" in definition
    from audit.search import matching

    sql, params = matching(AuditEvent.objects.all(), "laptop").query.sql_with_params()  # the expression indexed
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "audit_search_idx" in plan
