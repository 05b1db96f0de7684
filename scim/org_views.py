"""SCIM set-up pages of an organization: the "Provisioning (SCIM)" section of the SSO settings page (registered with
``sso.sections``), token creation (owners, re-authentication, shown once through ``orgsecurity.secrets_stash``) and
revocation, provisioning settings, and the group → role/teams mapping page with its Impact preview."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audit.models import AuditEvent
from orgsecurity import lifecycle
from orgsecurity.access import protect_action, reauthenticated, require_capability
from orgsecurity.accessors import OrgContext, get_org_object, org_for_member
from orgsecurity.actions import ActionRefused
from orgsecurity.errors import render_refusal
from orgsecurity.impact import Impact
from orgsecurity.impact_pages import Confirmation, confirmation_page
from orgsecurity.models import Team
from orgsecurity.outcomes import act, refused
from orgsecurity.roles import Capability, Role
from orgsecurity.secrets_stash import stash, take
from orgsecurity.versions import VERSION_FIELD, loaded_stamp, refuse_if_changed
from scim import actions
from scim.models import ConnectionLinkSetting, GroupMapping, ProvisioningSettings, ScimToken, ScimUser
from scim.provisioning import ACTOR_TYPE
from scim.resources import base_url
from sso.models import SSOConnection

SECRET_KIND = "scim_token"  # noqa: S105 (the stash kind, not a secret)
RECENT_CHANGES = 50


def _require_owner(org: OrgContext) -> None:
    if org.role != Role.OWNER:
        raise ActionRefused("Only owners manage SCIM provisioning.", code="owner_only", status=403)


def sso_section(request: HttpRequest, org: OrgContext) -> tuple[str, dict] | None:
    """The "Provisioning (SCIM)" section of the SSO page, for owners and admins (``sso.sections``)."""
    if not org.can(Capability.MANAGE_SECURITY):
        return None
    organization = org.organization
    tokens = list(ScimToken.objects.filter(organization=organization).select_related("connection"))
    used = [t.last_used_at for t in tokens if t.last_used_at]
    settings_row = ProvisioningSettings.objects.filter(organization=organization).first()
    connections = list(SSOConnection.objects.filter(organization=organization).order_by("pk"))
    links = dict(
        ConnectionLinkSetting.objects.filter(connection__in=connections).values_list("connection_id", "attribute")
    )
    return "scim/_sso_section.html", {
        "org": org,
        "is_owner": org.role == Role.OWNER,
        "version_field": VERSION_FIELD,
        "settings_version": loaded_stamp(actions.settings_values(organization)),
        "base_url": base_url(organization.slug) + "/",
        "tokens": tokens,
        "last_request": max(used) if used else None,
        "connections": [(c, links.get(c.pk, ConnectionLinkSetting.Attribute.SUBJECT)) for c in connections],
        "link_choices": ConnectionLinkSetting.Attribute.choices,
        "default_role": settings_row.default_role if settings_row else Role.MEMBER,
        "role_choices": [c for c in Role.choices if c[0] != Role.OWNER],
        "changes": AuditEvent.objects.filter(organization=organization, actor_type=ACTOR_TYPE).order_by(
            "-occurred_at", "-seq"
        )[:RECENT_CHANGES],
        "refusals": lifecycle.recent_refusals(organization),
        "mappings": GroupMapping.objects.filter(organization=organization).prefetch_related("teams"),
        "provisioned": ScimUser.objects.filter(organization=organization).count(),
    }


def _section_url(org_slug: str) -> str:
    return reverse("sso:index", args=[org_slug]) + "#scim"


def _refused(request: HttpRequest, org: OrgContext, exc: ActionRefused) -> HttpResponse:
    """Who may not act (owners only) is told with the refusal page (403); refused changes are post/redirect/get."""
    return render_refusal(request, exc)


@require_POST
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def create_token(request: HttpRequest, org_slug: str) -> HttpResponse:
    """POST: create a SCIM token (owners, after re-authentication), then show it once on ``token_secret``."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    try:
        _require_owner(org)
    except ActionRefused as exc:
        return _refused(request, org, exc)
    protect_action(request, "create a SCIM token")
    return _create_token(request, org_slug=org_slug, org=org)


