"""Access to the two-factor pages: account pages need a signed-in person; org pages check membership (404), role
(403); the support console shows the status read-only; the dashboard lists the theme."""

from __future__ import annotations

from django.test import Client

from tests.helpers.core import make_user
from tests.helpers.twofactor import give_totp
from twofactor import actions


def test_it_checks_access(client_for, owner, member, outsider):
    assert Client().get("/accounts/2fa/").status_code == 302  # to sign in
    assert client_for(member).get("/accounts/2fa/").status_code == 200
    for path in ("/orgs/acme/settings/security/two-factor/", "/orgs/acme/settings/security/two-factor/members/"):
        assert client_for(owner).get(path).status_code == 200
        assert client_for(member).get(path).status_code == 403
        assert client_for(outsider).get(path).status_code == 404


def test_the_support_console_shows_status_read_only(client_for, org, owner, member, moving_clock):
    give_totp(owner)
    actions.set_policy(org, actor=owner, required=True, grace_days=3)
    staff = make_user("support@platform.test", is_staff=True)
    page = client_for(staff).get("/support/orgs/acme/").content.decode()
    assert "Two-factor authentication" in page
    assert "required for password sign-ins" in page
    assert "Authenticator app" in page and "member@acme.test" in page


def test_the_security_page_lists_the_theme(client_for, owner):
    page = client_for(owner).get("/orgs/acme/settings/security/").content.decode()
    assert "Two-factor authentication" in page
    assert "member" in page


def test_sso_sessions_keep_reauthenticating_at_the_idp(client_for, member, moving_clock, monkeypatch):
    from django.http import HttpResponseRedirect

    from sessions_policy import reauth

    give_totp(member)
    monkeypatch.setitem(reauth.PROVIDERS, "saml", lambda request, next_url: HttpResponseRedirect("https://idp.test/"))
    client = client_for(member, method="saml")
    assert client.get("/accounts/reauthenticate/?next=/")["Location"] == "https://idp.test/"
