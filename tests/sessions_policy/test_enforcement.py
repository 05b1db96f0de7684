"""Session enforcement on organization pages: idle and absolute timeouts, single session, revocation.

Time moves with the injectable clock (no sleeping).
"""

from __future__ import annotations

from importlib import import_module

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from orgsecurity.auth import sign_in
from orgsecurity.models import Invitation, Organization
from orgsecurity.roles import Role
from sessions_policy import actions
from sessions_policy.models import UserSession
from tests.helpers.core import PASSWORD, add_member

DASHBOARD = "/orgs/acme/"
MINUTE = 60


def set_policy(slug: str = "acme", *, idle: int = 30 * MINUTE, absolute: int = 12 * 3600, single: bool = False):
    organization = Organization.objects.get(slug=slug)
    owner = organization.memberships.get(role=Role.OWNER).user
    actions.update_session_policy(
        organization,
        actor=owner,
        idle_timeout_s=idle,
        absolute_timeout_s=absolute,
        reauth_max_age_s=15 * MINUTE,
        single_session=single,
    )


# --- idle timeout -------------------------------------------------------------------------------------------


def test_idle_expiry_slides_with_activity_and_fires_after_the_limit(client_for, member, clock):
    set_policy(idle=30 * MINUTE)
    client = client_for(member)
    for _ in range(6):  # three hours of activity, a request every 29 minutes: never signed out
        clock.advance(minutes=29)
        assert client.get(DASHBOARD).status_code == 200
    clock.advance(minutes=31, seconds=30)  # 30 minutes of inactivity, plus the minute of last-seen slack
    response = client.get("/orgs/acme/members/?page=2")
    assert response.status_code == 401
    assert b"You were signed out after 30 minutes of inactivity." in response.content
    assert b'href="/accounts/login/?next=%2Forgs%2Facme%2Fmembers%2F%3Fpage%3D2"' in response.content
    # The session is over: the next request is anonymous.
    assert client.get(DASHBOARD)["Location"].startswith("/accounts/login/")
    session = UserSession.objects.get(user=member)
    assert session.revoked_at is not None
    assert "inactivity" in session.revoked_reason
    event = AuditEvent.objects.get(action="session.ended", organization__slug="acme")
    assert event.target_label == member.email
    assert event.details["code"] == "session_idle_timeout"


def test_an_active_person_is_never_signed_out_early_by_unrecorded_activity(client_for, member, clock):
    """last_seen_at is written at most once a minute; activity inside that minute must still count."""
    set_policy(idle=5 * MINUTE)
    client = client_for(member)
    clock.advance(seconds=50)
    assert client.get(DASHBOARD).status_code == 200  # not written (less than a minute since sign-in)
    clock.advance(seconds=5 * MINUTE)  # 5 minutes since that request: exactly the limit
    assert client.get(DASHBOARD).status_code == 200


def test_last_seen_is_written_at_most_once_a_minute(client_for, member, clock):
    client = client_for(member)
    client.get(DASHBOARD)

    def writes_during_request() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(DASHBOARD).status_code == 200
        return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]

    clock.advance(seconds=30)
    assert writes_during_request() == []
    clock.advance(seconds=31)
    assert len(writes_during_request()) == 1
    assert writes_during_request() == []
    assert UserSession.objects.get(user=member).last_seen_at == clock.now


# --- absolute lifetime --------------------------------------------------------------------------------------


def test_absolute_expiry_fires_despite_activity(client_for, member, clock):
    set_policy(idle=30 * MINUTE, absolute=2 * 3600)
    client = client_for(member)
    for _ in range(11):  # active every 10 minutes for 1 h 50 min
        clock.advance(minutes=10)
        assert client.get(DASHBOARD).status_code == 200
    clock.advance(minutes=10)
    response = client.get(DASHBOARD)
    assert response.status_code == 401
    assert b"sessions in Acme Inc. last at most 2 hours" in response.content
    assert AuditEvent.objects.get(action="session.ended").details["code"] == "session_absolute_timeout"


def test_the_defaults_apply_without_a_saved_policy(client_for, member, clock):
    client = client_for(member)
    clock.advance(minutes=29)
    assert client.get(DASHBOARD).status_code == 200
    clock.advance(minutes=32)
    assert b"after 30 minutes of inactivity" in client.get(DASHBOARD).content


# --- what an expired session gets ---------------------------------------------------------------------------


