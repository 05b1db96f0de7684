"""The OpenID Connect settings form of the connection page carries the version it was loaded at (issue 20): saved
over a change made meanwhile (another admin turning on RP-initiated logout, or replacing the client secret), it is
refused with "changed since you opened this page" and what changed; the other change stands."""

from __future__ import annotations

import html
import re

from sso.models import OIDCSettings
from sso.oidc import actions
from tests.helpers.versions import form_version
from tests.sso.oidc.provider import CLIENT_ID

BASE = "/orgs/acme/settings/security/sso/"
REFUSED = "These settings were changed since you opened this page, so nothing was saved."


def payload(provider, **overrides) -> dict:
    data = {
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": "",
        "scopes": "openid email profile",
        "allowed_algorithms": ["RS256", "ES256"],
        "preset": "",
    }
    return {**data, **overrides}


def test_oidc_settings_saved_over_a_logout_change_are_refused(client_for, provider, oidc_connection, owner, admin):
    url = f"{BASE}oidc/{oidc_connection.pk}/settings/"
    client = client_for(owner)
    version = form_version(client.get(f"{BASE}{oidc_connection.pk}/").content.decode(), url)
    actions.update_oidc_settings(oidc_connection, actor=admin, rp_initiated_logout=True)
    stale = client.post(url, {**payload(provider, scopes="openid email"), "loaded_version": version})
    assert stale.status_code == 302 and stale["Location"] == f"{BASE}{oidc_connection.pk}/"
    page = html.unescape(client.get(f"{BASE}{oidc_connection.pk}/").content.decode())
    assert REFUSED in page and "Signing out here also signs out at the provider (RP-initiated logout): off → on" in page
    saved = OIDCSettings.objects.get()
    assert saved.rp_initiated_logout and saved.scopes == "openid email profile"  # theirs stands, ours not saved
    # The page now shows the saved state (the box ticked); from it the change saves.
    box = re.search(r'<input[^>]*name="rp_initiated_logout"[^>]*>', page)
    assert box and "checked" in box.group(0)
    fresh = {**payload(provider, scopes="openid email"), "rp_initiated_logout": "on"}
    again = client.post(url, {**fresh, "loaded_version": form_version(page, url)})
    assert again.status_code == 302
    assert OIDCSettings.objects.get().scopes == "openid email"


def test_a_secret_replaced_meanwhile_refuses_the_form(client_for, provider, oidc_connection, owner, admin):
    url = f"{BASE}oidc/{oidc_connection.pk}/settings/"
    client = client_for(owner)
    version = form_version(client.get(f"{BASE}{oidc_connection.pk}/").content.decode(), url)
    actions.update_oidc_settings(oidc_connection, actor=admin, client_secret="a-newer-secret-from-the-other-admin")
    stale = client.post(url, {**payload(provider, client_secret="my-older-secret-value-xx"), "loaded_version": version})
    assert stale.status_code == 302
    page = html.unescape(client.get(f"{BASE}{oidc_connection.pk}/").content.decode())
    assert REFUSED in page and "Client secret (set at):" in page
