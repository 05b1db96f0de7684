"""The rollout's test plan: login, logout, session timeout and failed login, each recorded when it happens in a test
run (a short real SSO session for logout and the timeout) and shown on the checklist with when it was seen."""

from __future__ import annotations

from django.test import Client

from audit.models import AuditEvent
from sso.errors import SSOSignInRefused
from sso.models import SSOTestPlanItem, SSOTestRun
from tests.helpers.sso import link_identity

BASE = "/orgs/acme/settings/security/sso/"
ADMIN_EMAIL = "admin@acme.test"  # what the IdP asserts for adam-42 (the admin fixture's own email)


def seen(item: str) -> SSOTestPlanItem | None:
    return SSOTestPlanItem.objects.filter(item=item).first()


def test_a_successful_test_run_records_login(client_for, connection, idp, admin):
    browser = client_for(admin)
    browser.post(f"{BASE}{connection.pk}/test/")
    browser.get(idp.answer("adam-42", email=ADMIN_EMAIL))
    login = seen("login")
    assert login.via == "test_run" and login.seen_by == admin and login.test_run == SSOTestRun.objects.get()
    assert browser.session["auth_method"] == "password"  # a plain test does not change the session
    page = client_for(admin).get(f"{BASE}{connection.pk}/rollout/").content.decode()
    assert "seen in a test run" in page and f"/tests/{login.test_run_id}/" in page
    assert AuditEvent.objects.filter(action="sso.test_plan_recorded", details__item="login").exists()


def test_a_failed_test_records_failed_login_and_shows_what_members_see(client_for, connection, idp, admin, monkeypatch):
    def broken(*args, **kwargs):
        raise SSOSignInRefused("The IdP metadata has no single sign-on URL. Refresh the metadata.", code="no_sso_url")

    monkeypatch.setattr(idp, "start_login", broken)
    browser = client_for(admin)
    response = browser.post(f"{BASE}{connection.pk}/test/")
    page = browser.get(response["Location"]).content.decode()
    assert "What went wrong" in page and "has no single sign-on URL" in page
    failed = seen("failed_login")
    assert failed.via == "test_run" and "no single sign-on URL" in failed.note
    assert seen("login") is None


def test_a_test_session_shows_logout(client_for, connection, idp, admin):
    browser = client_for(admin)
    assert browser.post(f"{BASE}{connection.pk}/test/", {"session_seconds": "120"}).status_code == 302
    browser.get(idp.answer("adam-42", email=ADMIN_EMAIL))
    assert browser.session["auth_method"] == "saml"
    assert browser.get("/orgs/acme/").status_code == 200
    browser.post("/accounts/logout/")
    logout = seen("logout")
    assert logout.seen_by == admin and logout.via == "test_run" and logout.test_run_id == SSOTestRun.objects.get().pk
    assert seen("session_timeout") is None


def test_a_test_session_times_out_and_the_sign_in_again_is_recorded(client_for, connection, idp, admin):
    browser = client_for(admin)
    browser.post(f"{BASE}{connection.pk}/test/", {"session_seconds": "120"})
    browser.get(idp.answer("adam-42", email=ADMIN_EMAIL))
    session = browser.session
    session["sso_test_session"]["deadline"] = 0  # two minutes later
    session.save()
    response = browser.get("/orgs/acme/members/")
    assert response.status_code == 302
    assert response["Location"] == "/sso/acme/login/?next=%2Forgs%2Facme%2Fmembers%2F"
    assert seen("logout") is None  # a timeout is not a logout
    assert browser.get(response["Location"]).status_code == 302  # off to the IdP, as members would be
    assert browser.get(idp.answer("adam-42", email=ADMIN_EMAIL))["Location"] == "/orgs/acme/members/"
    timeout = seen("session_timeout")
    assert timeout.seen_by == admin and "signed in through SSO again" in timeout.note
    assert browser.get("/orgs/acme/members/").status_code == 200


def test_a_test_session_length_must_be_one_offered(client_for, connection, idp, admin):
    response = client_for(admin).post(f"{BASE}{connection.pk}/test/", {"session_seconds": "999999"})
    assert response.status_code == 400
    assert not SSOTestRun.objects.exists()


def test_a_member_sign_in_is_not_a_test(connection, idp, member):
    link_identity(connection, member, "mia-123")
    browser = Client()
    browser.get("/sso/acme/login/")
    browser.get(idp.answer("mia-123"))
    assert not SSOTestPlanItem.objects.exists()


def test_a_tester_outside_the_test_group_signs_in_again_after_the_test_session_times_out(
    client_for, connection, idp, admin, member
):
    """While testing, sign-in is for the test group; the admin running the test plan need not be in it to see the
    session timeout end to end. Anyone else outside the group is still refused."""
    from orgsecurity.models import Membership
    from sso.connections import actions
    from sso.rollout import scheduling as rollout

    actions.set_status(connection, actor=admin, status="testing")
    rollout.set_test_group(connection, actor=admin, memberships=[Membership.objects.get(user=member)], teams=[])
    browser = client_for(admin)
    browser.post(f"{BASE}{connection.pk}/test/", {"session_seconds": "120"})
    browser.get(idp.answer("adam-42", email=ADMIN_EMAIL))
    session = browser.session
    session["sso_test_session"]["deadline"] = 0
    session.save()
    login = browser.get("/orgs/acme/members/")["Location"]
    assert browser.get(login).status_code == 302
    assert browser.get(idp.answer("adam-42", email=ADMIN_EMAIL))["Location"] == "/orgs/acme/members/"
    assert seen("session_timeout").seen_by == admin

    browser.post("/accounts/logout/")  # an ordinary sign-in by the same admin later is still outside the group
    browser.get("/sso/acme/login/")
    assert b"you are not in it yet" in browser.get(idp.answer("adam-42", email=ADMIN_EMAIL)).content


def test_a_test_the_idp_never_answered_is_shown_as_not_finished(client_for, connection, idp, admin):
    from datetime import timedelta

    from django.utils import timezone

    browser = client_for(admin)
    browser.post(f"{BASE}{connection.pk}/test/")
    page = browser.get(f"{BASE}{connection.pk}/").content.decode()
    assert ">Pending</a>" in page
    SSOTestRun.objects.update(started_at=timezone.now() - timedelta(minutes=11))
    page = browser.get(f"{BASE}{connection.pk}/").content.decode()
    assert "Not finished (no answer from the IdP)" in page and ">Pending</a>" not in page
