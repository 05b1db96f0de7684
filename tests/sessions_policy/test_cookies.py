"""Session cookies on real responses, with the production settings the tests run under."""

from __future__ import annotations

from django.test import Client

from tests.helpers.core import PASSWORD


def test_the_session_cookie_is_secure_http_only_same_site_and_host_only(owner):
    client = Client()
    client.get("/accounts/login/")
    csrf = client.cookies["__Host-orgsecurity-csrf"]
    assert csrf["secure"] is True and csrf["samesite"] == "Lax" and csrf["path"] == "/" and not csrf["domain"]
    response = client.post("/accounts/login/", {"username": owner.email, "password": PASSWORD})
    cookie = response.cookies["__Host-orgsecurity-session"]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/" and not cookie["domain"]  # what the __Host- prefix demands
    assert client.get("/orgs/acme/").status_code == 200


def test_an_ended_session_removes_its_cookie(client_for, owner, clock):
    client = client_for(owner)
    clock.advance(hours=1)
    response = client.get("/orgs/acme/")
    assert response.status_code == 401
    cookie = response.cookies["__Host-orgsecurity-session"]
    assert cookie.value == "" and cookie["max-age"] == 0
