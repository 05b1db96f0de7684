"""The access-check stack of the SSO views (orgsecurity.access), as tests/core/test_access_order.py checks it for
keys, allowlist and sessions: membership (404) → role (403) → recent re-authentication. A plain member whose
sign-in is old is told 403, never sent to re-authenticate first; an outsider gets 404; an owner with an old
sign-in is sent to re-authenticate."""

from __future__ import annotations

import pytest
from django.test import override_settings

from orgsecurity.signin_state import REAUTH_AT_SESSION_KEY
from sso.models import SSOConnection, SSOIdentity
from tests.helpers.sso import link_identity

BASE = "/orgs/acme/settings/security/sso/"
NO_SUCH = 987654  # an object id nobody has: the checks answer before any object is looked up

# (path, POST data) of SSO changes only owners and admins may make; {c} is the connection's id.
SSO_CHANGES = [
    ("{c}/settings/", {"name": "renamed"}),
    ("{c}/status/", {"status": "off"}),
    ("{c}/test/", {"session_seconds": "0"}),
    ("{c}/rollout/enforce/", {"confirm_slug": "acme", "support_contact": "h@acme.test"}),
    ("{c}/rollout/rollback/", {"to": "off"}),
    ("{c}/rollout/schedule/", {"enforce_at": "2099-01-01T10:00", "support_contact": "h@acme.test"}),
    ("{c}/rollout/unschedule/", {}),
    ("{c}/rollout/test-group/", {}),
    ("{c}/rollout/fallback/confirm/", {}),
    ("{c}/rollout/fallback/exceptions/", {"reason": "contractor"}),
    (f"{{c}}/rollout/fallback/exceptions/{NO_SUCH}/remove/", {}),
    ("{c}/rollout/test-plan/login/tick/", {"note": "seen"}),
    ("recovery/designate/", {"membership": "1"}),
    (f"recovery/{NO_SUCH}/remove/", {}),
    ("recovery/codes/", {}),
    ("domains/claim/", {"domain": "example.test"}),
    (f"domains/{NO_SUCH}/verify/", {}),
    (f"domains/{NO_SUCH}/remove/", {}),
    ("saml/new/", {"source": "manual"}),
    ("saml/{c}/idp/", {"source": "manual"}),
    ("saml/{c}/refresh/", {}),
    ("saml/{c}/options/", {"allow_idp_initiated": "on"}),
    ("saml/{c}/preset/", {"preset": "okta"}),
    ("oidc/new/", {"issuer": "https://idp.example.test"}),
    ("oidc/{c}/settings/", {"issuer": "https://idp.example.test"}),
]
# The owner passes the role check of these only with more than the capability (a recovery account of their own).
NEEDS_MORE_THAN_THE_ROLE = {"recovery/codes/"}


def _url(connection: SSOConnection, path: str) -> str:
    return BASE + path.format(c=connection.pk)


def _signed_in_long_ago(client_for, user):
    client = client_for(user)
    session = client.session
    session[REAUTH_AT_SESSION_KEY] = 0
    session.save()
    return client


def _asked_to_reauthenticate(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")


@pytest.mark.parametrize(("path", "data"), SSO_CHANGES)
def test_a_plain_member_is_refused_before_being_asked_to_reauthenticate(client_for, connection, member, path, data):
    response = _signed_in_long_ago(client_for, member).post(_url(connection, path), data)
    assert response.status_code == 403
    assert not _asked_to_reauthenticate(response)
    assert SSOConnection.objects.get(pk=connection.pk).status == "on"


@pytest.mark.parametrize(("path", "data"), SSO_CHANGES)
def test_an_outsider_gets_404(client_for, connection, outsider, path, data):
    assert _signed_in_long_ago(client_for, outsider).post(_url(connection, path), data).status_code == 404


@override_settings(ORG_PIPELINE_CHECKS=["orgsecurity.pipeline.check_authenticated"])
@pytest.mark.parametrize(("path", "data"), SSO_CHANGES)
def test_the_views_own_stack_answers_outsiders_404_without_the_pipeline(client_for, connection, outsider, path, data):
    assert _signed_in_long_ago(client_for, outsider).post(_url(connection, path), data).status_code == 404


@pytest.mark.parametrize(("path", "data"), [c for c in SSO_CHANGES if c[0] not in NEEDS_MORE_THAN_THE_ROLE])
def test_an_owner_with_an_old_sign_in_is_asked_to_reauthenticate(client_for, connection, owner, path, data):
    assert _asked_to_reauthenticate(_signed_in_long_ago(client_for, owner).post(_url(connection, path), data))
    assert SSOConnection.objects.get(pk=connection.pk).status == "on"


def test_the_create_pages_ask_a_plain_member_nothing_and_an_owner_to_reauthenticate(client_for, member, owner):
    for path in (f"{BASE}saml/new/", f"{BASE}oidc/new/"):
        assert _signed_in_long_ago(client_for, member).get(path).status_code == 403
        assert _asked_to_reauthenticate(_signed_in_long_ago(client_for, owner).get(path))


def test_checks_beyond_the_capability_come_before_reauthentication(client_for, connection, admin, owner):
    # Only owners choose recovery accounts; only a recovery account's own person makes its codes.
    response = _signed_in_long_ago(client_for, admin).post(f"{BASE}recovery/designate/", {"membership": "1"})
    assert response.status_code == 403 and "Only owners can choose recovery accounts." in response.content.decode()
    response = _signed_in_long_ago(client_for, owner).post(f"{BASE}recovery/codes/")
    assert response.status_code == 403 and "You are not a recovery account" in response.content.decode()


def test_a_member_may_link_and_unlink_their_own_identity_after_reauthenticating(client_for, connection, member):
    own = link_identity(connection, member, "mia-123")
    stale = _signed_in_long_ago(client_for, member)
    assert _asked_to_reauthenticate(stale.post(f"{BASE}link/"))
    assert _asked_to_reauthenticate(stale.post(f"{BASE}identities/{own.pk}/unlink/"))
    assert SSOIdentity.objects.filter(pk=own.pk).exists()


def test_a_member_unlinking_someone_elses_identity_gets_404_before_reauthentication(
    client_for, connection, member, admin
):
    theirs = link_identity(connection, admin, "adam-42")
    response = _signed_in_long_ago(client_for, member).post(f"{BASE}identities/{theirs.pk}/unlink/")
    assert response.status_code == 404
    assert SSOIdentity.objects.filter(pk=theirs.pk).exists()


def test_an_outsider_gets_404_from_the_member_pages(client_for, connection, outsider):
    stale = _signed_in_long_ago(client_for, outsider)
    for path in ("link/", f"identities/{NO_SUCH}/unlink/", f"link/{NO_SUCH}/"):
        assert stale.post(f"{BASE}{path}", {"answer": "link"}).status_code == 404, path
