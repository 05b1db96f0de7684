"""What people notice about their session: an SSO test session counts down in a banner and is marked in the
session lists; a superseded session (its browser session gone) is not listed; before idle sign-out, a warning
with "Stay signed in" is on the page (shown by a small static script)."""

from __future__ import annotations

import time
from pathlib import Path

from django.contrib.sessions.models import Session

from orgsecurity.signin_state import SSO_TEST_SESSION_KEY
from sessions_policy.models import UserSession


def _as_test_session(client, seconds: int) -> None:
    session = client.session
    session[SSO_TEST_SESSION_KEY] = {"run": 1, "connection": 1, "deadline": int(time.time()) + seconds}
    session.save()


def test_a_test_session_shows_a_countdown_and_is_marked_in_the_lists(client_for, owner):
    browser = client_for(owner)
    _as_test_session(browser, 300)
    page = browser.get("/orgs/acme/").content.decode()
    assert "SSO test session." in page and 'id="sso-test-countdown"' in page
    assert "4:5" in page or "5:00" in page  # minutes:seconds left, server-rendered
    assert "/static/sso/countdown.js" in page
    mine = browser.get("/accounts/sessions/").content.decode()
    assert "SSO test session, ends" in mine
    members = browser.get("/orgs/acme/settings/security/sessions/members/").content.decode()
    assert "SSO test session, ends" in members


def test_an_ordinary_session_has_no_banner(client_for, owner):
    browser = client_for(owner)
    assert "SSO test session" not in browser.get("/orgs/acme/").content.decode()
    assert "SSO test session" not in browser.get("/accounts/sessions/").content.decode()


def test_a_superseded_session_is_not_listed(client_for, owner):
    browser = client_for(owner)
    old = client_for(owner)
    old_key = old.session.session_key
    Session.objects.filter(session_key=old_key).delete()  # its browser session is gone; its record was not ended
    assert UserSession.objects.filter(session_key=old_key, revoked_at=None).exists()
    page = browser.get("/accounts/sessions/").content.decode()
    assert page.count("<tr>") - 1 == 1  # only this session (the header row aside)
    assert "End all other sessions" not in page


def test_the_idle_warning_is_on_the_page_before_idle_sign_out(client_for, owner):
    page = client_for(owner).get("/orgs/acme/members/").content.decode()
    assert 'id="idle-warning"' in page and "Stay signed in" in page
    assert 'data-idle-seconds="' in page and " hidden>" in page  # shown by idle.js shortly before the timeout
    assert "/static/sessions_policy/idle.js" in page
    script = Path(__file__).resolve().parents[2] / "sessions_policy/static/sessions_policy/idle.js"
    assert "http" not in script.read_text()  # no CDN, nothing fetched
