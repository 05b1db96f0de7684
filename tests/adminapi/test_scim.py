"""SCIM over the admin API: tokens (the secret once, never in a replay or a listing; revoke) and group mappings (a
change that changes roles needs the previewed confirmation), owners' personal keys only, as on the page."""

from __future__ import annotations

import pytest

from audit.models import ActorType, AuditEvent
from keys import actions as key_actions
from orgsecurity.models import Membership, Team
from orgsecurity.roles import Role
from scim.models import GroupMapping, ScimGroup, ScimToken, ScimUser
from sso.connections import actions as sso_actions
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key
from tests.helpers.scim import ScimClient

TOKENS = "/api/v1/orgs/acme/scim/tokens"
MAPPINGS = "/api/v1/orgs/acme/scim/mappings"
WRITE = ["security:read", "security:write"]


@pytest.fixture
def connection(org, owner):
    return sso_actions.create_connection(org, actor=owner, protocol="saml", name="Entra ID")


@pytest.fixture
def writer(org, owner):
    allow_api_changes(org, owner)
    return scoped_key(org, owner, WRITE)


def test_it_checks_access(org, owner, admin, member, other_org, outsider, connection):
    allow_api_changes(org, owner)
    body = {"connection_id": connection.pk}
    _, owners = scoped_key(org, owner, WRITE)
    assert call("GET", TOKENS, owners).status_code == 200
    assert call("POST", TOKENS, owners, body).status_code == 201
    # Admins read; only owners change SCIM set-up (the page's rule, inside the action: 403 owner_only).
    _, admins = scoped_key(org, admin, WRITE)
    assert call("GET", TOKENS, admins).status_code == 200
    refused = call("POST", TOKENS, admins, body)
    assert refused.status_code == 403 and error_code(refused) == "owner_only"
    # A service account's key acts as an admin, even one an owner gave write scopes.
    account = key_actions.create_service_account(org, actor=owner, name="terraform")
    _, service = scoped_key(org, owner, WRITE, service_account=account)
    refused = call("POST", TOKENS, service, body)
    assert refused.status_code == 403 and error_code(refused) == "owner_only"
    refused = call("POST", MAPPINGS, service, {"group_ref": "Ops", "role": "member"})
    assert refused.status_code == 403 and error_code(refused) == "owner_only"
    assert ScimToken.objects.filter(organization=org).count() == 1
    # A member's key is refused by role; an auditor's key (its owner demoted) by its owner's role.
    team = Team.objects.create(organization=org, slug="platform", name="Platform")
    team.members.add(Membership.objects.get(user=member, organization=org))
    _, members = key_actions.create_api_key(
        org, actor=member, name="mine", permission="read", team_ids=[team.pk], scopes=["security:read"]
    )
    assert error_code(call("GET", TOKENS, members)) == "role_not_allowed"
    Membership.objects.filter(user=admin).update(role=Role.AUDITOR)
    assert call("GET", TOKENS, admins).status_code == 403
    # Another organization's path is a 404; a missing scope and the API switch are refused before anything.
    assert error_code(call("GET", "/api/v1/orgs/globex/scim/tokens", owners)) == "not_found"
    _, audit_only = scoped_key(org, owner, ["audit:read"])
    assert error_code(call("GET", MAPPINGS, audit_only)) == "scope_missing"
    key_actions.set_api_security_changes(org, actor=owner, allowed=False)
    refused = call("POST", TOKENS, owners, body)
    assert refused.status_code == 403 and error_code(refused) == "api_security_changes_off"


