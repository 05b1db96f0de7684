"""Owners' SCIM set-up actions: tokens (create, revoke), group mappings (save, delete, with a preview of who changes
role) and the provisioning settings. Each in one transaction with its audit event (``@audited``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from audit import recorder as audit
from audit.locking import audited
from orgsecurity.actions import ActionRefused, actor_role, require_plain_text
from orgsecurity.actors import ProgramActor
from orgsecurity.impact import Impact, ImpactGroup, ImpactItem
from orgsecurity.models import Membership, Organization, Team, User
from orgsecurity.roles import Role
from scim import tokens
from scim.models import ConnectionLinkSetting, GroupMapping, ProvisioningSettings, ScimGroup, ScimToken, ScimUser
from scim.provisioning import default_role, mappings_for, role_for, sync_access
from sso.models import SSOConnection

MAX_TOKENS_PER_ORG = 10


def require_owner(organization: Organization, actor: object) -> None:
    """SCIM set-up is for owners: a person or an admin API key (``ProgramActor``) must act as an owner, and a
    program (a SCIM token, acting as admin) never changes it; raises ``ActionRefused`` (403 ``owner_only``, the
    code the page answers). The system (a management command, ``audit.recorder.Actor.system``) may."""
    if not isinstance(actor, (User, ProgramActor)):
        return
    if actor_role(organization, actor) != Role.OWNER:
        raise ActionRefused("Only owners manage SCIM provisioning.", code="owner_only", status=403)


def parse_cidrs(text: str) -> list[str]:
    """Allowed networks, one CIDR (RFC 4632) per line or comma; raises ``ActionRefused`` (400) naming a bad one."""
    found = []
    for raw in text.replace(",", "\n").splitlines():
        raw = raw.strip()
        if not raw:
            continue
        try:
            found.append(str(ipaddress.ip_network(raw, strict=False)))
        except ValueError:
            raise ActionRefused(
                f"{raw[:60]!r} is not a network in CIDR notation (e.g. 203.0.113.0/24).", code="bad_cidr"
            ) from None
    return found


@audited("organization")
def create_token(
    organization: Organization, *, actor: User, connection: SSOConnection, name: str, allowed_cidrs: Iterable[str] = ()
) -> tuple[ScimToken, str]:
    """A new SCIM token of ``connection`` (one of ``organization``'s) and its text, shown once. Raises
    ``ActionRefused`` for an actor who is not an owner (403 ``owner_only``), another organization's connection (404),
    a bad name (400) or too many tokens (409)."""
    require_owner(organization, actor)
    if connection.organization_id != organization.pk:
        raise ActionRefused("There is no such SSO connection here.", code="not_found", status=404)
    name = (name or "").strip() or "SCIM"
    require_plain_text(name, what="The token name")
    if len(name) > 100:
        raise ActionRefused("Token names are at most 100 characters.", code="bad_name")
    if ScimToken.objects.filter(organization=organization, revoked_at=None).count() >= MAX_TOKENS_PER_ORG:
        raise ActionRefused(
            f"An organization has at most {MAX_TOKENS_PER_ORG} live SCIM tokens: revoke one first.",
            code="too_many_tokens",
            status=409,
        )
    key_id, text = tokens.new_token()
    token = ScimToken.objects.create(
        organization=organization,
        connection=connection,
        name=name,
        key_id=key_id,
        secret_hash=tokens.hash_secret(text),
        allowed_cidrs=list(allowed_cidrs),
        created_by=actor if isinstance(actor, User) else None,
    )
    audit.record(
        "scim.token_created",
        organization=organization,
        actor=actor,
        target=audit.Target("scim.scimtoken", str(token.pk), token.prefix),
        details={"connection": str(connection), "name": name, "allowed_cidrs": list(allowed_cidrs)},
    )
    return token, text


@audited(lambda token, **kwargs: token.organization)
def revoke_token(token: ScimToken, *, actor: User) -> ScimToken:
    """Revoke ``token`` now: the IdP's next request gets 401. Revoking a revoked token changes nothing. Owners only
    (``require_owner``)."""
    require_owner(token.organization, actor)
    with transaction.atomic():
        token = ScimToken.objects.select_for_update(of=("self",)).get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            "scim.token_revoked",
            organization=token.organization,
            actor=actor,
            target=audit.Target("scim.scimtoken", str(token.pk), token.prefix),
        )
    return token


def _role_label(role: str) -> str:
    return Role(role).label if role else "no role (teams only)"


def preview_mapping(
    organization: Organization, *, group_ref: str, role: str, teams: Iterable[Team] = (), removing: bool = False
) -> Impact:
    """Who would change role if the mapping of ``group_ref`` became ``role`` (or were removed, ``removing``):
    ``role_changes`` lists each active provisioned member whose role from their groups would differ from their role
    now (owners never change), computed with ``scim.provisioning.role_for``, the function provisioning applies."""
    mappings = [m for m in mappings_for(organization) if m.group_ref.lower() != group_ref.lower()]
    if not removing:
        mappings.append(GroupMapping(organization=organization, group_ref=group_ref, role=role))
    fallback = default_role(organization)
    items = []
    # As ``sync_access``: until a group is mapped, roles stay as they are (removing the last mapping changes none).
    links = (
        ScimUser.objects.none()
        if not mappings
        else (
            ScimUser.objects.filter(organization=organization)
            .select_related("user")
            .prefetch_related("groups")
            .order_by("user_name")
        )
    )
    roles = dict(Membership.objects.active().filter(organization=organization).values_list("user_id", "role"))
    for link in links:
        current = roles.get(link.user_id) if link.user_id else None
        if current is None or current == Role.OWNER:
            continue
        new = role_for(link.groups.all(), mappings, fallback)
        if new != current:
            items.append(
                ImpactItem(
                    ref=str(link.user_id), name=link.user.email, detail=f"{Role(current).label} → {Role(new).label}"
                )
            )
    group = ImpactGroup(
        "role_changes",
        "Members whose role changes",
        "Their role follows their SCIM groups; a demotion revokes API keys the new role may not hold.",
        tuple(items),
    )
    return Impact(change="scim.mapping", groups=(group,))


@audited("organization")
def save_mapping(
    organization: Organization, *, actor: User, group_ref: str, role: str, teams: Iterable[Team] = ()
) -> GroupMapping:
    """Map the SCIM group ``group_ref`` (displayName or id) to ``role`` (never owner; "" for teams only) and
    ``teams``, then apply it to every provisioned member (``scim.provisioning.sync_access``, as the owner). Owners
    only (``require_owner``)."""
    require_owner(organization, actor)
    group_ref = (group_ref or "").strip()
    if not group_ref or len(group_ref) > 255:
        raise ActionRefused("Name the SCIM group by its displayName or id (at most 255 characters).", code="bad_group")
    require_plain_text(group_ref, what="The group name")
    if role == Role.OWNER:
        raise ActionRefused(
            "No group maps to the owner role: owners are managed in the dashboard.", code="owner_protected", status=409
        )
    if role and role not in Role.values:
        raise ActionRefused(f"{role!r} is not a role.", code="bad_role")
    teams = list(teams)
    if any(team.organization_id != organization.pk for team in teams):
        raise ActionRefused("There is no such team here.", code="not_found", status=404)
    mapping = next(
        (m for m in GroupMapping.objects.filter(organization=organization) if m.group_ref.lower() == group_ref.lower()),
        None,
    )
    if mapping is None:
        mapping = GroupMapping.objects.create(organization=organization, group_ref=group_ref, role=role)
    else:
        mapping.role = role
        mapping.save(update_fields=["role"])
    mapping.teams.set(teams)
    audit.record(
        "scim.mapping_saved",
        organization=organization,
        actor=actor,
        target=audit.Target("scim.groupmapping", str(mapping.pk), group_ref),
        details={"role_label": _role_label(role), "teams": ", ".join(t.name for t in teams)},
    )
    sync_access(_all_links(organization), actor)
    return mapping


@audited(lambda mapping, **kwargs: mapping.organization)
def delete_mapping(mapping: GroupMapping, *, actor: User) -> None:
    """Remove a group mapping; members' roles and mapped teams follow their remaining groups. Owners only
    (``require_owner``)."""
    organization = mapping.organization
    require_owner(organization, actor)
    audit.record(
        "scim.mapping_deleted",
        organization=organization,
        actor=actor,
        target=audit.Target("scim.groupmapping", str(mapping.pk), mapping.group_ref),
    )
    mapping.delete()
    sync_access(_all_links(organization), actor)


@audited("organization")
def update_settings(
    organization: Organization, *, actor: User, default_role: str, link_attributes: dict[int, str] | None = None
) -> ProvisioningSettings:
    """Set the role of provisioned members in no mapped group (never owner) and, per SSO connection id, the sign-in
    attribute compared with ``externalId`` (``ConnectionLinkSetting.Attribute``). Owners only (``require_owner``)."""
    require_owner(organization, actor)
    if default_role == Role.OWNER or default_role not in Role.values:
        raise ActionRefused("Choose a role other than owner as the default.", code="bad_role")
    settings_row, _ = ProvisioningSettings.objects.get_or_create(organization=organization)
    old = settings_row.default_role
    settings_row.default_role = default_role
    settings_row.save(update_fields=["default_role"])
    for connection_id, attribute in (link_attributes or {}).items():
        if attribute not in ConnectionLinkSetting.Attribute.values:
            raise ActionRefused(f"{attribute!r} is not a link attribute.", code="bad_attribute")
        if not SSOConnection.objects.filter(pk=connection_id, organization=organization).exists():
            raise ActionRefused("There is no such SSO connection here.", code="not_found", status=404)
        ConnectionLinkSetting.objects.update_or_create(connection_id=connection_id, defaults={"attribute": attribute})
    audit.record(
        "scim.settings_changed",
        organization=organization,
        actor=actor,
        changes={"default_role": [old, default_role]} if old != default_role else None,
        details={"link_attributes": {str(k): v for k, v in (link_attributes or {}).items()}},
    )
    if old != default_role:
        sync_access(_all_links(organization), actor)
    return settings_row


def _all_links(organization: Organization) -> list[ScimUser]:
    return list(ScimUser.objects.filter(organization=organization).select_related("user", "organization"))


def settings_values(organization: Organization) -> dict[str, str]:
    """The provisioning settings as saved, by the settings form's field names: ``default_role`` and, per SSO
    connection, ``link_<connection id>`` (its ``ConnectionLinkSetting.Attribute``). What ``orgsecurity.versions``
    versions, so a settings form saved over a change made meanwhile is refused."""
    connections = SSOConnection.objects.filter(organization=organization).order_by("pk")
    links = dict(
        ConnectionLinkSetting.objects.filter(connection__organization=organization).values_list(
            "connection_id", "attribute"
        )
    )
    values = {"default_role": default_role(organization)}
    for connection in connections:
        values[f"link_{connection.pk}"] = links.get(connection.pk, ConnectionLinkSetting.Attribute.SUBJECT)
    return values


def settings_labels(organization: Organization) -> dict[str, str]:
    """The settings form's labels by ``settings_values`` key (to say what changed)."""
    labels = {"default_role": "Role of members in no mapped group"}
    for connection in SSOConnection.objects.filter(organization=organization).order_by("pk"):
        labels[f"link_{connection.pk}"] = f"{connection}: sign-in attribute compared with externalId"
    return labels


def mapping_values(organization: Organization) -> dict[str, str]:
    """Every group mapping as saved, by group (lower case): "role <role or (none)>; teams <names or (none)>". What
    ``orgsecurity.versions`` versions for the mappings page, so a mapping saved or removed over a change made
    meanwhile is refused."""
    values = {}
    for mapping in mappings_for(organization):
        teams = ", ".join(sorted(team.name for team in mapping.teams.all())) or "(none)"
        values[mapping.group_ref.lower()] = f"role {mapping.role or '(none)'}; teams {teams}"
    return values


def mapping_labels(organization: Organization) -> dict[str, str]:
    """Labels of ``mapping_values`` keys: "Mapping of <group>"."""
    return {
        group_ref.lower(): f"Mapping of {group_ref}"
        for group_ref in GroupMapping.objects.filter(organization=organization).values_list("group_ref", flat=True)
    }


def groups_of(organization: Organization) -> list[ScimGroup]:
    """The organization's SCIM groups, by name (for the mapping page)."""
    return list(ScimGroup.objects.filter(organization=organization).order_by("display_name"))


__all__ = ["create_token", "delete_mapping", "preview_mapping", "revoke_token", "save_mapping", "update_settings"]
