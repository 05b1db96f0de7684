"""An IdP set-up link for an OpenID Connect connection that has no provider yet: the IdP admin enters the issuer
and client, then runs a test sign-in at the provider (a real local one) that links nobody and emails the owners."""

from __future__ import annotations

import html

from django.conf import settings
from django.core import mail
from django.test import Client

from audit.models import ActorType, AuditEvent
from sso.connections import actions as sso_actions
from sso.models import OIDCSettings, SSOIdentity, SSOTestRun
from sso.setup_links import actions
from tests.sso.oidc.provider import CLIENT_ID, CLIENT_SECRET

CALLBACK = "/sso/acme/oidc/callback/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_idp_admin_enters_the_provider_and_tests_it(
    provider, org, owner, member, django_capture_on_commit_callbacks
):
    connection = sso_actions.create_connection(org, actor=owner, protocol="oidc", name="Contoso")
    _link, url = actions.create_link(connection, actor=owner, recipient="Jane")
    path = url.removeprefix(settings.PUBLIC_BASE_URL)
    browser = Client()
    assert browser.get(path).status_code == 200
    assert browser.post(path).status_code == 302
    page = text(browser.get("/sso/acme/setup/"))
    assert f"{settings.PUBLIC_BASE_URL}{CALLBACK}" in page and member.email not in page
    saved = browser.post(
        "/sso/acme/setup/oidc/",
        {
            "issuer": provider.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scopes": "openid email profile",
            "allowed_algorithms": ["RS256", "ES256"],
        },
    )
    assert saved.status_code == 302, text(saved)[:3000]
    assert OIDCSettings.objects.get(connection=connection).issuer == provider.issuer
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("seq")
    assert event.actor_type == ActorType.SETUP_LINK and "[redacted]" not in str(event.changes)
    assert CLIENT_SECRET not in str(event.changes) + str(event.details)

    authorization = provider.authorization(browser.post("/sso/acme/setup/test/"))
    claims = provider.claims(authorization, sub="jane-sub", email="member@acme.test")
    query = provider.respond_with(authorization, provider.sign(claims))
    with django_capture_on_commit_callbacks(execute=True):
        finish = browser.get(f"{CALLBACK}?{query}")
        result = browser.get(finish["Location"])
    run = SSOTestRun.objects.get()
    assert result.status_code == 302 and result["Location"] == f"/sso/acme/setup/tests/{run.pk}/"
    assert "SSO test: Succeeded" in text(browser.get(result["Location"]))
    assert run.setup_link_id is not None and not SSOIdentity.objects.exists()
    assert [message.to for message in mail.outbox] == [[owner.email]]
