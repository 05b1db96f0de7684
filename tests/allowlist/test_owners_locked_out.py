"""The owners guard: a change that would leave no owner with a recent address inside a list guarding dashboard pages
is refused (409 ``owners_locked_out``) by the action, so the page and the admin API refuse it alike; the confirmation
page lists those owners as blocking items; the self-lockout guard is unchanged."""

from __future__ import annotations

import pytest

from allowlist import actions
from allowlist.models import IPAllowlist, IPAllowlistEntry
from allowlist.preview import preview_remove_entries, preview_settings
from audit.models import AuditEvent
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Membership
from sso.recovery import accounts as recovery
from tests.helpers.allowlist import HOME_IP, OFFICE, OFFICE_IP, enable, seen_from
from tests.helpers.core import add_member, make_user

PAGE = "/orgs/acme/settings/security/allowlist/"
HOME = "203.0.113.0/24"


def turn_on(org, actor, actor_ip: str = OFFICE_IP, scope: str = "dashboard") -> None:
    actions.update_settings(org, actor=actor, actor_ip=actor_ip, enabled=True, scope=scope)


@pytest.fixture
def office_list(org, owner):
    """The office block on the (off) list; the owner was last seen from home only, outside it."""
    actions.add_entries(org, OFFICE, actor=owner)
    seen_from(owner, HOME_IP)


# --- the action ----------------------------------------------------------------------------------------------


def test_an_admin_cannot_turn_it_on_when_every_owner_was_seen_outside(org, admin, office_list):
    with pytest.raises(actions.OwnersLockedOut) as refused:
        turn_on(org, admin)
    assert refused.value.code == "owners_locked_out" and refused.value.status == 409
    assert refused.value.owners == ["owner@acme.test"]
    message = refused.value.message
    assert "would lock every owner out of the dashboard" in message
    assert f"owner@acme.test (seen from {HOME_IP})" in message
    # No recovery account yet: only platform support can turn the list off.
    assert "no recovery account" in message and "platform support" in message
    assert not IPAllowlist.objects.get(organization=org).enabled
    assert not AuditEvent.objects.filter(action="allowlist.enabled").exists()


def test_it_can_be_turned_on_once_one_owner_was_seen_inside(org, owner, admin, office_list):
    second = make_user("second@acme.test")
    add_member(org, second, "owner")
    seen_from(second, HOME_IP)
    with pytest.raises(actions.OwnersLockedOut) as refused:
        turn_on(org, admin)
    assert refused.value.owners == ["owner@acme.test", "second@acme.test"]
    seen_from(second, OFFICE_IP, days_ago=3)  # one owner also works from the office
    turn_on(org, admin)
    assert IPAllowlist.objects.get(organization=org).guards_dashboard


def test_sessions_older_than_30_days_do_not_count(org, owner, admin, office_list):
    seen_from(owner, OFFICE_IP, days_ago=31)
    with pytest.raises(actions.OwnersLockedOut):
        turn_on(org, admin)


def test_owners_not_seen_lately_are_unknown_and_do_not_block(org, owner, admin):
    """Nobody knows where an owner not seen in 30 days connects from: with no owner's address known, the change is
    not refused (the preview's note says unknown members are not listed); with one known outside, it is, naming the
    unknown ones."""
    actions.add_entries(org, OFFICE, actor=owner)
    turn_on(org, admin)
    assert IPAllowlist.objects.get(organization=org).guards_dashboard
    actions.update_settings(org, actor=admin, actor_ip=OFFICE_IP, enabled=False, scope="dashboard")
    quiet = make_user("quiet@acme.test")
    add_member(org, quiet, "owner")
    seen_from(owner, HOME_IP)
    with pytest.raises(actions.OwnersLockedOut) as refused:
        turn_on(org, admin)
    assert refused.value.owners == ["owner@acme.test"]
    assert "Not seen in the last 30 days (address unknown): quiet@acme.test." in refused.value.message


def test_a_suspended_owner_seen_inside_does_not_count(org, owner, admin, office_list):
    from orgsecurity.lifecycle import suspend_member

    second = make_user("second@acme.test")
    add_member(org, second, "owner")
    seen_from(second, OFFICE_IP)
    membership = Membership.objects.get(organization=org, user=second)  # includes suspended: about to suspend
    suspend_member(membership, actor=owner, reason="left the company")
    with pytest.raises(actions.OwnersLockedOut) as refused:
        turn_on(org, admin)
    assert refused.value.owners == ["owner@acme.test"]


def test_an_owner_acting_from_inside_counts_with_their_current_address(org, owner, office_list):
    """The owner on the page passed the self-lockout guard from the office: they are an owner inside."""
    turn_on(org, owner, actor_ip=OFFICE_IP)
    assert IPAllowlist.objects.get(organization=org).guards_dashboard


def test_widening_an_api_only_list_to_dashboard_pages_is_judged_too(org, admin, office_list):
    turn_on(org, admin, scope="api")  # keys only: no dashboard page is guarded, nobody is shut out
    with pytest.raises(actions.OwnersLockedOut):
        actions.update_settings(org, actor=admin, actor_ip=OFFICE_IP, enabled=True, scope="both")
    assert IPAllowlist.objects.get(organization=org).scope == "api"


def test_removing_the_entry_that_covers_the_owners_is_refused(org, owner, admin):
    enable(org, owner, OFFICE, HOME)
    seen_from(owner, HOME_IP)
    home = IPAllowlistEntry.objects.get(organization=org, cidr=HOME)
    with pytest.raises(actions.OwnersLockedOut) as refused:
        actions.remove_entries(org, [home.pk], actor=admin, actor_ip=OFFICE_IP)
    assert refused.value.message.startswith("Removing this entry would lock every owner out")
    assert IPAllowlistEntry.objects.filter(pk=home.pk).exists()
    office = IPAllowlistEntry.objects.get(organization=org, cidr=OFFICE)
    actions.remove_entries(org, [office.pk], actor=admin, actor_ip=HOME_IP)  # the owner keeps home
    assert list(IPAllowlistEntry.objects.filter(organization=org).values_list("cidr", flat=True)) == [HOME]


