"""Enforcement at request time: password sessions go to the org's IdP (per organization), recovery sessions and
confirmed exceptions pass, password sign-in is refused only when every org enforces, and email-first routing."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgsecurity.models import Membership
from sso.connections import actions
from sso.rollout import scheduling as rollout
from tests.helpers.core import PASSWORD, add_member, make_user
from tests.helpers.sso import link_identity, sign_in_through_idp

LOGIN = "/accounts/login/"


# --- organization pages ----------------------------------------------------------------------------------------


def test_a_password_session_is_sent_to_the_idp_and_ends(enforced, client_for, member):
    browser = client_for(member)
    response = browser.get("/orgs/acme/members/")
    assert response.status_code == 302
    assert response["Location"] == "/sso/acme/login/?next=%2Forgs%2Facme%2Fmembers%2F"
    assert browser.get("/orgs/acme/")["Location"].startswith("/accounts/login/")  # the session ended
    event = AuditEvent.objects.get(action="sso.password_session_refused")
    assert event.actor_label == member.email and event.details["method"] == "password"


def test_an_sso_session_through_the_org_connection_passes(enforced, idp, member):
    browser = sign_in_through_idp(idp, "mia-123")
    assert browser.get("/orgs/acme/members/").status_code == 200


def test_programs_get_json_and_posts_are_not_processed(enforced, client_for, member, owner):
    response = client_for(member).get("/orgs/acme/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "sso_required"
    response = client_for(owner).post("/orgs/acme/members/invite/", {"email": "x@acme.test", "role": "member"})
    assert response.status_code == 401
    assert b"requires single sign-on" in response.content and b"/sso/acme/login/" in response.content
    assert not Membership.objects.filter(user__email="x@acme.test").exists()


def test_enforcement_is_per_organization(enforced, idp, member, other_org):
    add_member(other_org, member, "member")
    browser = Client()
    assert browser.post(LOGIN, {"username": member.email, "password": PASSWORD}).status_code == 302
    assert browser.get("/orgs/globex/").status_code == 200
    response = browser.get("/orgs/acme/")
    assert response["Location"] == "/sso/acme/login/?next=%2Forgs%2Facme%2F"
    assert browser.get("/orgs/globex/").status_code == 200  # still signed in: the session is fine for globex
    browser.get("/sso/acme/login/")
    browser.get(idp.answer("mia-123"))
    assert browser.get("/orgs/acme/").status_code == 200
    assert browser.get("/orgs/globex/").status_code == 200


def test_a_recovery_session_passes_only_where_its_code_belongs(enforced, client_for, owner, admin, org, other_org):
    def recovery_session(user, organization):
        browser = client_for(user)
        session = browser.session
        session["auth_method"] = "recovery"
        session["sso_recovery_organization"] = organization.pk  # what /accounts/recovery/ leaves (test_recovery)
        session.save()
        return browser

    assert recovery_session(owner, org).get("/orgs/acme/").status_code == 200
    assert recovery_session(admin, org).get("/orgs/acme/").status_code == 302  # not a recovery account
    add_member(other_org, owner, "owner")
    assert recovery_session(owner, other_org).get("/orgs/acme/").status_code == 302  # a code of another org


def test_listed_exceptions_keep_password_sessions_once_confirmed(enforced, client_for, owner, org):
    contractor = make_user("contractor@outside.test")
    add_member(org, contractor, "member")
    rollout.add_password_exception(
        enforced.connection, actor=owner, membership=Membership.objects.get(user=contractor), reason="contractor"
    )
    assert client_for(contractor).get("/orgs/acme/").status_code == 302  # not confirmed yet
    rollout.confirm_fallback_policy(enforced.connection, actor=owner)
    assert client_for(contractor).get("/orgs/acme/").status_code == 200
    assert AuditEvent.objects.filter(action="sso.password_exception_used", actor_label=contractor.email).exists()


# --- password sign-in ------------------------------------------------------------------------------------------


def test_password_sign_in_is_refused_with_a_sign_in_with_sso_button(enforced, member):
    browser = Client()
    response = browser.post(f"{LOGIN}?next=/orgs/acme/members/", {"username": member.email, "password": PASSWORD})
    assert response.status_code == 403
    text = response.content.decode()
    assert "Password sign-in is turned off for your account" in text
    assert 'href="/sso/acme/login/?next=%2Forgs%2Facme%2Fmembers%2F"' in text and "Sign in with SSO" in text
    assert browser.get("/orgs/acme/")["Location"].startswith("/accounts/login/")  # not signed in
    assert AuditEvent.objects.filter(action="sso.password_sign_in_refused", actor_label=member.email).exists()


def test_a_wrong_password_reveals_nothing_about_sso(enforced, member):
    response = Client().post(LOGIN, {"username": member.email, "password": "wrong"})
    assert response.status_code == 200
    assert b"The email or password is not right" in response.content
    assert b"turned off" not in response.content


def test_password_sign_in_works_while_any_org_does_not_enforce(enforced, member, other_org):
    add_member(other_org, member, "member")
    assert Client().post(LOGIN, {"username": member.email, "password": PASSWORD}).status_code == 302


def test_a_confirmed_exception_keeps_password_sign_in(enforced, owner, member):
    rollout.add_password_exception(
        enforced.connection, actor=owner, membership=Membership.objects.get(user=member), reason="no IdP account"
    )
    rollout.confirm_fallback_policy(enforced.connection, actor=owner)
    assert Client().post(LOGIN, {"username": member.email, "password": PASSWORD}).status_code == 302


def test_password_sign_in_works_until_enforcement(ready, member):
    assert Client().post(LOGIN, {"username": member.email, "password": PASSWORD}).status_code == 302


# --- email-first sign-in ---------------------------------------------------------------------------------------


def email_step(email: str, next_url: str = ""):
    return Client().post(LOGIN + (f"?next={next_url}" if next_url else ""), {"username": email})


def test_the_sign_in_page_asks_for_the_email_first(db):
    page = Client().get(LOGIN).content.decode()
    assert 'name="username"' in page and 'name="password"' not in page
    assert "Sign in with a password" in page
    page = Client().get(LOGIN + "?method=password").content.decode()
    assert 'name="password"' in page


def test_a_verified_domain_of_an_enforcing_org_goes_to_its_idp(enforced, acme_domain):
    response = email_step("Anyone@ACME.test", "/orgs/acme/members/")
    assert response.status_code == 302
    assert response["Location"] == "/sso/acme/login/?next=%2Forgs%2Facme%2Fmembers%2F"


def test_other_domains_get_the_password_field(enforced, acme_domain):
    response = email_step("someone@elsewhere.test")
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()
    assert email_step("not an email").status_code == 400


def test_while_testing_the_answer_never_reveals_the_test_group(connection, idp, owner, member, admin, acme_domain):
    actions.set_status(connection, actor=owner, status="testing")
    rollout.set_test_group(connection, actor=owner, memberships=[Membership.objects.get(user=member)], teams=[])
    pages = []
    for email in (member.email, admin.email, "nobody@acme.test"):  # in the group, not in it, no account
        response = email_step(email)
        text = response.content.decode()
        assert response.status_code == 200 and 'name="password"' in text and "Sign in with SSO" in text
        pages.append(re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text.replace(email, "EMAIL")))
    assert pages[0] == pages[1] == pages[2]


def test_with_sso_on_the_password_page_offers_sso(connection, acme_domain):
    for email in ("member@acme.test", "nobody@acme.test"):
        response = email_step(email)
        assert response.status_code == 200
        text = response.content.decode()
        assert 'name="password"' in text and 'href="/sso/acme/login/"' in text and "Sign in with SSO" in text


def test_an_unverified_domain_is_never_routed(enforced, org, owner):
    from sso.domains import verification as domains

    domains.claim(org, actor=owner, domain="acme.test")  # claimed, not verified
    assert email_step("member@acme.test").status_code == 200


@pytest.mark.parametrize("email", ["member@acme.test", "ghost@acme.test"])
def test_routing_does_not_depend_on_accounts(enforced, acme_domain, email):
    assert email_step(email)["Location"] == "/sso/acme/login/"


def test_a_linked_member_in_the_test_group_signs_in_through_sso_while_testing(connection, idp, owner, member):
    actions.set_status(connection, actor=owner, status="testing")
    link_identity(connection, member, "mia-123")
    browser = Client()
    browser.get("/sso/acme/login/")
    response = browser.get(idp.answer("mia-123"))
    assert response.status_code == 403 and b"testing single sign-on with a small group" in response.content
    rollout.set_test_group(connection, actor=owner, memberships=[Membership.objects.get(user=member)], teams=[])
    sign_in_through_idp(idp, "mia-123")
    # and password sign-in still works for everyone while testing
    assert Client().post(LOGIN, {"username": member.email, "password": PASSWORD}).status_code == 302