@reauthenticated
def _create_token(request: HttpRequest, *, org_slug: str, org: OrgContext) -> HttpResponse:
    try:
        connection_id = int(request.POST.get("connection", ""))
    except ValueError:
        connection_id = 0
    connection = SSOConnection.objects.filter(pk=connection_id, organization=org.organization).first()
    try:
        if connection is None:
            raise ActionRefused("Choose the SSO connection of the IdP that provisions.", code="no_connection")
        token, text = actions.create_token(
            org.organization,
            actor=request.user,
            connection=connection,
            name=request.POST.get("name", ""),
            allowed_cidrs=actions.parse_cidrs(request.POST.get("allowed_cidrs", "")),
        )
    except ActionRefused as exc:
        return refused(request, exc, _section_url(org_slug))
    ticket = stash(request, SECRET_KIND, text, token_pk=token.pk)
    return redirect("scim_token_secret", org_slug=org_slug, token_pk=token.pk, ticket=ticket)


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def token_secret(request: HttpRequest, org_slug: str, token_pk: int, ticket: str) -> HttpResponse:
    """The new token, once (410 on any later load); never cached."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    token = get_org_object(org, ScimToken, pk=token_pk)
    taken = take(request, SECRET_KIND, ticket)
    context = {"org": org, "token": token, "base_url": base_url(org_slug) + "/", "secret": None}
    status = 410
    if taken is not None and taken.details.get("token_pk") == token.pk:
        context["secret"], status = taken.value, 200
    response = render(request, "scim/token_secret.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def revoke_token(request: HttpRequest, org_slug: str, token_pk: int) -> HttpResponse:
    """POST: revoke a SCIM token (owners, after re-authentication)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    token = get_org_object(org, ScimToken, pk=token_pk)
    try:
        _require_owner(org)
    except ActionRefused as exc:
        return _refused(request, org, exc)
    protect_action(request, f"revoke the SCIM token {token.prefix}")
    return _revoke_token(request, org_slug=org_slug, token=token)


