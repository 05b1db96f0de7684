"""The security overview (``orgsecurity.overview``): SSO adoption and sign-ins per day from real sign-ins (the
password form and the shared SSO flow) under a fixed clock, the SVG chart, the SSO and API key panels, pending
enforcement, access, and a query count that does not grow with the number of events."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from sso.connections import actions
from sso.models import SAMLSettings
from sso.rollout import scheduling
from sso.saml.certificates import load_certificate
from tests.helpers.core import PASSWORD
from tests.helpers.keys import issue
from tests.helpers.saml import connect
from tests.helpers.sessions import FakeClock
from tests.helpers.sso import link_identity
from tests.sso.saml.idp import TestIdP, make_key_pair

OVERVIEW = "/orgs/acme/settings/security/overview/"
LOGIN = "/accounts/login/"
TODAY = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """Every ``timezone.now()`` (audit events, sessions, pending SSO logins) reads this clock."""
    fixed = FakeClock(TODAY - timedelta(days=3))
    monkeypatch.setattr(timezone, "now", fixed)
    return fixed


def password_attempt(email: str, password: str) -> int:
    return Client().post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR="203.0.113.10").status_code


def sso_sign_in(idp, subject: str, now: datetime) -> int:
    browser = Client()
    assert browser.get("/sso/acme/login/").status_code == 302
    return browser.get(idp.answer(subject, authenticated_at=now)).status_code


def page(client: Client) -> str:
    response = client.get(OVERVIEW)
    assert response.status_code == 200
    return response.content.decode()


def bars(html: str) -> dict[tuple[str, str], int]:
    """{(date, series): count} of the chart's bar segments, read from their tooltips."""
    found = {}
    for series, count, title in re.findall(r'data-series="([^"]+)" data-count="(\d+)"><title>([^<]+)</title>', html):
        found[(title[:10], series)] = int(count)
    return found


@pytest.fixture
def signed_in_month(clock, idp, connection, owner, admin, member, auditor):
    """Three days ago: the owner signs in with a password, the member through the IdP, the admin types a wrong
    password twice. Today: the admin signs in with a password, and an SSO answer for an unknown person is refused."""
    link_identity(connection, member, "mia-123")
    assert password_attempt(owner.email, PASSWORD) == 302
    assert sso_sign_in(idp, "mia-123", clock.now) == 302
    assert password_attempt(admin.email, "wrong") == 200
    assert password_attempt(admin.email, "also wrong") == 200
    clock.now = TODAY
    assert password_attempt(admin.email, PASSWORD) == 302
    browser = Client()
    browser.get("/sso/acme/login/")
    actions.set_status(connection, actor=owner, status="off")
    assert browser.get(idp.answer("mia-123", authenticated_at=clock.now)).status_code == 403
    return clock


def test_adoption_and_failures_come_from_real_sign_ins(signed_in_month, client_for, auditor):
    html = page(client_for(auditor))  # the auditor's own sign-in (password, today) counts too
    adoption = dict(re.findall(r'data-adoption="(\w+)">(\d+)<', html))
    # owner, admin, member, auditor: the member signed in through SSO, the other three with a password.
    assert adoption == {"sso": "1", "password": "3", "none": "0"}
    refused = AuditEvent.objects.get(action="sso.sign_in_refused").details["reason"]
    three_days_ago, today = "2026-11-17", "2026-11-20"
    assert bars(html) == {
        (three_days_ago, "signed in"): 2,
        (three_days_ago, "wrong password"): 2,
        (today, "signed in"): 2,
        (today, f"SSO: {refused}"): 1,
    }
    assert "4 successful, 3 failed." in html
    assert "<td>wrong password</td><td>11-17: 2</td>" in html  # the chart's table, for readers without the picture


def test_a_member_who_never_signed_in_is_counted_as_not_at_all(clock, owner, member, client_for):
    html = page(client_for(owner))
    assert dict(re.findall(r'data-adoption="(\w+)">(\d+)<', html)) == {"sso": "0", "password": "1", "none": "1"}


def test_the_chart_labels_thirty_days_ending_today(signed_in_month, client_for, owner):
    html = page(client_for(owner))
    dates = re.findall(r'<text class="day"[^>]*data-date="([\d-]+)">([\d-]+)</text>', html)
    expected = [(TODAY.date() - timedelta(days=29 - n)) for n in range(30)]
    assert [date for date, _ in dates] == [day.isoformat() for day in expected]
    assert [label for _, label in dates] == [f"{day:%m-%d}" for day in expected]
    assert '<svg id="sign-in-chart"' in html and "cdn" not in html.lower()
    assert "Sign-ins per day from 2026-10-22 to 2026-11-20: 4 successful, 3 failed." in html


