"""Issuing keys: key material, who may hold what, restrictions validated, and the organization's key policy."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from keys import actions, tokens
from keys.models import APIKey
from orgsecurity.actions import ActionRefused
from tests.helpers.keys import issue


def refused(call, *args, **kwargs) -> ActionRefused:
    with pytest.raises(ActionRefused) as info:
        call(*args, **kwargs)
    return info.value


# --- key material ----------------------------------------------------------------------------------------


def test_a_token_has_a_scannable_prefix_a_checksum_and_is_stored_only_as_an_hmac(org, owner, acme, settings):
    key, token = issue(org, owner, project_ids=[acme.web.pk])
    assert len(token) == 52 and token.startswith("osk_") and token.startswith(key.prefix)
    assert tokens.parse(token).key_id == key.key_id
    stored = APIKey.objects.filter(pk=key.pk).values()[0]
    assert token not in json.dumps(stored, default=str)
    assert token[len(key.prefix) : -6] not in json.dumps(stored, default=str)  # nor the secret part
    assert key.secret_hash == tokens.hash_secret(token) and len(key.secret_hash) == 64
    settings.KEY_HASH_SECRET = b"another server-side secret, 32+ bytes long"
    assert tokens.hash_secret(token) != key.secret_hash  # the database alone cannot verify guesses


def test_every_token_is_different_and_every_checksum_catches_a_single_change(db):
    seen = {tokens.new_token(tokens.new_key_id()) for _ in range(200)}
    assert len(seen) == 200
    token = seen.pop()
    for position in range(4, len(token)):
        replacement = "0" if token[position] != "0" else "1"
        with pytest.raises(tokens.MalformedKey):
            tokens.parse(token[:position] + replacement + token[position + 1 :])


def test_creation_is_audited_with_the_prefix_and_never_the_secret(org, owner, acme):
    key, token = issue(org, owner, name="deploy", project_ids=[acme.web.pk], workloads=["ci"])
    event = AuditEvent.objects.get(action="key.created")
    assert event.details["prefix"] == key.prefix and event.target_label == f"{key.prefix} (deploy)"
    assert event.changes["projects"] == [None, [acme.web.pk]] and event.changes["workloads"] == [None, ["ci"]]
    recorded = json.dumps([event.changes, event.details, event.target_label, event.actor_label])
    assert token not in recorded and token[len(key.prefix) :] not in recorded


# --- who may hold what ------------------------------------------------------------------------------------


def test_owners_and_admins_may_hold_any_key(org, owner, admin, acme):
    issue(org, owner, permission="read_write")
    issue(org, admin, permission="read_write", project_ids=[acme.warehouse.pk])


def test_members_hold_read_only_keys_for_their_own_teams_projects(org, member, acme):
    key, _ = issue(org, member, project_ids=[acme.web.pk, acme.mobile.pk])
    assert key.permission == "read"
    issue(org, member, team_ids=[acme.platform.pk])
    assert refused(issue, org, member, project_ids=[acme.web.pk], permission="read_write").status == 403
    assert "read-only" in refused(issue, org, member, project_ids=[acme.web.pk], permission="read_write").message
    assert "restricted to projects or teams" in refused(issue, org, member).message
    assert "teams the member is on" in refused(issue, org, member, project_ids=[acme.warehouse.pk]).message
    assert "teams the member is on" in refused(issue, org, member, team_ids=[acme.data.pk]).message


@pytest.mark.parametrize("persona", ["billing_user", "auditor"])
def test_billing_and_auditor_roles_hold_no_keys(org, acme, persona, request):
    user = request.getfixturevalue(persona)
    problem = refused(issue, org, user, project_ids=[acme.web.pk])
    assert problem.status == 403 and "cannot hold API keys" in problem.message


def test_outsiders_cannot_issue_keys(org, outsider, acme):
    assert refused(issue, org, outsider).code == "not_member"


def test_only_owners_and_admins_issue_service_account_keys(org, owner, member, acme):
    account = actions.create_service_account(org, actor=owner, name="ci-bot")
    key, _ = issue(org, owner, service_account=account, project_ids=[acme.web.pk], permission="read_write")
    assert key.owner_user is None and key.owner_display == "ci-bot (service account)"
    assert refused(issue, org, member, service_account=account, project_ids=[acme.web.pk]).status == 403
    assert refused(actions.create_service_account, org, actor=member, name="sneaky").status == 403


def test_restrictions_must_belong_to_the_organization(org, owner, acme, globex_project):
    assert refused(issue, org, owner, project_ids=[globex_project.pk]).code == "bad_project"
    assert refused(issue, org, owner, team_ids=[globex_project.team_id]).code == "bad_team"
    assert refused(issue, org, owner, project_ids=["web"]).code == "bad_project"
    assert refused(issue, org, owner, workloads=["nightly"]).code == "bad_workload"
    problem = refused(issue, org, owner, team_ids=[acme.platform.pk], project_ids=[acme.warehouse.pk])
    assert "could never use it" in problem.message


@pytest.mark.parametrize(
    ("cidrs", "expected"),
    [
        (["10.0.0.0/8", " 192.0.2.7 ", "10.0.0.0/8", "2001:db8::/32"], ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]),
        ([""], []),
    ],
)
def test_cidrs_are_normalised(org, owner, acme, cidrs, expected):
    key, _ = issue(org, owner, allowed_cidrs=cidrs)
    assert key.allowed_cidrs == expected


def test_bad_cidrs_are_refused_with_a_hint(org, owner, acme):
    assert refused(issue, org, owner, allowed_cidrs=["10.1.2.3/8"]).message == (
        "10.1.2.3/8 has host bits set; did you mean 10.0.0.0/8?"
    )
    assert "not an IP address" in refused(issue, org, owner, allowed_cidrs=["intranet"]).message
    assert refused(issue, org, owner, allowed_cidrs=[f"10.0.{i}.0/24" for i in range(51)]).code == "bad_cidr"


def test_an_oversized_network_list_is_refused_without_reading_it_all(org, owner, acme):
    # Attack: paste 200,000 distinct addresses as a key's networks. Every one was parsed and checked against the
    # list so far (quadratic: about 10 s of CPU at 40,000) before the count was looked at.
    read = []

    def addresses():
        for number in range(200_000):
            read.append(number)
            yield f"10.{number >> 16}.{(number >> 8) & 255}.{number & 255}"

    assert refused(issue, org, owner, allowed_cidrs=addresses()).message == "A key may list at most 50 networks."
    assert len(read) <= actions.MAX_CIDRS + 1
    # Repeats do not count against the limit.
    key, _ = issue(org, owner, allowed_cidrs=["10.0.0.0/8"] * 500)
    assert key.allowed_cidrs == ["10.0.0.0/8"]


def test_names_and_expiry_are_checked(org, owner, acme):
    assert refused(issue, org, owner, name="  ").code == "bad_name"
    assert refused(issue, org, owner, expires_at=timezone.now() - timedelta(minutes=1)).code == "bad_expiry"
    assert refused(issue, org, owner, permission="admin").code == "bad_permission"
    assert not APIKey.objects.exists()


def test_rotation_overlap_is_limited_to_seven_days(org, owner, acme):
    key, _ = issue(org, owner)
    assert refused(actions.rotate_api_key, key, actor=owner, overlap=timedelta(days=7, seconds=1)).code == (
        "bad_overlap"
    )
    assert refused(actions.rotate_api_key, key, actor=owner, overlap=timedelta(seconds=-1)).code == "bad_overlap"
    actions.rotate_api_key(key, actor=owner, overlap=timedelta(days=7))
    event = AuditEvent.objects.get(action="key.rotated")
    assert event.details["overlap_seconds"] == 7 * 86400 and event.details["prefix"] == key.prefix


# --- the organization's key policy ------------------------------------------------------------------------


def test_only_owners_set_the_key_policy(org, owner, admin):
    assert (
        refused(
            actions.set_key_policy,
            org,
            actor=admin,
            require_expiry=True,
            max_lifetime_days=None,
            allow_unrestricted=True,
        ).status
        == 403
    )
    changes = actions.set_key_policy(
        org, actor=owner, require_expiry=False, max_lifetime_days=90, allow_unrestricted=False
    )
    assert changes["max_lifetime_days"] == [None, 90] and changes["require_expiry"] == [None, True]
    assert AuditEvent.objects.filter(action="key.policy_updated").count() == 1
    assert (
        actions.set_key_policy(org, actor=owner, require_expiry=True, max_lifetime_days=90, allow_unrestricted=False)
        == {}
    )


def test_the_policy_governs_new_keys(org, owner, acme):
    actions.set_key_policy(org, actor=owner, require_expiry=True, max_lifetime_days=30, allow_unrestricted=False)
    soon = timezone.now() + timedelta(days=29)
    assert refused(issue, org, owner, project_ids=[acme.web.pk]).code == "expiry_required"
    assert refused(
        issue, org, owner, project_ids=[acme.web.pk], expires_at=timezone.now() + timedelta(days=31)
    ).code == ("lifetime_too_long")
    assert refused(issue, org, owner, expires_at=soon).code == "unrestricted_not_allowed"
    assert refused(issue, org, owner, expires_at=soon, allowed_cidrs=["10.0.0.0/8"]).code == (
        "unrestricted_not_allowed"
    )  # a network limit says where from, not what it reaches
    issue(org, owner, project_ids=[acme.web.pk], expires_at=soon)
    issue(org, owner, workloads=["ci"], expires_at=soon)


def test_workload_and_service_account_names_are_unique_per_org(org, owner, acme, other_org, outsider):
    assert refused(actions.create_workload, org, actor=owner, name="ci").code == "name_taken"
    assert refused(actions.create_workload, org, actor=owner, name="Not A Slug").code == "bad_name"
    actions.create_workload(other_org, actor=outsider, name="ci")  # another org may use the same name