@reauthenticated
def _revoke_token(request: HttpRequest, *, org_slug: str, token: ScimToken) -> HttpResponse:
    return act(
        request,
        lambda: actions.revoke_token(token, actor=request.user),
        success=f"The SCIM token {token.prefix} was revoked: the IdP can no longer provision with it.",
        to=_section_url(org_slug),
    )


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="change the SCIM provisioning settings")
def update_settings(request: HttpRequest, org_slug: str) -> HttpResponse:
    """POST: default role and, per connection, the sign-in attribute compared with externalId (owners)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    links = {}
    for connection in SSOConnection.objects.filter(organization=org.organization):
        value = request.POST.get(f"link_{connection.pk}")
        if value:
            links[connection.pk] = value
    try:
        _require_owner(org)
    except ActionRefused as exc:
        return _refused(request, org, exc)

    def save() -> None:
        organization = org.organization
        refuse_if_changed(request.POST, actions.settings_values(organization), actions.settings_labels(organization))
        actions.update_settings(
            organization, actor=request.user, default_role=request.POST.get("default_role", ""), link_attributes=links
        )

    return act(request, save, success="Provisioning settings saved.", to=_section_url(org_slug))


def _mapping_form(request: HttpRequest, org: OrgContext) -> tuple[str, str, list[Team]]:
    group_ref = request.POST.get("group_ref", request.GET.get("group_ref", "")).strip()
    role = request.POST.get("role", request.GET.get("role", ""))
    ids = request.POST.getlist("teams") if request.method == "POST" else request.GET.getlist("teams")
    valid = [int(i) for i in ids if i.isdigit()]
    teams = list(Team.objects.filter(organization=org.organization, pk__in=valid))
    return group_ref, role, teams


@require_http_methods(["GET", "HEAD", "POST"])
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def mappings(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET: the group mappings and a form; with ``?group_ref=&role=&teams=`` (the form's preview), who would change
    role (an Impact confirmation page); with ``?remove=<id>``, who would change role if that mapping were removed
    (the same page). POST (owners, re-authentication): save the mapping, or ``delete`` one; a removal that changes
    someone's role and did not come from its confirmation page (``confirmed``) is sent there first."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    if request.method == "POST":
        try:
            _require_owner(org)
        except ActionRefused as exc:
            return _refused(request, org, exc)
        removing = _mapping_to_remove(org, request.POST.get("delete", ""))
        if removing is not None and not request.POST.get("confirmed") and _removal_impact(org, removing).total:
            query = urlencode({"remove": removing.pk, VERSION_FIELD: request.POST.get(VERSION_FIELD, "")})
            return redirect(f"{reverse('scim_mappings', args=[org_slug])}?{query}")
        protect_action(
            request,
            f"remove the mapping of the SCIM group {removing.group_ref}"
            if removing is not None
            else "change a SCIM group mapping",
        )
        return _save_mapping(request, org_slug=org_slug, org=org)
    if request.GET.get("remove"):
        return _removal_page(request, org_slug, org, _mapping_to_remove(org, request.GET["remove"]))
    group_ref, role, teams = _mapping_form(request, org)
    if group_ref:
        impact = actions.preview_mapping(org.organization, group_ref=group_ref, role=role, teams=teams)
        page = Confirmation(
            title=f"Map the SCIM group {group_ref!r}?",
            intro=f"Members of {group_ref} get the role {Role(role).label if role else '(none)'}"
            f"{' and the teams ' + ', '.join(t.name for t in teams) if teams else ''}; the IdP's groups decide "
            "from now on.",
            button="Save mapping",
            cancel_url=reverse("scim_mappings", args=[org_slug]),
            hidden={
                "group_ref": group_ref,
                "role": role,
                "teams": [str(t.pk) for t in teams],
                VERSION_FIELD: request.GET.get(VERSION_FIELD, ""),
            },
            filename="scim-mapping",
        )
        return confirmation_page(request, org, impact, page)
    context = {
        "org": org,
        "is_owner": org.role == Role.OWNER,
        "mappings": _with_removal_counts(org),
        "groups": actions.groups_of(org.organization),
        "teams": Team.objects.filter(organization=org.organization),
        "role_choices": [c for c in Role.choices if c[0] != Role.OWNER],
        "version_field": VERSION_FIELD,
        "loaded_version": loaded_stamp(actions.mapping_values(org.organization)),
    }
    return render(request, "scim/mappings.html", context)


def _mapping_to_remove(org: OrgContext, mapping_id: str) -> GroupMapping | None:
    """The organization's mapping ``mapping_id`` (404 for another organization's or a bad id); None for ""."""
    if not mapping_id:
        return None
    return get_org_object(org, GroupMapping, pk=int(mapping_id) if mapping_id.isdigit() else 0)


def _removal_impact(org: OrgContext, mapping: GroupMapping) -> Impact:
    return actions.preview_mapping(org.organization, group_ref=mapping.group_ref, role=mapping.role, removing=True)


def _with_removal_counts(org: OrgContext) -> list[GroupMapping]:
    """The mappings, each with ``removal_changes``: how many members' roles removing it would change (its Remove
    button goes through the confirmation page when that is not 0)."""
    mappings = list(GroupMapping.objects.filter(organization=org.organization).prefetch_related("teams"))
    for mapping in mappings:
        mapping.removal_changes = _removal_impact(org, mapping).total
    return mappings


def _removal_page(request: HttpRequest, org_slug: str, org: OrgContext, mapping: GroupMapping) -> HttpResponse:
    """Who changes role if ``mapping`` is removed (``scim.actions.preview_mapping(removing=True)``), with its CSV;
    the page posts the removal (confirmed) with the version the mappings page was loaded at."""
    page = Confirmation(
        title=f"Remove the mapping of the SCIM group {mapping.group_ref!r}?",
        intro=f"Members of {mapping.group_ref} no longer get "
        f"{Role(mapping.role).label if mapping.role else 'a role'} from it (nor its teams); their role follows their "
        "other SCIM groups, or the default role of provisioning.",
        button="Remove mapping",
        cancel_url=reverse("scim_mappings", args=[org_slug]),
        hidden={"delete": str(mapping.pk), "confirmed": "1", VERSION_FIELD: request.GET.get(VERSION_FIELD, "")},
        filename=f"scim-mapping-removal-{mapping.group_ref}",
    )
    return confirmation_page(request, org, _removal_impact(org, mapping), page)


@reauthenticated
def _save_mapping(request: HttpRequest, *, org_slug: str, org: OrgContext) -> HttpResponse:
    organization = org.organization
    delete_id = request.POST.get("delete")
    mapping = None
    if delete_id:
        mapping = get_org_object(org, GroupMapping, pk=int(delete_id) if delete_id.isdigit() else 0)
    group_ref, role, teams = _mapping_form(request, org)

    def save() -> str:
        refuse_if_changed(request.POST, actions.mapping_values(organization), actions.mapping_labels(organization))
        if mapping is not None:
            actions.delete_mapping(mapping, actor=request.user)
            return f"The mapping of {mapping.group_ref} was removed; members' roles follow their other groups."
        saved = actions.save_mapping(organization, actor=request.user, group_ref=group_ref, role=role, teams=teams)
        return f"The SCIM group {saved.group_ref} is mapped; provisioned members' roles follow it."

    return act(request, save, success=lambda sentence: sentence, to=reverse("scim_mappings", args=[org_slug]))