def test_a_token_is_shown_once_and_a_retry_does_not_make_another(org, writer, connection):
    key, api_token = writer
    body = {"connection_id": connection.pk, "name": "Okta", "allowed_cidrs": ["198.51.100.7/24"]}
    first = call("POST", TOKENS, api_token, body, **{"Idempotency-Key": "okta-1"})
    assert first.status_code == 201, first.content
    assert first["Cache-Control"] == "no-store"
    secret = first.json()["secret"]
    assert secret.startswith("scim_") and first.json()["base_url"].endswith("/scim/v2/acme/")
    created = first.json()["token"]
    assert created["allowed_cidrs"] == ["198.51.100.0/24"] and created["connection_id"] == connection.pk
    # The IdP provisions with it (from an allowed network).
    assert ScimClient(secret).get("Users", REMOTE_ADDR="198.51.100.9").status_code == 200
    replay = call("POST", TOKENS, api_token, body, **{"Idempotency-Key": "okta-1"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["secret"] is None and secret not in replay.content.decode()
    assert replay.json()["token"]["id"] == created["id"]
    assert ScimToken.objects.filter(organization=org).count() == 1
    listing = call("GET", TOKENS, api_token)
    assert [t["prefix"] for t in listing.json()["tokens"]] == [created["prefix"]]
    assert secret not in listing.content.decode()
    event = AuditEvent.objects.get(organization=org, action="scim.token_created")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label


def test_the_pages_refusals_apply_to_tokens(org, owner, other_org, outsider, writer, connection):
    _, api_token = writer
    theirs = sso_actions.create_connection(other_org, actor=outsider, protocol="saml", name="Theirs")
    refused = call("POST", TOKENS, api_token, {"connection_id": theirs.pk})
    assert refused.status_code == 400 and error_code(refused) == "no_connection"
    refused = call("POST", TOKENS, api_token, {"connection_id": connection.pk, "allowed_cidrs": ["office"]})
    assert refused.status_code == 400 and error_code(refused) == "bad_cidr"
    for number in range(10):
        assert (
            call("POST", TOKENS, api_token, {"connection_id": connection.pk, "name": f"t{number}"}).status_code == 201
        )
    refused = call("POST", TOKENS, api_token, {"connection_id": connection.pk})
    assert refused.status_code == 409 and error_code(refused) == "too_many_tokens"


def test_revoke_a_token(org, other_org, outsider, writer, connection):
    key, api_token = writer
    created = call("POST", TOKENS, api_token, {"connection_id": connection.pk}).json()
    path = f"{TOKENS}/{created['token']['id']}/revoke"
    done = call("POST", path, api_token)
    assert done.status_code == 200 and done.json()["revoked_at"]
    assert ScimClient(created["secret"]).get("Users").status_code == 401
    assert call("POST", path, api_token).json()["revoked_at"] == done.json()["revoked_at"]  # a retry changes nothing
    event = AuditEvent.objects.get(organization=org, action="scim.token_revoked")
    assert key.prefix in event.actor_label
    theirs = sso_actions.create_connection(other_org, actor=outsider, protocol="saml", name="Theirs")
    from tests.helpers.scim import new_token

    new_token(other_org, theirs)
    their_token = ScimToken.objects.get(organization=other_org)
    refused = call("POST", f"{TOKENS}/{their_token.pk}/revoke", api_token)
    assert refused.status_code == 404 and error_code(refused) == "not_found"
    assert ScimToken.objects.get(pk=their_token.pk).revoked_at is None


# --- group mappings -------------------------------------------------------------------------------------------


@pytest.fixture
def provisioned_admin(org, admin, connection):
    """The admin, provisioned by SCIM and in the IdP group "Admins"."""
    link = ScimUser.objects.create(
        organization=org, user=admin, connection=connection, user_name=admin.email, email=admin.email
    )
    group = ScimGroup.objects.create(organization=org, display_name="Admins")
    group.members.add(link)
    return link


def role_of(org, user):
    return Membership.objects.get(organization=org, user=user).role


def test_mapping_that_demotes_needs_the_previewed_confirmation(org, admin, writer, provisioned_admin):
    key, api_token = writer
    # Mapping Admins to admin changes no one's role: no confirmation needed.
    created = call("POST", MAPPINGS, api_token, {"group_ref": "Admins", "role": "admin"})
    assert created.status_code == 201, created.content
    mapping = created.json()
    assert created["ETag"] == mapping["etag"] and role_of(org, admin) == Role.ADMIN
    path = f"{MAPPINGS}/{mapping['id']}"

    preview = call("GET", f"{MAPPINGS}/preview?group_ref=Admins&role=member", api_token)
    assert preview.status_code == 200, preview.content
    items = preview.json()["groups"][0]["items"]
    assert preview.json()["total"] == 1 and items[0]["name"] == admin.email
    assert items[0]["detail"] == "Admin → Member"

    refused = call("PATCH", path, api_token, {"role": "member"}, **{"If-Match": mapping["etag"]})
    assert refused.status_code == 400 and error_code(refused) == "confirmation_required"
    wrong = call("PATCH", path, api_token, {"role": "member", "confirm": "globex"}, **{"If-Match": mapping["etag"]})
    assert wrong.status_code == 400 and role_of(org, admin) == Role.ADMIN
    done = call("PATCH", path, api_token, {"role": "member", "confirm": "acme"}, **{"If-Match": mapping["etag"]})
    assert done.status_code == 200 and done.json()["role"] == "member"
    assert role_of(org, admin) == Role.MEMBER
    event = AuditEvent.objects.get(
        organization=org, action="scim.mapping_saved", target_label="Admins", details__role_label="Member"
    )
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label


def test_the_first_mapping_that_demotes_needs_confirmation(org, admin, writer, provisioned_admin):
    _, api_token = writer
    # Once a group is mapped, roles follow the groups: the provisioned admin, in no mapped group, would be demoted.
    refused = call("POST", MAPPINGS, api_token, {"group_ref": "Ops", "role": "member"})
    assert refused.status_code == 400 and error_code(refused) == "confirmation_required"
    assert role_of(org, admin) == Role.ADMIN and not GroupMapping.objects.exists()
    done = call("POST", MAPPINGS, api_token, {"group_ref": "Ops", "role": "member", "confirm": "acme"})
    assert done.status_code == 201 and role_of(org, admin) == Role.MEMBER


def test_mapping_writes_need_a_current_etag(org, owner, writer):
    _, api_token = writer
    mapping = call("POST", MAPPINGS, api_token, {"group_ref": "Ops", "role": "member"}).json()
    path = f"{MAPPINGS}/{mapping['id']}"
    missing = call("PUT", path, api_token, {"role": "auditor"})
    assert missing.status_code == 428 and error_code(missing) == "precondition_required"
    # The owner changes it on the mapping page meanwhile (the same action).
    from scim import actions as scim_actions

    scim_actions.save_mapping(org, actor=owner, group_ref="Ops", role=Role.BILLING)
    stale = call("PUT", path, api_token, {"role": "auditor"}, **{"If-Match": mapping["etag"]})
    assert stale.status_code == 412 and error_code(stale) == "precondition_failed"
    fresh = call("GET", path, api_token)
    assert fresh.json()["role"] == "billing"
    done = call("PUT", path, api_token, {"role": "auditor"}, **{"If-Match": fresh["ETag"]})
    assert done.status_code == 200 and done.json()["role"] == "auditor" and done["ETag"] != fresh["ETag"]


def test_the_pages_refusals_apply_to_mappings(org, other_org, writer):
    _, api_token = writer
    refused = call("POST", MAPPINGS, api_token, {"group_ref": "Founders", "role": "owner"})
    assert refused.status_code == 409 and error_code(refused) == "owner_protected"
    refused = call("POST", MAPPINGS, api_token, {"group_ref": "Ops\u202e", "role": "member"})
    assert refused.status_code == 400
    theirs = Team.objects.create(organization=other_org, slug="theirs", name="Theirs")
    refused = call("POST", MAPPINGS, api_token, {"group_ref": "Ops", "role": "member", "teams": [theirs.pk]})
    assert refused.status_code == 404 and error_code(refused) == "not_found"
    assert call("POST", MAPPINGS, api_token, {"group_ref": "Ops", "role": "member"}).status_code == 201
    again = call("POST", MAPPINGS, api_token, {"group_ref": "ops", "role": "admin"})
    assert again.status_code == 409 and error_code(again) == "mapping_exists"
    assert GroupMapping.objects.get(organization=org).role == "member"


def test_teams_follow_and_removing_a_mapping_that_demotes_needs_confirmation(org, admin, writer, provisioned_admin):
    _, api_token = writer
    team = Team.objects.create(organization=org, slug="ops", name="Ops")
    body = {"group_ref": "Admins", "role": "admin", "teams": [team.pk]}
    first = call("POST", MAPPINGS, api_token, body, **{"Idempotency-Key": "map-admins"})
    again = call("POST", MAPPINGS, api_token, body, **{"Idempotency-Key": "map-admins"})
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    mapping = first.json()
    assert [t["slug"] for t in mapping["teams"]] == ["ops"]
    assert team.members.filter(user=admin).exists()
    path = f"{MAPPINGS}/{mapping['id']}"
    # Removing the only mapping changes no role (until a group is mapped, roles stay as they are).
    assert call("GET", f"{MAPPINGS}/preview?group_ref=Admins&remove=true", api_token).json()["total"] == 0
    assert call("POST", MAPPINGS, api_token, {"group_ref": "Support", "role": "member"}).status_code == 201
    # With another group mapped, the admin would fall back to the default role (member): a demotion.
    preview = call("GET", f"{MAPPINGS}/preview?group_ref=Admins&remove=true", api_token).json()
    assert preview["total"] == 1
    refused = call("DELETE", path, api_token, **{"If-Match": mapping["etag"]})
    assert refused.status_code == 400 and error_code(refused) == "confirmation_required"
    done = call("DELETE", f"{path}?confirm=acme", api_token, **{"If-Match": mapping["etag"]})
    assert done.status_code == 204
    assert list(GroupMapping.objects.filter(organization=org).values_list("group_ref", flat=True)) == ["Support"]
    assert role_of(org, admin) == Role.MEMBER


def test_the_owner_rule_is_the_actions_own(org, admin, connection):
    # The page and the API share one gate: the action refuses a non-owner whoever calls it; the system may.
    from audit.recorder import Actor
    from orgsecurity.actions import ActionRefused
    from scim import actions as scim_actions

    with pytest.raises(ActionRefused) as refused:
        scim_actions.create_token(org, actor=admin, connection=connection, name="x")
    assert refused.value.code == "owner_only" and refused.value.status == 403
    with pytest.raises(ActionRefused):
        scim_actions.save_mapping(org, actor=admin, group_ref="Ops", role=Role.MEMBER)
    token, _ = scim_actions.create_token(org, actor=Actor.system("tests"), connection=connection, name="x")
    with pytest.raises(ActionRefused):
        scim_actions.revoke_token(token, actor=admin)
    assert ScimToken.objects.get(pk=token.pk).revoked_at is None
