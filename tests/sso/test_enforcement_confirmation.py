"""Enforcing SSO (now or scheduled) goes through a confirmation page that shows what it does and asks for the typed
slug, and it is refused while an owner or admin would be locked out unless each is acknowledged by name (issue 10,
item 2: the checklist said "done" while naming an admin who "cannot sign in once SSO is enforced", "Enforce SSO now"
had no confirmation, and that admin was refused at sign-in).

In the ``ready`` organization the owner is a recovery account with codes and the member is linked; ``admin`` (when a
test asks for it) is neither: enforcing would lock them out.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from keys.actions import create_api_key
from keys.models import APIKey
from orgsecurity.models import Membership
from orgsecurity.roles import Role
from sso.connections import actions
from sso.connections.actions import EnforcementRefused
from sso.models import SSOConnection
from sso.recovery import accounts as recovery
from sso.rollout import readiness
from sso.rollout import scheduling as rollout
from tests.helpers.core import add_member, make_user, sign_in_client, sign_in_through_sso
from tests.helpers.sso import link_identity

BASE = "/orgs/acme/settings/security/sso/"
CONFIRM = {"confirm_slug": "acme", "support_contact": "it-help@acme.test"}


def enforce_url(connection: SSOConnection) -> str:
    return f"{BASE}{connection.pk}/rollout/enforce/"


def schedule_url(connection: SSOConnection) -> str:
    return f"{BASE}{connection.pk}/rollout/schedule/"


def status_of(connection: SSOConnection) -> str:
    return SSOConnection.objects.get(pk=connection.pk).status


def in_days(days: float):
    return timezone.now() + timedelta(days=days)


# --- the preview: one function lists who, which keys, which sessions ---------------------------------------------


def test_the_preview_lists_people_keys_and_sessions(ready, owner, admin, member, org):
    billy = make_user("billy@acme.test")
    add_member(org, billy, Role.BILLING)
    create_api_key(org, actor=admin, name="deploy-bot")
    admin_browser = sign_in_client(Client(), admin)  # a password session: it ends
    sign_in_client(Client(), owner, method="recovery")  # a recovery session not of acme's: it ends too
    sign_in_through_sso(Client(), member, ready.connection)  # signed in through acme's IdP: it stays
    assert admin_browser is not None

    impact = rollout.preview_enforcement(ready.connection)

    people = impact.group("people")
    assert [item.name for item in people.items] == ["admin@acme.test", "billy@acme.test"]  # not owner, not member
    assert [item.name for item in impact.blockers()] == ["admin@acme.test"]  # billing is linked on first SSO sign-in
    assert impact.blockers([str(admin.pk)]) == []
    assert [item.name for item in impact.group("keys").items] == ["deploy-bot"]
    assert "admin@acme.test's key" in impact.group("keys").items[0].detail
    sessions = impact.group("sessions").items
    assert sorted(item.name for item in sessions) == ["admin@acme.test", "owner@acme.test"]
    assert "Password sign-in" in next(item.detail for item in sessions if item.name == "admin@acme.test")


def test_the_preview_has_a_json_form_for_the_api(ready, owner, admin):
    shape = rollout.preview_enforcement(ready.connection).as_dict()
    assert json.loads(json.dumps(shape)) == shape
    people = next(group for group in shape["groups"] if group["key"] == "people")
    assert people["count"] == 1
    assert people["items"] == [
        {
            "ref": str(admin.pk),
            "name": "admin@acme.test",
            "detail": "Admin: an owner or admin, locked out",
            "blocking": True,
        }
    ]


def test_the_preview_lists_the_keys_enforcement_flags(ready, owner, admin, org):
    """The page and the action use one definition: what the preview lists is exactly what gets flagged."""
    create_api_key(org, actor=admin, name="deploy-bot")
    create_api_key(org, actor=owner, name="expired", expires_at=timezone.now() + timedelta(seconds=1))
    APIKey.objects.filter(name="expired").update(expires_at=timezone.now() - timedelta(days=1))
    listed = {item.ref for item in rollout.preview_enforcement(ready.connection).group("keys").items}
    actions.set_status(ready.connection, actor=owner, status="enforced", acknowledged=[admin.pk])
    assert listed == set(APIKey.objects.exclude(flagged_at=None).values_list("key_id", flat=True))
    assert len(listed) == 1


def test_linking_a_recovery_account_or_an_exception_each_removes_the_blocker(ready, owner, admin, org):
    def blockers():
        return [item.name for item in rollout.preview_enforcement(ready.connection).blockers()]

    assert blockers() == ["admin@acme.test"]
    linked = link_identity(ready.connection, admin, "adam-1")
    assert blockers() == []
    actions.unlink_identity(linked, actor=owner)
    account = recovery.designate(org, actor=owner, membership=Membership.objects.get(user=admin))
    assert blockers() == ["admin@acme.test"]  # a recovery account without unused codes cannot get in
    recovery.generate_codes(account, actor=admin)
    assert blockers() == []
    recovery.remove(account, actor=owner)
    rollout.add_password_exception(
        ready.connection, actor=owner, membership=Membership.objects.get(user=admin), reason="break-glass"
    )
    assert blockers() == []


def test_a_recovery_account_without_codes_is_no_way_in(connection, owner, org):
    """Designated but with no code yet, an owner could not sign in: no recovery guard passes on it."""
    recovery.designate(org, actor=owner, membership=Membership.objects.get(user=owner))
    assert not readiness.usable_recovery_accounts(org).exists()
    with pytest.raises(EnforcementRefused) as refused:
        actions.set_status(connection, actor=owner, status="enforced")
    codes = {problem.code for problem in refused.value.problems}
    assert {"no_recovery_account", "admins_locked_out"} <= codes


# --- the action refuses an unacknowledged lockout ----------------------------------------------------------------


def test_enforcement_is_refused_while_an_admin_would_be_locked_out(ready, owner, admin):
    with pytest.raises(EnforcementRefused) as refused:
        actions.set_status(ready.connection, actor=owner, status="enforced")
    assert refused.value.code == "admins_locked_out" and refused.value.status == 409
    assert "admin@acme.test" in refused.value.message
    assert status_of(ready.connection) == "on"
    event = AuditEvent.objects.get(action="sso.enforcement_refused")
    assert event.details["reasons"] == ["admins_locked_out"]
    assert not AuditEvent.objects.filter(action="key.flagged_for_review").exists()


def test_an_owner_locked_out_blocks_too_and_the_code_says_not_ready_with_other_reasons(ready, owner, admin):
    link_identity(ready.connection, admin, "adam-1")
    second = make_user("otto@acme.test")
    add_member(ready.connection.organization, second, Role.OWNER)
    with pytest.raises(EnforcementRefused, match=r"otto@acme\.test") as refused:
        actions.set_status(ready.connection, actor=owner, status="enforced")
    assert refused.value.code == "admins_locked_out"
    rollout.confirm_fallback_policy(ready.connection, actor=owner)
    rollout.add_password_exception(
        ready.connection, actor=owner, membership=Membership.objects.get(user=admin), reason="x"
    )  # the policy changed since it was confirmed: a second reason
    with pytest.raises(EnforcementRefused) as refused:
        actions.set_status(ready.connection, actor=owner, status="enforced")
    assert refused.value.code == "not_ready"
    assert {problem.code for problem in refused.value.problems} == {"fallback_not_confirmed", "admins_locked_out"}


def test_an_acknowledged_admin_is_audited_by_name(ready, owner, admin, member):
    stranger = make_user("stranger@elsewhere.test")
    connection = actions.set_status(
        ready.connection, actor=owner, status="enforced", acknowledged=[admin.pk, member.pk, stranger.pk]
    )
    assert connection.status == "enforced"
    event = AuditEvent.objects.filter(action="sso.status_changed").latest("seq")
    assert event.changes == {"status": ["on", "enforced"]}
    assert event.details["acknowledged_lockouts"] == ["admin@acme.test"]  # only who is actually locked out


def test_enforcing_now_emails_every_member_as_scheduling_does(
    ready, owner, admin, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        actions.set_status(
            ready.connection, actor=owner, status="enforced", acknowledged=[admin.pk], support_contact="it@acme.test"
        )
    assert sorted(message.to[0] for message in mail.outbox) == sorted([owner.email, admin.email, member.email])
    message = mail.outbox[0]
    assert message.subject.startswith("Acme Inc. requires single sign-on from now on (")
    assert "requires single sign-on (SSO) from now on" in message.body
    assert "Contact: it@acme.test" in message.body
    assert "/orgs/acme/settings/security/sso/" in message.body


def test_a_refused_enforcement_emails_nobody(ready, owner, admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(EnforcementRefused):
        actions.set_status(ready.connection, actor=owner, status="enforced")
    assert mail.outbox == []


# --- the checklist --------------------------------------------------------------------------------------------


def test_the_checklist_says_needs_attention_not_done_while_an_admin_would_be_locked_out(ready, owner, admin):
    item = next(item for item in readiness.checklist(ready.connection, actor=owner) if item.key == "fallback")
    assert item.state == "needs attention" and not item.done
    assert "admin@acme.test" in item.detail
    link_identity(ready.connection, admin, "adam-1")
    item = next(item for item in readiness.checklist(ready.connection, actor=owner) if item.key == "fallback")
    assert item.state == "done" and "admin@acme.test" not in item.detail


def test_the_rollout_page_shows_needs_attention_and_leads_to_the_confirmation(client_for, ready, owner, admin):
    page = client_for(owner).get(f"{BASE}{ready.connection.pk}/rollout/").content.decode()
    assert "⚠ needs attention" in page and "✔ done</td>\n        <td>Confirmed" not in page
    assert "These owners and admins would be locked out: admin@acme.test" in page
    assert f'href="{enforce_url(ready.connection)}" role="button">Enforce SSO now…' in page
    assert f'method="get" action="{schedule_url(ready.connection)}"' in page


# --- the confirmation page --------------------------------------------------------------------------------------


def test_the_confirmation_page_lists_the_impact_and_changes_nothing(client_for, ready, owner, admin, org):
    create_api_key(org, actor=admin, name="deploy-bot")
    sign_in_client(Client(), admin)
    client = client_for(owner)
    before = AuditEvent.objects.count()
    response = client.get(enforce_url(ready.connection))
    assert response.status_code == 200
    text = response.content.decode()
    assert "People who lose password sign-in and have no linked identity (1)" in text
    assert "admin@acme.test" in text and "an owner or admin, locked out" in text
    assert "API keys flagged for review (1)" in text and "deploy-bot" in text
    assert "Sessions that end (2)" in text  # the admin's and the owner's own password session
    assert "I accept that admin@acme.test is locked out" in text
    assert "Type the organization&#x27;s slug to confirm" in text
    assert AuditEvent.objects.count() == before and status_of(ready.connection) == "on"
    assert "no-store" in response["Cache-Control"]


def test_a_wrong_slug_is_refused_and_nothing_changes(client_for, ready, owner):
    before = AuditEvent.objects.count()
    for typed in ("", "ACME", "globex", "acme-inc"):
        response = client_for(owner).post(enforce_url(ready.connection), {**CONFIRM, "confirm_slug": typed})
        assert response.status_code == 400, typed
        assert status_of(ready.connection) == "on"
    assert b"exactly to confirm" in response.content
    assert AuditEvent.objects.count() == before + 4  # the four sign-ins of client_for, nothing else


def test_an_unacknowledged_admin_blocks_the_page_until_acknowledged(client_for, ready, owner, admin):
    client = client_for(owner)
    response = client.post(enforce_url(ready.connection), CONFIRM)
    assert response.status_code == 409
    assert "These owners and admins would be locked out: admin@acme.test" in response.content.decode()
    assert status_of(ready.connection) == "on"
    response = client.post(enforce_url(ready.connection), {**CONFIRM, "acknowledge": [str(admin.pk)]})
    assert response.status_code == 302 and response["Location"] == f"{BASE}{ready.connection.pk}/rollout/"
    assert status_of(ready.connection) == "enforced"
    assert SSOConnection.objects.get(pk=ready.connection.pk).support_contact == "it-help@acme.test"
    event = AuditEvent.objects.filter(action="sso.status_changed").latest("seq")
    assert event.details["acknowledged_lockouts"] == ["admin@acme.test"] and event.actor_label == owner.email


def test_an_admin_confirms_too(client_for, ready, owner, admin):
    link_identity(ready.connection, admin, "adam-1")
    run = actions.start_test_run(ready.connection, actor=admin)
    actions.finish_test_run(run, actor=admin, success=True, details={})
    assert client_for(admin).post(enforce_url(ready.connection), CONFIRM).status_code == 302
    assert status_of(ready.connection) == "enforced"


def test_acknowledging_someone_who_is_not_listed_is_refused(client_for, ready, owner, member):
    response = client_for(owner).post(enforce_url(ready.connection), {**CONFIRM, "acknowledge": [str(member.pk)]})
    assert response.status_code == 400 and status_of(ready.connection) == "on"


def test_the_support_contact_is_checked(client_for, ready, owner):
    response = client_for(owner).post(enforce_url(ready.connection), {**CONFIRM, "support_contact": "javascript:x"})
    assert response.status_code == 400 and b"Enter an email address or an https:// URL" in response.content


# --- scheduled enforcement goes through the same page ------------------------------------------------------------


def schedule_query(days: float = 3) -> dict:
    return {"enforce_at": in_days(days).strftime("%Y-%m-%dT%H:%M"), "support_contact": "it-help@acme.test"}


def test_the_schedule_form_leads_to_the_confirmation_page(client_for, ready, owner, admin):
    response = client_for(owner).get(schedule_url(ready.connection), schedule_query())
    assert response.status_code == 200
    text = response.content.decode()
    assert "Confirm scheduled SSO enforcement" in text and "I accept that admin@acme.test is locked out" in text
    assert schedule_query()["enforce_at"] in text  # the chosen date, to confirm
    assert SSOConnection.objects.get(pk=ready.connection.pk).enforce_at is None
    response = client_for(owner).get(schedule_url(ready.connection), {**schedule_query(), "enforce_at": "soon"})
    assert response.status_code == 400 and b"Enforce from (UTC)" in response.content  # the rollout page, its errors


def test_scheduling_is_refused_until_the_admin_is_acknowledged(client_for, ready, owner, admin):
    payload = {**schedule_query(), "confirm_slug": "acme"}
    response = client_for(owner).post(schedule_url(ready.connection), payload)
    assert response.status_code == 409 and b"would lock out admin@acme.test" in response.content
    assert SSOConnection.objects.get(pk=ready.connection.pk).enforce_at is None
    with pytest.raises(actions.ActionRefused) as refused:
        rollout.schedule_enforcement(ready.connection, actor=owner, enforce_at=in_days(2), support_contact="h@x.test")
    assert refused.value.code == "admins_locked_out"
    response = client_for(owner).post(schedule_url(ready.connection), {**payload, "acknowledge": [str(admin.pk)]})
    assert response.status_code == 302
    connection = SSOConnection.objects.get(pk=ready.connection.pk)
    assert connection.enforcement_acknowledged == [{"user_id": admin.pk, "email": "admin@acme.test"}]
    event = AuditEvent.objects.get(action="sso.enforcement_scheduled")
    assert event.details["acknowledged_lockouts"] == ["admin@acme.test"]
    item = next(item for item in readiness.checklist(connection, actor=owner) if item.key == "fallback")
    assert item.state == "done"  # acknowledged by name with this date, and said so
    assert "Acknowledged by name to lose access with the scheduled enforcement: admin@acme.test." in item.detail


def time_passes(connection: SSOConnection) -> None:
    SSOConnection.objects.filter(pk=connection.pk).update(enforce_at=timezone.now() - timedelta(seconds=1))


def test_a_scheduled_enforcement_takes_effect_with_the_acknowledged_admin(ready, owner, admin):
    rollout.schedule_enforcement(
        ready.connection, actor=owner, enforce_at=in_days(1), support_contact="h@acme.test", acknowledged=[admin.pk]
    )
    time_passes(ready.connection)
    assert len(rollout.apply_due_enforcements()) == 1
    assert status_of(ready.connection) == "enforced"
    event = AuditEvent.objects.filter(action="sso.status_changed").latest("seq")
    assert event.details["via"] == "scheduled" and event.details["acknowledged_lockouts"] == ["admin@acme.test"]
    assert SSOConnection.objects.get(pk=ready.connection.pk).enforcement_acknowledged == []


def test_someone_locked_out_after_the_acknowledgement_postpones_it(
    ready, owner, admin, org, django_capture_on_commit_callbacks
):
    rollout.schedule_enforcement(
        ready.connection, actor=owner, enforce_at=in_days(1), support_contact="h@acme.test", acknowledged=[admin.pk]
    )
    newcomer = make_user("nina@acme.test")
    add_member(org, newcomer, Role.ADMIN)  # made an admin after the date was confirmed; not linked
    time_passes(ready.connection)
    with django_capture_on_commit_callbacks(execute=True):
        assert len(rollout.apply_due_enforcements()) == 1
    connection = SSOConnection.objects.get(pk=ready.connection.pk)
    assert connection.status == "on" and connection.enforcement_postponed_at is not None
    (reason,) = connection.enforcement_postponed_reasons
    assert "nina@acme.test" in reason and "admin@acme.test" not in reason
    (notice,) = mail.outbox[-1:]
    assert notice.to == [owner.email] and "nina@acme.test" in notice.body


def test_cancelling_the_date_drops_the_acknowledgements(ready, owner, admin):
    rollout.schedule_enforcement(
        ready.connection, actor=owner, enforce_at=in_days(1), support_contact="h@acme.test", acknowledged=[admin.pk]
    )
    rollout.cancel_scheduled_enforcement(ready.connection, actor=owner)
    connection = SSOConnection.objects.get(pk=ready.connection.pk)
    assert connection.enforcement_acknowledged == []
    with pytest.raises(EnforcementRefused, match=r"admin@acme\.test"):
        actions.set_status(connection, actor=owner, status="enforced")
