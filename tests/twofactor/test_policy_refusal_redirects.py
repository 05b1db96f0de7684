"""A refused two-factor policy is answered with post/redirect/get: the reason is shown on the policy page, which shows
the policy actually saved; nothing renders at the POST URL (issue 20)."""

from __future__ import annotations

import html

from twofactor import factors

POLICY = "/orgs/acme/settings/security/two-factor/"


def test_a_refused_policy_redirects_and_the_page_shows_the_saved_policy(client_for, org, owner, moving_clock):
    client = client_for(owner)  # the owner has no second factor: requiring 2FA is refused
    version = client.get(POLICY).context["loaded_version"]
    answer = client.post(POLICY, {"required": "on", "grace_days": "7", "loaded_version": version})
    assert answer.status_code == 302 and answer["Location"] == POLICY
    page = html.unescape(client.get(POLICY).content.decode())
    assert 'class="message message-error" role="alert">You have no second factor yet' in page
    assert "Not required." in page
    assert factors.policy_of(org) is None or not factors.policy_of(org).required
