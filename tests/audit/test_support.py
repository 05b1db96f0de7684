"""The platform support console at /support/: staff only (404 for everyone else), read-only, and every
page about an organization recorded in that organization's own log."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.utils import timezone

from audit import support
from audit.models import ActorType, AuditEvent
from sessions_policy import clock as session_clock
from tests.audit.helpers import record_event, sentences
from tests.helpers.sessions import FakeClock

SUPPORT_URLS = [
    "/support/",
    "/support/platform/audit/",
    "/support/platform/audit/export.csv",
    "/support/orgs/acme/",
    "/support/orgs/acme/audit/",
    "/support/orgs/acme/audit/export.jsonl",
]


@pytest.mark.parametrize("url", SUPPORT_URLS)
def test_it_checks_access(client_for, staff, owner, member, outsider, url):
    assert client_for(staff).get(url).status_code == 200
    for user in (owner, member, outsider, None):
        response = client_for(user).get(url)
        # Not 403 and not a sign-in redirect: nothing tells a non-staff visitor that the console exists.
        assert response.status_code == 404, (user, url)
    assert client_for(owner).post(url).status_code == 404


def test_an_inactive_staff_account_is_not_let_in(client_for, staff):
    staff.is_active = False
    staff.save()
    client = Client()
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/support/").status_code == 404


# Attack: a staff session left idle (or past its absolute lifetime, or untracked) kept opening every organization's
# settings and audit log, since only /orgs/ pages applied the session rules.


@pytest.mark.parametrize("url", SUPPORT_URLS)
def test_an_idle_staff_session_is_signed_out_of_the_console(client_for, staff, org, url):
    fake = FakeClock(timezone.now())
    with session_clock.use(fake):
        client = client_for(staff)
        assert client.get(url).status_code == 200
        fake.advance(minutes=32)  # the default idle timeout (30 minutes) and the minute of last-seen slack
        response = client.get(url)
        assert response.status_code == 401
        assert b"You were signed out after 30 minutes of inactivity." in response.content
        assert client.get(url).status_code == 404  # signed out now


def test_a_staff_session_that_escaped_tracking_is_ended_by_the_console(staff, org):
    client = Client()
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/support/orgs/acme/audit/")
    assert response.status_code == 401
    assert b"could not be verified" in response.content
    assert not AuditEvent.objects.filter(action="support.viewed").exists()


def test_support_pages_are_read_only(client_for, staff, org):
    assert client_for(staff).post("/support/orgs/acme/").status_code == 405


def test_staff_find_an_organization_by_slug_or_name(client_for, staff, org, other_org):
    html = client_for(staff).get("/support/", {"q": "GLOBEX"}).content.decode()
    assert "/support/orgs/globex/" in html and "/support/orgs/acme/" not in html
    html = client_for(staff).get("/support/", {"q": "acme inc"}).content.decode()
    assert "/support/orgs/acme/" in html and "/support/orgs/globex/" not in html


def test_a_bad_search_gets_a_message(client_for, staff, org):
    response = client_for(staff).get("/support/", {"q": "acme\x00"})
    assert response.status_code == 400
    assert "Null characters are not allowed." in response.content.decode()


def test_an_unknown_organization_is_404_for_staff(client_for, staff):
    assert client_for(staff).get("/support/orgs/nope/").status_code == 404
    assert client_for(staff).get("/support/orgs/nope/audit/").status_code == 404


def test_the_settings_page_shows_members_billing_and_security_read_only(client_for, staff, org, owner, admin, member):
    org.billing_email = "ap@acme.test"
    org.save()
    html = client_for(staff).get("/support/orgs/acme/").content.decode()
    for shown in ("owner@acme.test", "admin@acme.test", "member@acme.test", "Owner", "Admin", "ap@acme.test"):
        assert shown in html
    for section in ("SSO", "Session management", "IP allowlist", "API keys", "Audit log"):
        assert f"<strong>{section}</strong>" in html
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    assert 'method="post"' not in main and "csrfmiddlewaretoken" not in main


def test_a_theme_app_fills_its_section_through_its_support_module(client_for, staff, org, monkeypatch):
    from tests.audit.demo_theme import support as demo

    section = support.SupportSection("Demo theme", "demo", 1, settings_rows=demo.settings_rows, actions=demo.actions)
    monkeypatch.setattr(support, "_SECTIONS", [section])
    html = client_for(staff).get("/support/orgs/acme/").content.decode()
    assert "<dt>Plan seen by the theme</dt><dd>free</dd>" in html
    assert '<a href="/support/orgs/acme/demo/">Do the demo thing</a>' in html


@pytest.mark.parametrize(
    ("url", "page"),
    [
        ("/support/orgs/acme/", "the organization's settings"),
        ("/support/orgs/acme/audit/?action=billing", "the audit log"),
    ],
)
def test_a_support_view_is_recorded_in_the_organizations_own_log(client_for, staff, org, other_org, owner, url, page):
    client_for(staff).get(url, REMOTE_ADDR="203.0.113.5")
    event = AuditEvent.objects.get(action="support.viewed")
    assert event.organization == org
    assert (event.actor_type, event.actor_label, event.ip) == (
        ActorType.SUPPORT,
        "ops@platform.test (platform support)",
        "203.0.113.5",
    )
    assert event.sentence == f"ops@platform.test (platform support) viewed {page}"
    # The organization's owner sees it in their own viewer (after their own sign-in event); the other
    # organization's log has nothing.
    assert event.sentence in sentences(client_for(owner).get("/orgs/acme/audit/"))[:2]
    assert not AuditEvent.objects.filter(organization=other_org, action="support.viewed").exists()


@pytest.mark.parametrize("reader", ["owner", "admin", "auditor"])
def test_owners_admins_and_auditors_see_support_views(client_for, staff, org, reader, request):
    client_for(staff).get("/support/orgs/acme/")
    html = client_for(request.getfixturevalue(reader)).get("/orgs/acme/audit/", {"action": "support"}).content
    assert "ops@platform.test (platform support) viewed the organization&#x27;s settings" in html.decode()


def test_the_support_log_page_records_its_filter(client_for, staff, org):
    client_for(staff).get("/support/orgs/acme/audit/", {"actor": "owner@acme.test", "since": "2026-01-01"})
    event = AuditEvent.objects.get(action="support.viewed")
    assert event.details["filters"] == "actor=owner@acme.test, since=2026-01-01"
    assert event.details["path"] == "/support/orgs/acme/audit/"


def test_support_reads_the_organizations_log_with_filters_and_pages(client_for, staff, org, owner, other_org):
    for number in range(25):
        record_event(org, actor=owner, details={"n": number})
    record_event(other_org, details={"n": "globex"})
    client = client_for(staff)
    response = client.get("/support/orgs/acme/audit/", {"actor": "owner@acme.test"})
    assert response.status_code == 200
    assert len(sentences(response)) == 20 and 'rel="next"' in response.content.decode()
    assert "globex" not in response.content.decode().split('class="audit-log"')[1]
    bad = client.get("/support/orgs/acme/audit/", {"cursor": "forged", "until": "soon"})
    assert bad.status_code == 400


def test_the_platform_log_shows_failed_sign_ins_for_unknown_emails(client_for, staff, org):
    Client().post("/accounts/login/", {"username": "nobody@nowhere.test", "password": "wrong password!"})
    response = client_for(staff).get("/support/platform/audit/")
    assert response.status_code == 200
    shown = sentences(response)
    assert "Failed password sign-in as nobody@nowhere.test: wrong password" in shown
    # Looking at the platform log is recorded there too, never in an organization's log.
    assert shown[0] == "ops@platform.test (platform support) viewed the platform log"
    assert not AuditEvent.objects.filter(organization=org, action="support.viewed").exists()


def test_support_exports_are_recorded_as_support_in_the_organizations_log(client_for, staff, org):
    response = client_for(staff).get("/support/orgs/acme/audit/export.csv", {"action": "member"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))
    assert rows and all(row["category"] == "member" for row in rows)
    event = AuditEvent.objects.get(action="audit.exported")
    assert event.organization == org and event.actor_type == ActorType.SUPPORT
    assert event.sentence == "ops@platform.test (platform support) exported the audit log as CSV (action=member)"


def test_the_support_link_is_shown_to_staff_only(client_for, staff, owner, org):
    assert 'href="/support/"' not in client_for(owner).get("/orgs/acme/").content.decode()
    assert 'href="/support/"' in client_for(staff).get("/support/orgs/acme/").content.decode()
