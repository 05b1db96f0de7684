"""The session policy page: owners and admins read it in words and change it within bounds, audited."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from orgsecurity.accessors import OrgContext
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Membership, Organization
from sessions_policy import actions, summary
from sessions_policy.models import SessionPolicy
from sessions_policy.rules import SessionRules, format_duration, strictest

URL = "/orgs/acme/settings/security/sessions/"


def form(idle=("2", "hours"), absolute=("10", "hours"), reauth=("10", "minutes"), single=False) -> dict[str, str]:
    data = {
        "idle_timeout_s_0": idle[0],
        "idle_timeout_s_1": idle[1],
        "absolute_timeout_s_0": absolute[0],
        "absolute_timeout_s_1": absolute[1],
        "reauth_max_age_s_0": reauth[0],
        "reauth_max_age_s_1": reauth[1],
    }
    if single:
        data["single_session"] = "on"
    return data


def test_it_checks_access(client_for, owner, admin, member, auditor, outsider):
    assert client_for(owner).get(URL).status_code == 200
    assert client_for(admin).get(URL).status_code == 200
    assert client_for(member).get(URL).status_code == 403
    assert client_for(auditor).get(URL).status_code == 403
    assert client_for(outsider).get(URL).status_code == 404
    assert client_for(None).get(URL).status_code == 302
    assert client_for(member).post(URL, form()).status_code == 403
    assert client_for(outsider).post(URL, form()).status_code == 404
    assert not SessionPolicy.objects.exists()


def test_the_defaults_are_shown_in_words(client_for, owner):
    response = client_for(owner).get(URL)
    assert b"The defaults (not changed yet)" in response.content
    assert b"Members are signed out after 30 minutes without activity." in response.content
    assert b"Every session ends 12 hours after signing in, however active." in response.content
    assert b"Members may be signed in on several devices and browsers at once." in response.content


def test_an_admin_saves_a_policy_and_the_change_is_audited_with_old_and_new_values(client_for, admin):
    client = client_for(admin)
    response = client.post(URL, form(single=True))
    assert response.status_code == 302
    policy = SessionPolicy.objects.get(organization__slug="acme")
    assert (policy.idle_timeout_s, policy.absolute_timeout_s, policy.reauth_max_age_s, policy.single_session) == (
        7200,
        36000,
        600,
        True,
    )
    page = client.get(URL)
    assert b"Session policy saved." in page.content
    assert b"Members are signed out after 2 hours without activity." in page.content
    assert b"a new sign-in ends the older sessions" in page.content
    # The form shows the saved values in their natural units.
    assert b'name="idle_timeout_s_0" value="2"' in page.content
    event = AuditEvent.objects.get(action="session.policy_updated")
    assert event.actor_label == admin.email
    assert event.changes == {
        "idle_timeout_s": [1800, 7200],
        "absolute_timeout_s": [43200, 36000],
        "reauth_max_age_s": [900, 600],
        "single_session": [False, True],
    }
    assert event.sentence == (
        "admin@acme.test changed the session policy: idle timeout 30 minutes → 2 hours; absolute lifetime "
        "12 hours → 10 hours; re-authentication window 15 minutes → 10 minutes; single session off → on"
    )


def test_saving_the_same_values_records_nothing(client_for, owner):
    client = client_for(owner)
    client.post(URL, form())
    response = client.post(URL, form())
    assert response.status_code == 302
    assert b"Nothing changed." in client.get(URL).content
    assert AuditEvent.objects.filter(action="session.policy_updated").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (form(idle=("4", "minutes")), b"Choose between 5 minutes and 30 days."),
        (form(idle=("31", "days"), absolute=("14", "days")), b"Choose between 5 minutes and 30 days."),
        (form(idle=("3", "hours"), absolute=("2", "hours")), b"cannot be shorter than the idle timeout (3 hours)"),
        (form(absolute=("15", "days")), b"Choose between 1 hour and 14 days."),
        (form(absolute=("30", "minutes"), idle=("10", "minutes")), b"Choose between 1 hour and 14 days."),
        (form(reauth=("13", "hours")), b"Choose between 1 minute and 12 hours."),
        (form(idle=("two", "hours")), b"Enter a whole number."),
        (form(idle=("", "hours")), b"This field is required."),
        (form(idle=("2", "fortnights")), b"Select a valid choice."),
        (form(idle=("99999999999", "days")), b"Ensure this value is less than or equal to"),
    ],
)
def test_values_out_of_bounds_are_refused_next_to_the_field_and_nothing_is_saved(client_for, owner, data, message):
    response = client_for(owner).post(URL, data)
    assert response.status_code == 400
    assert message in response.content
    assert not SessionPolicy.objects.exists()
    assert not AuditEvent.objects.filter(action="session.policy_updated").exists()


def test_the_action_enforces_bounds_and_roles_itself(owner, member, org):
    with pytest.raises(ActionRefused, match="cannot be shorter than the idle timeout"):
        actions.update_session_policy(
            org, actor=owner, idle_timeout_s=7200, absolute_timeout_s=3600, reauth_max_age_s=600, single_session=False
        )
    with pytest.raises(ActionRefused, match=r"between 1 hour and 14 days \(the longest session this site allows\)"):
        actions.update_session_policy(
            org,
            actor=owner,
            idle_timeout_s=7200,
            absolute_timeout_s=15 * 86400,
            reauth_max_age_s=600,
            single_session=False,
        )
    with pytest.raises(ActionRefused, match="Only owners and admins") as refused:
        actions.update_session_policy(
            org, actor=member, idle_timeout_s=7200, absolute_timeout_s=7200, reauth_max_age_s=600, single_session=False
        )
    assert refused.value.status == 403
    assert not SessionPolicy.objects.exists()


def test_the_dashboard_status_line(owner, org):
    context = OrgContext(org, Membership.objects.get(user=owner))
    assert summary.status(context) == (
        "Defaults: Signed out after 30 minutes idle or 12 hours; re-authentication after 15 minutes"
    )
    actions.update_session_policy(
        org, actor=owner, idle_timeout_s=900, absolute_timeout_s=8 * 3600, reauth_max_age_s=300, single_session=True
    )
    assert summary.status(context) == (
        "Signed out after 15 minutes idle or 8 hours; re-authentication after 5 minutes; one session per member"
    )


def test_the_security_dashboard_shows_the_status(client_for, owner):
    assert (
        b"Defaults: Signed out after 30 minutes idle" in client_for(owner).get("/orgs/acme/settings/security/").content
    )


def test_durations_read_naturally():
    assert format_duration(1800) == "30 minutes"
    assert format_duration(3600) == "1 hour"
    assert format_duration(5400) == "1 hour 30 minutes"
    assert format_duration(2 * 86400) == "2 days"
    assert format_duration(61) == "1 minute 1 second"


def test_the_strictest_rules_take_the_shortest_limits_and_any_single_session():
    loose = SessionRules(8 * 3600, 86400, 3600, False)
    tight = SessionRules(900, 43200, 300, True)
    assert strictest([loose, tight]) == SessionRules(900, 43200, 300, True)
    assert strictest([]) == SessionRules.defaults()


def test_the_database_refuses_a_policy_out_of_bounds(org):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        SessionPolicy.objects.create(organization=org, idle_timeout_s=60)
    with pytest.raises(IntegrityError), transaction.atomic():
        SessionPolicy.objects.create(organization=org, idle_timeout_s=7200, absolute_timeout_s=3600)
    assert Organization.objects.get(pk=org.pk)


def _loaded_version(page: str) -> str:
    import re

    match = re.search(r'name="loaded_version" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def test_saving_over_a_change_made_meanwhile_is_refused_and_says_what_changed(client_for, owner, admin, org):
    client = client_for(owner)
    version = _loaded_version(client.get(URL).content.decode())
    confirm = client.get(f"{URL}confirm/", {**form(), "loaded_version": version}).content.decode()
    assert f'name="loaded_version" value="{version}"' in confirm  # carried on to the form that saves
    # Meanwhile an admin turns on one session per member.
    client_for(admin).post(URL, form(single=True))
    assert SessionPolicy.objects.get(organization=org).single_session
    stale = client.post(URL, {**form(idle=("30", "minutes")), "loaded_version": version})
    assert stale.status_code == 302 and stale["Location"] == URL
    page = client.get(URL).content.decode()
    assert "changed since you opened this page" in page
    assert "One session per member: a new sign-in ends the member&#x27;s older sessions: off → on" in page
    saved = SessionPolicy.objects.get(organization=org)
    assert saved.single_session and saved.idle_timeout_s == 2 * 3600  # the admin's change stands, ours is not saved
    assert AuditEvent.objects.filter(action="session.policy_updated").count() == 1
    # From the page as it is now, the change saves.
    again = client.post(URL, {**form(idle=("30", "minutes"), single=True), "loaded_version": _loaded_version(page)})
    assert again.status_code == 302
    assert SessionPolicy.objects.get(organization=org).idle_timeout_s == 1800


def test_a_stale_save_names_the_changed_durations_in_words(client_for, owner, admin, org):
    """The walkthrough saw "Re-authentication window (seconds): 900 → 1200" on a page that speaks in minutes."""
    client = client_for(owner)
    version = _loaded_version(client.get(URL).content.decode())
    client_for(admin).post(URL, form(idle=("45", "minutes")))
    client.post(URL, {**form(idle=("30", "minutes")), "loaded_version": version})
    page = client.get(URL).content.decode()
    assert "changed since you opened this page" in page
    assert "30 minutes → 45 minutes" in page and "12 hours → 10 hours" in page
    assert "(seconds)" not in page and "1800" not in page