def test_events_older_than_thirty_days_are_left_out(clock, owner, client_for):
    assert password_attempt(owner.email, "wrong") == 200
    clock.now = TODAY + timedelta(days=31)
    html = page(client_for(owner))
    assert bars(html) == {((TODAY + timedelta(days=31)).date().isoformat(), "signed in"): 1}


def test_access_auditors_and_admins_yes_members_no_outsiders_not_found(org, client_for, admin, member, outsider):
    assert client_for(admin).get(OVERVIEW).status_code == 200
    assert client_for(member).get(OVERVIEW).status_code == 403
    assert client_for(outsider).get(OVERVIEW).status_code == 404
    assert Client().get(OVERVIEW).status_code == 302
    assert "Security overview" not in client_for(member).get("/orgs/acme/").content.decode()
    assert OVERVIEW in client_for(admin).get("/orgs/acme/").content.decode()


def test_the_query_count_does_not_grow_with_the_events(clock, idp, connection, owner, member, client_for):
    link_identity(connection, member, "mia-123")
    viewer = client_for(owner)
    with CaptureQueriesContext(db_connection) as few:
        page(viewer)
    for day in range(20):
        clock.now = TODAY - timedelta(days=day)
        assert password_attempt(owner.email, PASSWORD) == 302
        assert password_attempt(owner.email, "wrong") == 200
        assert sso_sign_in(idp, "mia-123", clock.now) == 302
    clock.now = TODAY
    with CaptureQueriesContext(db_connection) as many:
        html = page(viewer)
    assert len(bars(html)) > 20
    assert len(many.captured_queries) == len(few.captured_queries)


def test_certificate_expiry_of_each_connection(clock, org, owner, client_for):
    clock.now = datetime.now(UTC)  # the test IdP's certificates are made for the real date
    idp = TestIdP()
    _, expiring = make_key_pair("rollover.acme.test", days=10)
    idp.extra_certs.append(expiring)
    connect(org, owner, idp)
    html = page(client_for(owner))
    section = html[html.index('id="panel-sso-certificates"') :]
    lasting, soon = load_certificate(idp.cert), load_certificate(expiring)
    assert f"IdP {lasting.short_fingerprint} expires on {lasting.not_after:%Y-%m-%d}" in section
    assert f"⚠ IdP {soon.short_fingerprint} expires on {soon.not_after:%Y-%m-%d}" in section
    assert f"⚠ IdP {lasting.short_fingerprint}" not in section
    sp = load_certificate(SAMLSettings.objects.get().sp_certificate)
    assert f"SP (ours) {sp.short_fingerprint} expires on {sp.not_after:%Y-%m-%d}" in section


def test_scheduled_enforcement_is_a_pending_risky_state(ready, owner, client_for):
    assert "Nothing pending." in page(client_for(owner))
    enforce_at = timezone.now() + timedelta(days=7)
    scheduling.schedule_enforcement(
        ready.connection, actor=owner, enforce_at=enforce_at, support_contact="it@acme.test"
    )
    pending = page(client_for(owner)).split('id="pending"')[1].split("</section>")[0]
    assert f"scheduled for {enforce_at:%Y-%m-%d %H:%M} UTC" in pending
    assert "SSO: Acme IdP" in pending


def test_keys_expiring_soon(org, owner, client_for):
    now = timezone.now()
    soon, _ = issue(org, owner, name="deploy bot", expires_at=now + timedelta(days=3))
    issue(org, owner, name="nightly export", expires_at=now + timedelta(days=60))
    issue(org, owner, name="forever")
    section = page(client_for(owner)).split('id="panel-keys-expiring"')[1].split("</section>")[0]
    assert "deploy bot" in section and f"expires on {soon.expires_at:%Y-%m-%d %H:%M} UTC" in section
    assert "nightly export" not in section and "forever" not in section


def test_the_chart_escapes_what_the_trail_recorded():
    from orgsecurity.overview import Activity, Day, chart, chart_svg

    days = [Day(TODAY.date() - timedelta(days=29 - n)) for n in range(30)]
    days[-1].failures["<script>alert(1)</script>"] = 2
    svg = chart_svg(chart(Activity(days=days, reasons=["<script>alert(1)</script>"])))
    assert "<script>" not in svg and 'data-series="&lt;script&gt;alert(1)&lt;/script&gt;"' in svg
