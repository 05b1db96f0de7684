"""The access-check stack of security views (orgsecurity.access): membership (404) → role (403) → recent
re-authentication. A plain member whose sign-in is old is told 403, never sent to re-authenticate first; an
outsider gets 404; a manager with an old sign-in is sent to re-authenticate."""

from __future__ import annotations

import pytest
from django.test import override_settings

from orgsecurity.models import Membership
from orgsecurity.signin_state import REAUTH_AT_SESSION_KEY

KEYS = "/orgs/acme/settings/security/keys/"
ALLOWLIST = "/orgs/acme/settings/security/allowlist/"
SESSIONS = "/orgs/acme/settings/security/sessions/"

# (path, POST data) of changes only owners and admins may make.
SECURITY_CHANGES = [
    (f"{KEYS}service-accounts/new/", {"account-name": "ci"}),
    (f"{KEYS}workloads/new/", {"workload-name": "deploy"}),
    (f"{KEYS}policy/", {"require_expiry": "on", "max_lifetime_days": "30"}),
    (f"{KEYS}987654/reviewed/", {}),
    (f"{ALLOWLIST}settings/", {"enabled": "on", "scope": "both"}),
    (f"{ALLOWLIST}entries/add/", {"cidr": "203.0.113.0/24", "label": "office"}),
    (f"{ALLOWLIST}entries/bulk/", {"lines": "203.0.113.0/24 office"}),
    (f"{ALLOWLIST}entries/remove/", {"entry": "1"}),
    (SESSIONS, {"idle_timeout_minutes": "30"}),
    (f"{SESSIONS}members/987654/end/", {}),
    (f"{SESSIONS}members/person/987654/end-all/", {}),
]


def _signed_in_long_ago(client_for, user):
    client = client_for(user)
    session = client.session
    session[REAUTH_AT_SESSION_KEY] = 0
    session.save()
    return client


def _asked_to_reauthenticate(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")


@pytest.mark.parametrize(("path", "data"), SECURITY_CHANGES)
def test_a_plain_member_is_refused_before_being_asked_to_reauthenticate(client_for, member, path, data):
    response = _signed_in_long_ago(client_for, member).post(path, data)
    assert response.status_code == 403
    assert not _asked_to_reauthenticate(response)


@pytest.mark.parametrize(("path", "data"), SECURITY_CHANGES)
def test_an_outsider_gets_404(client_for, outsider, path, data):
    assert _signed_in_long_ago(client_for, outsider).post(path, data).status_code == 404


@override_settings(ORG_PIPELINE_CHECKS=["orgsecurity.pipeline.check_authenticated"])
@pytest.mark.parametrize(("path", "data"), SECURITY_CHANGES)
def test_the_views_own_stack_answers_outsiders_404_without_the_pipeline(client_for, outsider, path, data):
    assert _signed_in_long_ago(client_for, outsider).post(path, data).status_code == 404


@pytest.mark.parametrize(("path", "data"), [change for change in SECURITY_CHANGES if "/reviewed/" not in change[0]])
def test_a_manager_with_an_old_sign_in_is_asked_to_reauthenticate(client_for, owner, path, data):
    assert _asked_to_reauthenticate(_signed_in_long_ago(client_for, owner).post(path, data))


def test_members_and_billing_follow_the_same_order(client_for, org, member, owner, outsider):
    other = Membership.objects.get(organization=org, user=owner)
    stale_member = _signed_in_long_ago(client_for, member)
    for path in (f"/orgs/acme/members/{other.pk}/remove/", "/orgs/acme/settings/billing/"):
        response = stale_member.post(path, {"role": "member"})
        assert response.status_code == 403, path
        assert _signed_in_long_ago(client_for, outsider).post(path, {}).status_code == 404
