"""Core test helpers: people and organizations (make_user, make_org, add_member, PASSWORD) and signed-in test
clients (by password, through SSO, freshly re-authenticated)."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.http import HttpRequest
from django.test import Client

from audit.recorder import Actor
from orgsecurity import actions
from orgsecurity.auth import sign_in
from orgsecurity.models import Organization, User
from orgsecurity.signin_state import REAUTH_AT_SESSION_KEY as REAUTH_SESSION_KEY
from sessions_policy import clock as session_clock

PASSWORD = "correct horse battery staple"


def make_user(email: str, password: str = PASSWORD, **fields: object) -> User:
    return User.objects.create_user(email, password, **fields)


def make_org(slug: str, owner: User, name: str | None = None) -> Organization:
    return actions.create_organization(slug=slug, name=name or slug.title(), owner=owner, actor=Actor.system("tests"))


def add_member(org: Organization, user: User, role: str) -> None:
    actions.add_member(org, actor=Actor.system("tests"), user=user, role=role, via="tests")


def mark_reauthenticated_session(session) -> None:
    """As a fresh sign-in does: the session counts as recently authenticated (now, by the session clock)."""
    session[REAUTH_SESSION_KEY] = session_clock.timestamp()


def sign_in_client(client: Client, user: User, *, method: str = "password", user_agent: str = "") -> Client:
    """Sign ``client`` in as ``user`` through ``orgsecurity.auth.sign_in`` (a tracked session, freshly
    authenticated, ``auth.signed_in`` recorded), as a real sign-in with ``method`` would."""
    request = HttpRequest()
    request.META.update(REMOTE_ADDR="127.0.0.1", HTTP_USER_AGENT=user_agent, SERVER_NAME="testserver")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    sign_in(request, user, method=method)
    request.session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key
    return client


def sign_in_through_sso(client: Client, user: User, connection) -> Client:
    """Sign ``client`` in as ``user`` as an SSO sign-in through ``connection`` would (method saml/oidc, the
    connection remembered in the session), so SSO enforcement of that organization lets the session through."""
    from sso.rollout.enforcement import remember_sso_sign_in

    request = HttpRequest()
    request.META.update(REMOTE_ADDR="127.0.0.1", SERVER_NAME="testserver")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    sign_in(request, user, method=connection.protocol, organization=connection.organization)
    remember_sso_sign_in(request, connection)
    request.session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key
    return client


def refused_after_redirect(client: Client, response, text: str | bytes = b"") -> bool:
    """True when ``response`` (to a POST) is a refusal answered post/redirect/get: a 302 whose page shows ``text``
    (the refusal's sentence), so reloading repeats nothing (``orgsecurity.outcomes``)."""
    if response.status_code != 302:
        return False
    page = client.get(response["Location"])
    wanted = text.encode() if isinstance(text, str) else text
    return page.status_code == 200 and wanted in page.content