def test_xhr_and_json_get_401_json(client_for, member, clock):
    xhr, fetch = client_for(member), client_for(member)
    clock.advance(hours=1)
    response = xhr.get(DASHBOARD, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "session_idle_timeout",
            "message": "You were signed out after 30 minutes of inactivity. Sign in again to continue.",
        }
    }
    response = fetch.post("/orgs/acme/members/invite/", {}, HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "session_idle_timeout"


def test_a_post_on_an_expired_session_is_not_processed(client_for, owner, clock):
    client = client_for(owner)
    clock.advance(hours=1)
    response = client.post(
        "/orgs/acme/members/invite/",
        {"email": "late@acme.test", "role": "member"},
        HTTP_REFERER="http://testserver/orgs/acme/members/",
    )
    assert response.status_code == 401
    assert b"What you sent was not saved." in response.content
    assert b"next=%2Forgs%2Facme%2Fmembers%2F" in response.content  # back to the form's page, not the POST URL
    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.filter(action="member.invited").exists()


def test_expiry_is_audited_once_even_if_requests_race(client_for, member, clock):
    client = client_for(member)
    cookie = client.cookies.copy()
    clock.advance(hours=1)
    assert client.get(DASHBOARD).status_code == 401
    twin = Client()
    twin.cookies = cookie  # a request of the same session that was already under way
    assert twin.get(DASHBOARD).status_code in {302, 401}
    assert AuditEvent.objects.filter(action="session.ended").count() == 1


# --- which organization's policy -----------------------------------------------------------------------------


def test_the_policy_of_the_organization_whose_page_is_opened_applies(client_for, member, other_org, clock):
    set_policy("acme", idle=10 * MINUTE)
    set_policy("globex", idle=4 * 3600, absolute=8 * 3600)
    add_member(other_org, member, Role.MEMBER)
    client = client_for(member)
    clock.advance(minutes=45)
    assert client.get("/orgs/globex/").status_code == 200  # globex allows 4 idle hours
    clock.advance(minutes=12)
    response = client.get(DASHBOARD)  # 12 idle minutes: over acme's 10
    assert response.status_code == 401
    assert b"after 10 minutes of inactivity" in response.content


def test_a_policy_change_applies_to_sessions_already_signed_in(client_for, member, clock):
    client = client_for(member)
    clock.advance(minutes=20)
    assert client.get(DASHBOARD).status_code == 200
    clock.advance(minutes=15)
    set_policy(idle=10 * MINUTE)  # saved by someone else meanwhile
    assert client.get(DASHBOARD).status_code == 401


# --- single session -----------------------------------------------------------------------------------------


def sign_in_on_another_device(member) -> Client:
    """A second browser where ``member`` signs in with their password (a newer session)."""
    phone = Client()
    phone.post("/accounts/login/", {"username": member.email, "password": PASSWORD})
    return phone


def test_single_session_ends_the_older_session(client_for, member, clock):
    set_policy(single=True)
    laptop = client_for(member)
    assert laptop.get(DASHBOARD).status_code == 200
    clock.advance(minutes=5)
    phone = sign_in_on_another_device(member)
    assert phone.get(DASHBOARD).status_code == 200
    response = laptop.get(DASHBOARD)
    assert response.status_code == 401
    assert b"allows one session at a time" in response.content
    assert phone.get(DASHBOARD).status_code == 200
    assert AuditEvent.objects.get(action="session.ended").details["code"] == "session_replaced"


def test_an_older_session_stays_ended_when_the_newer_one_ends_first(client_for, member, clock):
    # Someone holding the laptop's session (say, a stolen cookie) must not get it back because the person signed
    # out of their new session, or it timed out, before the laptop's session was next used.
    set_policy(single=True)
    laptop = client_for(member)
    assert laptop.get(DASHBOARD).status_code == 200
    clock.advance(minutes=5)
    phone = sign_in_on_another_device(member)
    assert phone.get(DASHBOARD).status_code == 200
    phone.post("/accounts/logout/")
    response = laptop.get(DASHBOARD)
    assert response.status_code == 401
    assert b"allows one session at a time" in response.content
    assert laptop.get("/accounts/sessions/")["Location"].startswith("/accounts/login/")


def test_an_older_session_stays_ended_on_account_pages_too(client_for, member, clock):
    set_policy(single=True)
    laptop = client_for(member)
    clock.advance(minutes=5)
    phone = sign_in_on_another_device(member)
    phone.post("/accounts/logout/")
    response = laptop.get("/accounts/sessions/")
    assert response.status_code == 401
    assert b"allows one session at a time" in response.content


def test_several_sessions_are_fine_without_single_session(client_for, member, clock):
    laptop = client_for(member)
    clock.advance(minutes=5)
    phone = client_for(member)
    assert laptop.get(DASHBOARD).status_code == 200
    assert phone.get(DASHBOARD).status_code == 200


# --- sessions that are not tracked, or ended -----------------------------------------------------------------


def test_a_session_without_tracking_does_not_escape_the_policies(member):
    """Sessions from before this feature (or from code that bypassed sign_in) are ended, not adopted."""
    client = Client()
    client.force_login(member)
    response = client.get(DASHBOARD)
    assert response.status_code == 401
    assert b"could not be verified" in response.content
    assert client.get(DASHBOARD)["Location"].startswith("/accounts/login/")
    assert AuditEvent.objects.get(action="session.ended").details["code"] == "session_unknown"


def test_a_session_ended_by_an_organization_ends_there_only(client_for, owner, member, other_org):
    add_member(other_org, member, Role.MEMBER)
    client = client_for(member)
    session = UserSession.objects.get(user=member)
    actions.end_member_sessions(Organization.objects.get(slug="acme"), member, actor=owner, session=session)
    assert client.get("/orgs/globex/").status_code == 200  # another organization's pages still open
    response = client.get(DASHBOARD)
    assert response.status_code == 401
    assert b"An owner or admin of Acme Inc. ended this session." in response.content
    assert client.get("/orgs/globex/").status_code == 302  # opening acme ended the session for good


def test_revoking_everywhere_deletes_the_django_session(client_for, member):
    client = client_for(member)
    revoked = actions.revoke_user_sessions(member, actor=None, reason="SSO is now required.", methods={"password"})
    assert revoked == 1
    assert client.get(DASHBOARD)["Location"].startswith("/accounts/login/")
    assert client.get("/accounts/sessions/")["Location"].startswith("/accounts/login/")
    event = AuditEvent.objects.get(action="session.revoked_all")
    assert event.details["reason"] == "SSO is now required."
    assert "1 session(s) of member@acme.test everywhere" in event.sentence


def test_revoke_user_sessions_can_spare_other_methods_and_one_session(client_for, org, member):
    from django.test import Client

    from sso.models import SSOConnection
    from tests.helpers.core import sign_in_through_sso

    keep = client_for(member)
    other = client_for(member)
    connection = SSOConnection.objects.create(organization=org, protocol="saml", status="on")
    sso = sign_in_through_sso(Client(), member, connection)
    revoked = actions.revoke_user_sessions(
        member, actor=None, reason="test", methods={"password"}, keep_session_key=keep.session.session_key
    )
    assert revoked == 1
    assert keep.get(DASHBOARD).status_code == 200
    assert sso.get(DASHBOARD).status_code == 200
    assert other.get(DASHBOARD).status_code == 302


def test_signing_out_ends_the_tracked_session(client_for, member):
    client = client_for(member)
    client.post("/accounts/logout/")
    assert UserSession.objects.get(user=member).revoked_reason == "Signed out."


def test_signing_in_again_in_the_same_browser_replaces_the_session(rf, member):
    """E.g. an SSO sign-in on top of a password session: the browser's old tracked session ends."""
    request = rf.get("/")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    sign_in(request, member, method="password")
    first_key = request.session.session_key
    sign_in(request, member, method="saml")
    assert request.session.session_key != first_key
    sessions = UserSession.objects.filter(user=member).order_by("pk")
    assert [(s.auth_method, s.revoked_reason) for s in sessions] == [
        ("password", "Replaced by a new sign-in in the same browser."),
        ("saml", ""),
    ]


def test_sign_in_tracks_method_ip_and_user_agent(member):
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
    client.post("/accounts/login/", {"username": member.email, "password": PASSWORD}, REMOTE_ADDR="198.51.100.7")
    session = UserSession.objects.get(user=member)
    assert (session.auth_method, session.ip, session.device) == ("password", "198.51.100.7", "Firefox on Linux")
    assert session.session_key == client.session.session_key


def test_an_unknown_sign_in_method_is_refused(rf, member):
    request = rf.get("/")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    with pytest.raises(ValueError, match="Unknown sign-in method"):
        sign_in(request, member, method="magic-link")
