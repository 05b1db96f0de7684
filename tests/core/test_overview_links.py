"""The security overview links only to pages the reader can open (issue 20): an auditor reads the overview but not the
security settings, so the SSO certificate rows, paused destinations and members without a second factor are listed
without a link for them, and every link anyone is shown opens (200). The security settings page links the overview."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from audit_stream import actions as stream_actions
from audit_stream.models import Destination
from keys.actions import create_api_key
from sso.connections import actions as sso_actions
from tests.helpers.twofactor import give_totp
from twofactor import actions as twofactor_actions

OVERVIEW = "/orgs/acme/settings/security/overview/"


@pytest.fixture
def busy_overview(org, owner, member):
    """A connection (certificate panel), a key expiring soon, a paused destination and a 2FA requirement a member
    has not met: every panel and pending state has a row with a link."""
    sso_actions.create_connection(org, actor=owner, protocol="saml", name="Entra ID", attribute_map={"email": "mail"})
    create_api_key(org, actor=owner, name="deploy", permission="read", expires_at=timezone.now() + timedelta(days=3))
    destination = stream_actions.create_destination(
        org, actor=owner, kind="webhook", url="https://siem.example.com/h", name="SIEM"
    ).destination
    Destination.objects.filter(pk=destination.pk).update(status="paused", last_error="HTTP 503")
    give_totp(owner)
    twofactor_actions.set_policy(org, actor=owner, required=True, grace_days=7)


def _links(html: str) -> list[str]:
    main = html[html.index("<h1>Security overview</h1>") :]
    return sorted(set(re.findall(r'href="(/orgs/acme/[^"]*)"', main)))


@pytest.mark.parametrize("role", ["owner", "admin", "auditor"])
def test_every_link_on_the_overview_opens_for_its_reader(role, request, client_for, busy_overview):
    client = client_for(request.getfixturevalue(role))
    html = client.get(OVERVIEW).content.decode()
    assert "Entra ID" in html and "deploy" in html and "SIEM" in html and "without a second factor" in html
    for url in _links(html.replace("&amp;", "&")):
        assert client.get(url).status_code == 200, (role, url)


def test_an_auditor_sees_the_rows_without_settings_links(client_for, owner, auditor, org, busy_overview):
    assert "/settings/security/sso/" in client_for(owner).get(OVERVIEW).content.decode()
    links = _links(client_for(auditor).get(OVERVIEW).content.decode())
    assert not [url for url in links if "/settings/security/sso/" in url or "/streaming/" in url]
    assert "/orgs/acme/settings/security/keys/" in links  # any member opens the keys page


def test_the_security_settings_page_links_the_overview(client_for, owner, admin):
    for user in (owner, admin):
        assert f'href="{OVERVIEW}"' in client_for(user).get("/orgs/acme/settings/security/").content.decode()