def test_a_change_that_takes_no_owner_access_away_is_not_refused(org, owner, admin):
    """Every owner seen lately was already outside: removing another entry locks out no one who was inside."""
    enable(org, owner, OFFICE, "192.0.2.0/24")
    seen_from(owner, HOME_IP)
    branch = IPAllowlistEntry.objects.get(organization=org, cidr="192.0.2.0/24")
    actions.remove_entries(org, [branch.pk], actor=admin, actor_ip=OFFICE_IP)
    assert not IPAllowlistEntry.objects.filter(pk=branch.pk).exists()


def test_the_refusal_names_the_recovery_accounts_that_bypass_the_list(org, owner, admin, office_list):
    account = recovery.designate(org, actor=owner, membership=Membership.objects.active().get(user=owner))
    recovery.generate_codes(account, actor=owner)
    with pytest.raises(actions.OwnersLockedOut) as refused:
        turn_on(org, admin)
    message = refused.value.message
    assert "recovery sign-in (a recovery code of this organization: owner@acme.test)" in message
    assert "may open the allowlist page alone to fix it" in message and "platform support" in message


def test_self_lockout_is_judged_first_and_unchanged(org, admin, office_list):
    with pytest.raises(actions.SelfLockout) as refused:
        turn_on(org, admin, actor_ip=HOME_IP)
    assert refused.value.code == "self_lockout" and refused.value.status == 409 and refused.value.ip == HOME_IP
    assert "would lock you out" in refused.value.message


def test_both_refusals_are_action_refusals_with_409(org, admin, office_list):
    with pytest.raises(ActionRefused) as refused:
        turn_on(org, admin)
    assert (refused.value.code, refused.value.status) == ("owners_locked_out", 409)


# --- the preview and the confirmation page ---------------------------------------------------------------


def test_the_preview_lists_the_owners_as_blocking_items(org, office_list):
    impact = preview_settings(org, enabled=True, scope="dashboard", actor_ip=OFFICE_IP)
    owners = impact.group("owners")
    assert [(item.name, item.blocking) for item in owners.items] == [("owner@acme.test", True)]
    assert HOME_IP in owners.items[0].detail
    assert [item.name for item in impact.blocking_items()] == ["owner@acme.test"]
    assert any(note.startswith("Refused: Turning on the allowlist") for note in impact.notes)


def test_the_preview_lists_no_blocker_when_an_owner_stays_inside(org, owner, office_list):
    seen_from(owner, OFFICE_IP)
    impact = preview_settings(org, enabled=True, scope="dashboard", actor_ip=OFFICE_IP)
    assert impact.group("owners").items == () and impact.blocking_items() == []
    assert not any(note.startswith("Refused:") for note in impact.notes)


def test_the_removal_preview_lists_the_blocker(org, owner):
    enable(org, owner, OFFICE, HOME)
    seen_from(owner, HOME_IP)
    home = IPAllowlistEntry.objects.get(organization=org, cidr=HOME)
    impact = preview_remove_entries(org, [home.pk], actor_ip=OFFICE_IP)
    assert [item.name for item in impact.blocking_items()] == ["owner@acme.test"]


def test_the_confirmation_page_shows_the_refusal_and_confirming_is_refused(client_at, org, owner, admin, office_list):
    client = client_at(admin, ip=OFFICE_IP)
    page = client.get(PAGE + "settings/confirm/", {"enabled": "on", "scope": "dashboard"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "This change would be refused" in html
    assert "Owners who could no longer reach the dashboard (1)" in html and "owner@acme.test" in html
    assert 'disabled aria-describedby="refusal">Turn it on</button>' in html  # not offered
    response = client.post(PAGE + "settings/confirm/", {"enabled": "on", "scope": "dashboard"})
    assert response.status_code == 302 and response["Location"] == PAGE
    assert "would lock every owner out of the dashboard" in client.get(PAGE).content.decode()
    assert not IPAllowlist.objects.get(organization=org).enabled
    json_response = client.post(
        PAGE + "settings/", {"enabled": "on", "scope": "dashboard"}, HTTP_ACCEPT="application/json"
    )
    assert json_response.status_code == 409
    assert json_response.json()["error"]["code"] == "owners_locked_out"
    seen_from(owner, OFFICE_IP)  # once an owner works from the office, the change is offered and goes through
    html = client.get(PAGE + "settings/confirm/", {"enabled": "on", "scope": "dashboard"}).content.decode()
    assert "This change would be refused" not in html and ">Turn it on</button>" in html and "disabled" not in html
    client.post(PAGE + "settings/confirm/", {"enabled": "on", "scope": "dashboard"})
    assert IPAllowlist.objects.get(organization=org).guards_dashboard


def test_the_removal_confirmation_page_shows_it_too(client_at, org, owner, admin):
    enable(org, owner, OFFICE, HOME)
    seen_from(owner, HOME_IP)
    home = IPAllowlistEntry.objects.get(organization=org, cidr=HOME)
    client = client_at(admin, ip=OFFICE_IP)
    html = client.get(PAGE + "entries/remove/confirm/", {"entry": home.pk}).content.decode()
    assert "This change would be refused" in html and "owner@acme.test" in html
    response = client.post(PAGE + "entries/remove/", {"entry": home.pk}, HTTP_ACCEPT="application/json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "owners_locked_out"
    assert IPAllowlistEntry.objects.filter(pk=home.pk).exists()
