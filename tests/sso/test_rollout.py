"""The rollout's status moves and the guards of enforcement: refused with every reason, enforced only when ready,
rolled back in one step; the rollout page, test group, fallback policy and test plan ticks, for each persona."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from orgsecurity.models import Membership, Team
from sso.connections import actions
from sso.connections.actions import EnforcementRefused
from sso.models import RecoveryCode, SSOConnection, SSOTestPlanItem, SSOTestRun
from sso.protocols import HANDLERS
from sso.recovery import accounts as recovery
from sso.rollout import scheduling as rollout
from tests.helpers.core import add_member, make_user
from tests.helpers.sso import link_identity, sign_in_through_idp

BASE = "/orgs/acme/settings/security/sso/"


def refusal_codes(connection, actor):
    with pytest.raises(EnforcementRefused) as caught:
        actions.set_status(connection, actor=actor, status="enforced")
    assert caught.value.message.startswith("SSO cannot be enforced yet:")
    assert all(problem.message for problem in caught.value.problems)
    return {problem.code for problem in caught.value.problems}


# --- status moves ----------------------------------------------------------------------------------------------


def test_a_new_connection_goes_through_testing_before_on(org, owner):
    connection = actions.create_connection(org, actor=owner, protocol="saml")
    with pytest.raises(actions.ActionRefused, match="Go through testing first"):
        actions.set_status(connection, actor=owner, status="on")
    actions.set_status(connection, actor=owner, status="testing")
    connection = actions.set_status(connection, actor=owner, status="on")
    assert connection.status == "on" and connection.testing_started_at is not None
    connection = actions.set_status(connection, actor=owner, status="testing")  # a rollback
    event = AuditEvent.objects.filter(action="sso.status_changed").latest("seq")
    assert event.changes == {"status": ["on", "testing"]} and event.details["rollback"] is True


def test_enforcement_from_off_is_not_a_move(org, owner):
    connection = actions.create_connection(org, actor=owner, protocol="saml")
    with pytest.raises(actions.ActionRefused, match="cannot go from Off to Enforced"):
        actions.set_status(connection, actor=owner, status="enforced")
    with pytest.raises(actions.ActionRefused, match="not an SSO status"):
        actions.set_status(connection, actor=owner, status="sideways")


def test_enforcement_is_refused_with_every_missing_guard(idp, connection, owner):
    codes = refusal_codes(connection, owner)
    assert codes == {
        "no_recent_test",
        "no_recovery_account",
        "fallback_not_confirmed",
        "no_member_sign_in",
        "test_plan_incomplete",
        "admins_locked_out",  # the owner: not linked, not a recovery account
    }
    assert SSOConnection.objects.get(pk=connection.pk).status == "on"
    event = AuditEvent.objects.get(action="sso.enforcement_refused")
    assert set(event.details["reasons"]) == codes and event.actor_label == owner.email


def test_a_ready_connection_is_enforced_and_audited(ready, owner):
    connection = actions.set_status(ready.connection, actor=owner, status="enforced")
    assert connection.status == "enforced" and connection.enforced_at is not None
    event = AuditEvent.objects.filter(action="sso.status_changed").latest("seq")
    assert event.changes == {"status": ["on", "enforced"]} and event.details["via"] == "manual"
    review = AuditEvent.objects.get(action="sso.key_review_requested")
    assert "SSO is now enforced" in review.details["reason"]


def test_an_expired_certificate_refuses_enforcement(ready, owner, idp, monkeypatch):
    expired = ["The IdP signing certificate expired on 2026-01-01."]
    monkeypatch.setattr(idp, "validation_problems", lambda connection: expired, raising=False)
    with pytest.raises(EnforcementRefused, match="certificate expired on 2026-01-01"):
        actions.set_status(ready.connection, actor=owner, status="enforced")


def test_a_protocol_without_a_handler_cannot_be_enforced(ready, owner, monkeypatch):
    monkeypatch.delitem(HANDLERS, "saml")
    assert refusal_codes(ready.connection, owner) == {"invalid_connection"}


def test_the_admin_owner_must_be_named(ready, owner):
    actions.update_connection(ready.connection, actor=owner, admin_owner=None)
    assert refusal_codes(ready.connection, owner) == {"no_admin_owner"}


def test_the_test_must_be_recent_and_by_the_actor_or_the_admin_owner(ready, owner, admin):
    link_identity(ready.connection, admin, "adam-1")
    SSOTestRun.objects.update(finished_at=timezone.now() - timedelta(days=8))
    assert refusal_codes(ready.connection, owner) == {"no_recent_test"}
    run = actions.start_test_run(ready.connection, actor=admin)
    actions.finish_test_run(run, actor=admin, success=True, details={})
    assert refusal_codes(ready.connection, owner) == {"no_recent_test"}  # admin is neither actor nor admin owner
    actions.set_status(ready.connection, actor=admin, status="enforced")  # but counts when admin enforces


def test_a_failed_test_does_not_count(connection, idp, owner, member):
    run = actions.start_test_run(connection, actor=owner)
    actions.finish_test_run(run, actor=owner, success=False, details={}, error="Signature did not verify.")
    assert "no_recent_test" in refusal_codes(connection, owner)


def test_an_owner_recovery_account_with_codes_is_needed(ready, owner, admin):
    link_identity(ready.connection, owner, "olivia-1")  # so that no one is locked out: only the guard is tested
    link_identity(ready.connection, admin, "adam-1")
    owner_account = Membership.objects.get(user=owner).recovery_account
    RecoveryCode.objects.update(used_at=timezone.now())
    assert refusal_codes(ready.connection, owner) == {"no_recovery_account"}
    recovery.generate_codes(owner_account, actor=owner)
    admin_account = recovery.designate(
        ready.connection.organization, actor=owner, membership=Membership.objects.get(user=admin)
    )
    recovery.generate_codes(admin_account, actor=admin)
    recovery.remove(owner_account, actor=owner)
    rollout.confirm_fallback_policy(ready.connection, actor=owner)
    assert refusal_codes(ready.connection, owner) == {"no_owner_recovery_account"}


def test_a_changed_fallback_policy_must_be_confirmed_again(ready, owner, member):
    rollout.add_password_exception(
        ready.connection, actor=owner, membership=Membership.objects.get(user=member), reason="contractor"
    )
    with pytest.raises(EnforcementRefused, match="again: it changed since it was confirmed"):
        actions.set_status(ready.connection, actor=owner, status="enforced")
    rollout.confirm_fallback_policy(ready.connection, actor=owner)
    actions.set_status(ready.connection, actor=owner, status="enforced")


def test_after_testing_the_member_sign_in_must_come_from_the_test_group(connection, idp, owner, org):
    outside = make_user("otto@acme.test")
    add_member(org, outside, "member")
    link_identity(connection, outside, "otto")
    sign_in_through_idp(idp, "otto")  # status is on: everyone may sign in, but otto is not in the test group
    assert "no_member_sign_in" in refusal_codes(connection, owner)
    team = Team.objects.create(organization=org, slug="pilot", name="Pilot")
    team.members.add(Membership.objects.get(user=outside))
    rollout.set_test_group(connection, actor=owner, memberships=[], teams=[team])
    assert "no_member_sign_in" not in refusal_codes(connection, owner)


def test_the_test_plan_must_be_complete(ready, owner):
    SSOTestPlanItem.objects.filter(item="session_timeout").delete()
    with pytest.raises(EnforcementRefused, match="session timeout not seen yet"):
        actions.set_status(ready.connection, actor=owner, status="enforced")


def test_rollback_is_one_step_to_testing_or_off(enforced, owner):
    connection = actions.rollback(enforced.connection, actor=owner)
    assert connection.status == "testing" and connection.enforced_at is None
    with pytest.raises(actions.ActionRefused, match="nothing to roll back"):
        actions.rollback(connection, actor=owner, to="testing")
    with pytest.raises(actions.ActionRefused, match="Roll back to testing or off"):
        actions.rollback(connection, actor=owner, to="on")
    assert actions.rollback(connection, actor=owner, to="off").status == "off"


# --- pages -----------------------------------------------------------------------------------------------------


def test_it_checks_access_to_the_rollout_page(client_for, connection, owner, admin, member, outsider, idp):
    url = f"{BASE}{connection.pk}/rollout/"
    page = client_for(owner).get(url)
    assert page.status_code == 200
    text = page.content.decode()
    for item in ("Protocol", "IdP metadata", "Administrator ownership", "Fallback login policy", "Test plan"):
        assert item in text
    assert "No successful test sign-in by you or the admin owner in the last 7 days" in text
    assert f'href="/orgs/acme/settings/security/sso/{connection.pk}/rollout/#fallback"' in text  # a link to fix it
    assert client_for(admin).get(url).status_code == 200
    assert client_for(member).get(url).status_code == 403
    assert client_for(outsider).get(url).status_code == 404


def test_the_checklist_names_owners_and_admins_who_would_have_no_way_in(client_for, ready, owner, admin, idp):
    """The owner is a recovery account; the admin is neither linked nor an exception, and is not linked by email on
    a first SSO sign-in, so the page names them before enforcement strands them."""
    url = f"{BASE}{ready.connection.pk}/rollout/"
    text = client_for(owner).get(url).content.decode()
    assert "keeping no password sign-in: admin@acme.test" in text
    link_identity(ready.connection, admin, "adam-1")
    assert "keeping no password sign-in" not in client_for(owner).get(url).content.decode()


def test_a_status_move_from_the_rollout_page_returns_to_it(client_for, connection, owner):
    url = f"{BASE}{connection.pk}/status/"
    response = client_for(owner).post(url, {"status": "testing", "back": "rollout"})
    assert response.status_code == 302 and response["Location"] == f"{BASE}{connection.pk}/rollout/"
    response = client_for(owner).post(url, {"status": "on"})
    assert response.status_code == 302 and response["Location"] == f"{BASE}{connection.pk}/"


def test_opening_a_second_connection_says_the_first_is_open_too(client_for, connection, org, owner):
    second = actions.create_connection(org, actor=owner, protocol="oidc", name="Okta OIDC", attribute_map={})
    page = client_for(owner).post(f"{BASE}{second.pk}/status/", {"status": "testing"}, follow=True)
    assert "Also open to SSO sign-in: “Acme IdP” (On)" in page.content.decode()
    actions.set_status(connection, actor=owner, status="off")
    page = client_for(owner).post(f"{BASE}{second.pk}/status/", {"status": "on"}, follow=True)
    assert "SSO is now On" in page.content.decode() and "Also open to SSO sign-in" not in page.content.decode()


CONFIRM = {"confirm_slug": "acme", "support_contact": "it-help@acme.test"}


def test_the_enforce_button_lists_what_is_missing(client_for, connection, owner, member, outsider, idp):
    url = f"{BASE}{connection.pk}/rollout/enforce/"
    assert client_for(member).post(url, CONFIRM).status_code == 403
    assert client_for(outsider).post(url, CONFIRM).status_code == 404
    response = client_for(owner).post(url, CONFIRM)
    assert response.status_code == 409
    text = response.content.decode()
    assert "SSO was not enforced" in text
    assert "There is no recovery account with unused recovery codes" in text
    assert "Confirm the fallback login policy" in text
    assert SSOConnection.objects.get(pk=connection.pk).status == "on"


def test_the_enforce_button_enforces_a_ready_connection(client_for, ready, owner):
    response = client_for(owner).post(f"{BASE}{ready.connection.pk}/rollout/enforce/", CONFIRM)
    assert response.status_code == 302
    assert SSOConnection.objects.get(pk=ready.connection.pk).status == "enforced"


def test_status_changes_need_recent_authentication(client_for, ready, owner, settings):
    client = client_for(owner)
    session = client.session
    session["reauth_at"] = 0
    session.save()
    response = client.post(f"{BASE}{ready.connection.pk}/rollout/enforce/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")
    response = client.post(f"{BASE}{ready.connection.pk}/rollout/rollback/", {"to": "off"})
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert SSOConnection.objects.get(pk=ready.connection.pk).status == "on"


def test_the_rollback_button(sso_client_for, client_for, enforced, admin, member, outsider):
    connection = enforced.connection
    url = f"{BASE}{connection.pk}/rollout/rollback/"
    assert sso_client_for(member, connection).post(url, {"to": "testing"}).status_code == 403
    assert client_for(outsider).post(url, {"to": "testing"}).status_code == 404
    assert client_for(admin).post(url, {"to": "testing"}).status_code == 401  # a password session: SSO only now
    assert sso_client_for(admin, connection).post(url, {"to": "sideways"}).status_code == 400
    response = sso_client_for(admin, connection).post(url, {"to": "testing"})
    assert response.status_code == 302
    assert SSOConnection.objects.get(pk=enforced.connection.pk).status == "testing"


def test_the_test_group_page(client_for, connection, owner, member, outsider, org, other_org):
    url = f"{BASE}{connection.pk}/rollout/test-group/"
    mia = Membership.objects.get(user=member)
    assert client_for(member).post(url, {"members": [mia.pk]}).status_code == 403
    assert client_for(outsider).post(url, {"members": [mia.pk]}).status_code == 404
    foreign = other_org.memberships.get()
    assert client_for(owner).post(url, {"members": [foreign.pk]}).status_code == 400
    assert client_for(owner).post(url, {"members": [mia.pk]}).status_code == 302
    assert list(connection.test_members.all()) == [mia]
    event = AuditEvent.objects.get(action="sso.test_group_changed")
    assert event.changes["members"] == [[], [member.email]]


def test_fallback_exceptions_and_confirmation_pages(client_for, connection, owner, member, outsider):
    base = f"{BASE}{connection.pk}/rollout/fallback/"
    mia = Membership.objects.get(user=member)
    assert client_for(member).post(f"{base}exceptions/", {"membership": mia.pk, "reason": "x"}).status_code == 403
    assert client_for(outsider).post(f"{base}confirm/").status_code == 404
    client = client_for(owner)
    assert client.post(f"{base}exceptions/", {"membership": mia.pk, "reason": ""}).status_code == 400
    assert client.post(f"{base}exceptions/", {"membership": mia.pk, "reason": "contractor"}).status_code == 302
    assert client.post(f"{base}exceptions/", {"membership": mia.pk, "reason": "again"}).status_code == 409
    assert client.post(f"{base}confirm/").status_code == 302
    page = client.get(f"{BASE}{connection.pk}/rollout/").content.decode()
    assert "contractor" in page and "Confirmed by owner@acme.test" in page
    exception = connection.password_exceptions.get()
    assert client.post(f"{base}exceptions/{exception.pk}/remove/").status_code == 302
    assert "The policy changed since it was confirmed" in client.get(f"{BASE}{connection.pk}/rollout/").content.decode()
    actions_logged = set(AuditEvent.objects.filter(action__startswith="sso.").values_list("action", flat=True))
    expected = {"sso.password_exception_added", "sso.fallback_confirmed", "sso.password_exception_removed"}
    assert expected <= actions_logged


def test_only_the_admin_owner_ticks_test_plan_steps_with_a_note(client_for, connection, owner, admin, outsider):
    url = f"{BASE}{connection.pk}/rollout/test-plan/logout/tick/"
    browser = client_for(admin)
    response = browser.post(url, {"note": "saw it"})
    assert response.status_code == 302  # back to the test plan, unticked, with the reason
    assert b"Only owner@acme.test can tick" in browser.get(response["Location"]).content
    assert client_for(outsider).post(url, {"note": "x"}).status_code == 404
    assert client_for(owner).post(url, {"note": ""}).status_code == 400
    nonsense = f"{BASE}{connection.pk}/rollout/test-plan/nonsense/tick/"
    assert client_for(owner).post(nonsense, {"note": "x"}).status_code == 404
    assert client_for(owner).post(url, {"note": "Okta sign-out ended the session"}).status_code == 302
    seen = SSOTestPlanItem.objects.get(item="logout")
    assert seen.via == "ticked" and seen.note == "Okta sign-out ended the session" and seen.seen_by == owner
    page = client_for(owner).get(f"{BASE}{connection.pk}/rollout/").content.decode()
    assert "ticked by the admin owner: Okta sign-out ended the session" in page


def test_the_sso_page_says_api_keys_are_not_restricted(client_for, connection, member):
    page = client_for(member).get(BASE).content.decode()
    assert "It does not restrict API keys" in page


def test_unlinking_an_identity_asks_for_a_key_review(client_for, connection, owner, member):
    linked = link_identity(connection, member, "mia-123")
    assert client_for(owner).post(f"{BASE}identities/{linked.pk}/unlink/").status_code == 302
    review = AuditEvent.objects.get(action="sso.key_review_requested")
    assert review.details["user"] == member.email and "mia-123" in review.details["reason"]
