"""require_recent_auth: sensitive actions need a sign-in or password re-entry within the window."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from sessions_policy.reauth import SESSION_KEY
from tests.conftest import PASSWORD


@pytest.fixture
def urls(settings):
    settings.ROOT_URLCONF = "tests.sessions_policy.urls"


def signed_in(owner, *, reauth_ago: int | None) -> Client:
    client = Client()
    client.force_login(owner)
    if reauth_ago is not None:
        session = client.session
        session[SESSION_KEY] = int(time.time()) - reauth_ago
        session.save()
    return client


def test_a_fresh_password_sign_in_counts_as_recent(urls, owner):
    client = Client()
    client.post("/accounts/login/", {"username": owner.email, "password": PASSWORD})
    assert client.get("/orgs/acme/sensitive/").content == b"done GET"


def test_an_old_sign_in_must_re_enter_the_password_and_resumes(urls, owner, settings):
    client = signed_in(owner, reauth_ago=settings.REAUTH_MAX_AGE_SECONDS + 5)
    response = client.get("/orgs/acme/sensitive/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/reauthenticate/?next=%2Forgs%2Facme%2Fsensitive%2F"
    wrong = client.post(response["Location"], {"password": "nope", "next": "/orgs/acme/sensitive/"})
    assert wrong.status_code == 400
    assert b"That is not your password." in wrong.content
    right = client.post("/accounts/reauthenticate/", {"password": PASSWORD, "next": "/orgs/acme/sensitive/"})
    assert right["Location"] == "/orgs/acme/sensitive/"
    assert client.get("/orgs/acme/sensitive/").content == b"done GET"


def test_json_clients_get_401(urls, owner):
    client = signed_in(owner, reauth_ago=None)
    response = client.post("/orgs/acme/sensitive/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "reauthentication_required"


def test_next_cannot_leave_the_site(urls, owner):
    client = signed_in(owner, reauth_ago=None)
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD, "next": "https://evil.test/x"})
    assert response["Location"] == "/"


def test_a_post_without_recent_auth_is_not_processed(urls, owner):
    response = signed_in(owner, reauth_ago=None).post("/orgs/acme/sensitive/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")


def test_reauthenticate_requires_sign_in(db):
    assert Client().get("/accounts/reauthenticate/").status_code == 302
