"""SSO connections over the admin API: list, create (SAML from IdP metadata, OIDC from an issuer), read, change,
delete; test runs (a person signs in at the IdP through the URL the run answers with); status moves; enforcement
(now or scheduled) after its preview, with the typed slug and acknowledgements of the confirmation page.

Everything goes through the dashboard's own forms (``sso.saml.forms``, ``sso.oidc.forms``,
``sso.connections.forms``, ``sso.rollout.forms``) and actions (``sso.connections.actions``, ``sso.saml.actions``,
``sso.oidc.actions``, ``sso.rollout.scheduling``), so the same validation (metadata fetched from public addresses
only), refusals (409 ``not_ready`` for enforcement before a passing test, …) and audit apply, with the key as
actor. The OIDC client secret is never returned.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any, Literal

from django import forms as django_forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Path, Query

from adminapi import schemas as common
from adminapi import schemas_sso as schemas
from adminapi.access import KeyAccess, org_access
from adminapi.concurrency import etag_of, idempotent, require_if_match
from adminapi.core import ERRORS, MAX_ID, api, delegated, invalid
from adminapi.errors import refused
from keys import scopes
from orgsecurity.impact import Impact
from orgsecurity.models import Membership, User
from sso.connections import actions as connection_actions
from sso.connections.actions import EnforcementRefused
from sso.connections.forms import ConnectionSettingsForm
from sso.connections.preview import preview_rollback, preview_status_change
from sso.connections.versions import general_values
from sso.models import PENDING_TTL, OIDCSettings, SAMLSettings, SSOConnection, SSOTestRun
from sso.oidc import actions as oidc_actions
from sso.oidc.config import callback_url
from sso.oidc.discovery import DiscoveryError, discover
from sso.oidc.forms import OIDCConnectionForm
from sso.oidc.presets import DEFAULT_PRESET
from sso.rollout import readiness
from sso.rollout import scheduling as rollout
from sso.rollout.forms import ConfirmEnforcementForm
from sso.saml import actions as saml_actions
from sso.saml.certificates import CertificateError, load_certificate
from sso.saml.config import sp_endpoints
from sso.saml.forms import CreateSAMLForm, IdPSourceForm
from sso.saml.presets import CUSTOM, preset_map
from sso.signin.flow import public_url

CONNECTIONS = "/orgs/{org_slug}/sso/connections"
CONNECTION = CONNECTIONS + "/{connection_id}"
TAGS = ["sso"]
SAML_DEFAULT_PRESET = "entra"  # the page's initial choice

# --- documents ----------------------------------------------------------------------------------------------------


def _fingerprint(pem: str) -> str:
    try:
        return load_certificate(pem).fingerprint
    except CertificateError:  # stored ones were parsed when saved; never a 500 for an odd one
        return ""


def connection_values(connection: SSOConnection) -> dict[str, Any]:
    """What a connection's ETag versions: its general settings, status, schedule and the protocol's IdP side."""
    values: dict[str, Any] = {
        "id": connection.pk,
        "name": connection.name,
        "status": connection.status,
        "admin_owner": connection.admin_owner_id,
        "allow_jit": connection.allow_jit,
        "jit_default_role": connection.jit_default_role,
        "attribute_map": connection.attribute_map,
        "require_idp_mfa": connection.require_idp_mfa,
        "idp_mfa_attribute": connection.idp_mfa_attribute,
        "idp_mfa_values": connection.idp_mfa_values,
        "support_contact": connection.support_contact,
        "enforce_at": connection.enforce_at.isoformat() if connection.enforce_at else None,
        "postponed": connection.enforcement_postponed_at.isoformat() if connection.enforcement_postponed_at else None,
    }
    saml = _saml(connection)
    if saml is not None:
        values["saml"] = [saml.idp_entity_id, saml.idp_sso_url, saml.idp_slo_url, saml.idp_certificates]
    oidc = _oidc(connection)
    if oidc is not None:
        secret_at = oidc.client_secret_set_at.isoformat() if oidc.client_secret_set_at else None
        values["oidc"] = [oidc.issuer, oidc.client_id, oidc.scopes, secret_at]
    return values


def _saml(connection: SSOConnection) -> SAMLSettings | None:
    try:
        return connection.saml
    except SAMLSettings.DoesNotExist:
        return None


def _oidc(connection: SSOConnection) -> OIDCSettings | None:
    try:
        return connection.oidc
    except OIDCSettings.DoesNotExist:
        return None


def connection_document(connection: SSOConnection) -> dict[str, Any]:
    """The connection as ``schemas_sso.ConnectionOut`` (never the OIDC client secret nor the SP private key)."""
    slug = connection.organization.slug
    saml = _saml(connection)
    oidc = _oidc(connection)
    sp = sp_endpoints(slug) if saml is not None else None
    return {
        "id": connection.pk,
        "protocol": connection.protocol,
        "status": connection.status,
        **general_values(connection),  # the general settings form's values, as its version stamps them
        "support_contact": connection.support_contact,
        "enforce_at": connection.enforce_at,
        "enforcement_postponed_at": connection.enforcement_postponed_at,
        "enforced_at": connection.enforced_at,
        "created_at": connection.created_at,
        "saml": None
        if saml is None or sp is None
        else {
            "idp_entity_id": saml.idp_entity_id,
            "idp_sso_url": saml.idp_sso_url,
            "idp_sso_binding": saml.idp_sso_binding,
            "idp_slo_url": saml.idp_slo_url,
            "idp_certificate_fingerprints": [_fingerprint(pem) for pem in saml.idp_certificates],
            "metadata_url": saml.metadata_url,
            "metadata_fetched_at": saml.metadata_fetched_at,
            "sp_entity_id": sp.entity_id,
            "sp_acs_url": sp.acs_url,
        },
        "oidc": None
        if oidc is None
        else {
            "issuer": oidc.issuer,
            "client_id": oidc.client_id,
            "scopes": oidc.scopes,
            "client_secret_set_at": oidc.client_secret_set_at,
            "redirect_uri": callback_url(slug),
        },
        "etag": etag_of(connection_values(connection)),
    }


def _connections(access: KeyAccess):
    return SSOConnection.objects.filter(organization_id=access.organization.pk).select_related(
        "organization", "admin_owner", "saml", "oidc"
    )


def _connection(access: KeyAccess, connection_id: int) -> SSOConnection:
    connection = _connections(access).filter(pk=connection_id).first()
    if connection is None:
        raise refused("not_found", f"There is no SSO connection {connection_id} in this organization.", 404)
    return connection


def _answer(connection: SSOConnection, status: int = 200) -> HttpResponse:
    document = connection_document(connection)
    body = schemas.ConnectionOut(**document).model_dump(mode="json")
    response = JsonResponse(body, status=status)
    response["ETag"] = document["etag"]
    return response


def _reloaded(access: KeyAccess, connection: SSOConnection) -> SSOConnection:
    return _connection(access, connection.pk)


def _form_invalid(form: django_forms.Form, names: dict[str, str] | None = None) -> HttpResponse:
    """400 ``invalid_request`` naming each field the dashboard's form refused (``names``: form field → API field;
    the form's own errors go to ``body`` unless named under ``__all__``)."""
    names = names or {}
    fields: dict[str, str] = {}
    for field, errors in form.errors.items():
        fields.setdefault(names.get(field, "body" if field == "__all__" else field), " ".join(errors))
    listed = "; ".join(f"{name}: {message}" for name, message in fields.items())
    return invalid(f"Check the request: {listed}", fields)


def _admin_owner(access: KeyAccess, email: str | None) -> User | HttpResponse | None:
    """The owner or admin named by ``email`` (400 when not one); with None, the key's own person, if any."""
    if email is None:
        return access.key.owner_user if access.key.owner_user_id else None
    membership = (
        Membership.objects.active()
        .filter(organization_id=access.organization.pk, role__in=readiness.MANAGER_ROLES)
        .filter(user__email__iexact=email.strip())
        .select_related("user")
        .first()
    )
    if membership is None:
        return invalid(
            "The admin owner must be an owner or admin of this organization.",
            {"admin_owner": "Name an owner or admin of this organization by email."},
        )
    return membership.user


# --- connections ------------------------------------------------------------------------------------------------


@api.get(CONNECTIONS, response={200: schemas.ConnectionList, **ERRORS}, summary="SSO connections", tags=TAGS)
def list_connections(request: HttpRequest, org_slug: str) -> dict[str, Any]:
    """Scope ``security:read``. Every SSO connection of the organization, oldest first, each with its ETag."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    return {"connections": [connection_document(c) for c in _connections(access).order_by("pk")]}


@api.post(
    CONNECTIONS,
    response={201: schemas.ConnectionOut, **ERRORS},
    summary="Create an SSO connection (SAML from IdP metadata, OIDC from an issuer)",
    tags=TAGS,
)
def create_connection(request: HttpRequest, org_slug: str, payload: schemas.ConnectionIn) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key`` (a replay answers the same connection). The dashboard's
    forms validate it: a metadata URL or OIDC issuer is fetched by our server from public addresses only (400
    ``invalid_request`` with ``fields`` otherwise). The connection starts off; test it (POST …/tests) next."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    owner = _admin_owner(access, payload.admin_owner)
    if isinstance(owner, HttpResponse):
        return owner

    def run() -> HttpResponse:
        if payload.protocol == "saml":
            return _create_saml(request, access, payload, owner)
        return _create_oidc(access, payload, owner)

    return idempotent(request, access.key.pk, run)


def _create_saml(
    request: HttpRequest, access: KeyAccess, payload: schemas.ConnectionIn, owner: User | None
) -> HttpResponse:
    if (payload.metadata_url is None) == (payload.metadata_xml is None):
        message = "Send exactly one of metadata_url and metadata_xml."
        return invalid(message, {"metadata_url": message})
    source = "url" if payload.metadata_url is not None else "xml"
    data = {
        "name": payload.name,
        "preset": payload.preset or SAML_DEFAULT_PRESET,
        "source": source,
        "metadata_url": payload.metadata_url or "",
        "metadata_xml": payload.metadata_xml or "",
    }
    form = CreateSAMLForm(data)
    if not form.is_valid():
        return _form_invalid(form, {"__all__": f"metadata_{source}"})
    preset = form.cleaned_data["preset"]
    connection = saml_actions.create_saml_connection(
        access.organization,
        actor=delegated(access),
        idp=form.idp,
        source=source,
        name=form.cleaned_data["name"],
        metadata_url=form.fetched_from or "",
        attribute_map={} if preset == CUSTOM else preset_map(preset),
        admin_owner=owner,
    )
    return _answer(_reloaded(access, connection), status=201)


def _create_oidc(access: KeyAccess, payload: schemas.ConnectionIn, owner: User | None) -> HttpResponse:
    data = {
        "name": payload.name,
        "issuer": payload.issuer or "",
        "client_id": payload.client_id or "",
        "client_secret": payload.client_secret or "",
        "scopes": payload.scopes or oidc_actions.DEFAULT_SCOPES,
        "preset": payload.preset or DEFAULT_PRESET,
    }
    form = OIDCConnectionForm(data)
    if not form.is_valid():
        return _form_invalid(form)
    cleaned = form.cleaned_data
    try:
        metadata = discover(cleaned["issuer"])
    except DiscoveryError as exc:
        return invalid(f"Check the request: issuer: {exc.message}", {"issuer": exc.message})
    connection = oidc_actions.create_oidc_connection(
        access.organization,
        actor=delegated(access),
        metadata=metadata,
        client_id=cleaned["client_id"],
        client_secret=cleaned["client_secret"],
        scopes=cleaned["scopes"],
        preset=cleaned["preset"],
        name=cleaned["name"],
        admin_owner=owner,
    )
    return _answer(_reloaded(access, connection), status=201)


@api.get(CONNECTION, response={200: schemas.ConnectionOut, **ERRORS}, summary="One SSO connection", tags=TAGS)
def get_connection(
    request: HttpRequest, org_slug: str, response: HttpResponse, connection_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """Scope ``security:read``. The connection with its ETag (also in the ``ETag`` header); never a secret."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    document = connection_document(_connection(access, connection_id))
    response["ETag"] = document["etag"]
    return document


GENERAL = ("name", "admin_owner", "allow_jit", "jit_default_role", "attribute_map", "require_idp_mfa")
GENERAL += ("idp_mfa_attribute", "idp_mfa_values")


@api.patch(CONNECTION, response={200: schemas.ConnectionOut, **ERRORS}, summary="Change an SSO connection", tags=TAGS)
def patch_connection(
    request: HttpRequest,
    org_slug: str,
    payload: schemas.ConnectionPatch,
    connection_id: int = Path(..., ge=1, le=MAX_ID),
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required (428 without, 412 when changed). General settings through the
    connection page's form and action; SAML ``metadata_url``/``metadata_xml`` replace the IdP side, OIDC
    ``issuer``/``client_id``/``client_secret``/``scopes`` the client. As on the page, only an owner's key changes
    which IdP a connection an owner signs in through trusts (403 ``owner_required``)."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    connection = _connection(access, connection_id)
    require_if_match(request, connection_values(connection))
    sent = payload.model_dump(exclude_unset=True)
    saml_fields = {"metadata_url", "metadata_xml"} & set(sent)
    oidc_fields = {"issuer", "client_id", "client_secret", "scopes"} & set(sent)
    if saml_fields and connection.protocol != SSOConnection.Protocol.SAML:
        return invalid("This is not a SAML connection.", dict.fromkeys(saml_fields, "Only for SAML connections."))
    if oidc_fields and connection.protocol != SSOConnection.Protocol.OIDC:
        return invalid("This is not an OIDC connection.", dict.fromkeys(oidc_fields, "Only for OIDC connections."))
    actor = delegated(access)
    general = {name: sent[name] for name in GENERAL if name in sent}
    if general:
        answer = _change_general(access, connection, general, actor)
        if answer is not None:
            return answer
    if saml_fields:
        answer = _change_saml_idp(connection, sent, actor)
        if answer is not None:
            return answer
    if oidc_fields:
        answer = _change_oidc(connection, sent, actor)
        if answer is not None:
            return answer
    return _answer(_reloaded(access, connection))


def _change_general(
    access: KeyAccess, connection: SSOConnection, sent: dict[str, Any], actor: Any
) -> HttpResponse | None:
    current = ConnectionSettingsForm.initial_for(connection)
    data = {**current, "idp_mfa_preset": ""}
    for name, value in sent.items():
        if name == "admin_owner":
            owner = _admin_owner(access, value) if value is not None else None
            if isinstance(owner, HttpResponse):
                return owner
            data["admin_owner"] = owner.pk if owner else None
        elif name == "attribute_map":
            data["attribute_map"] = json.dumps(value or {})
        elif name == "idp_mfa_values":
            data["idp_mfa_values"] = "\n".join(value or [])
        elif value is not None:
            data[name] = value
    form = ConnectionSettingsForm(data, organization=access.organization)
    if not form.is_valid():
        return _form_invalid(form)
    connection_actions.update_connection(connection, actor=actor, **form.cleaned_data)
    return None


def _change_saml_idp(connection: SSOConnection, sent: dict[str, Any], actor: Any) -> HttpResponse | None:
    url, xml = sent.get("metadata_url"), sent.get("metadata_xml")
    if (url is None) == (xml is None):
        message = "Send exactly one of metadata_url and metadata_xml."
        return invalid(message, {"metadata_url": message})
    source = "url" if url is not None else "xml"
    form = IdPSourceForm({"source": source, "metadata_url": url or "", "metadata_xml": xml or ""})
    if not form.is_valid():
        return _form_invalid(form, {"__all__": f"metadata_{source}"})
    saml_actions.configure_idp(
        connection, actor=actor, idp=form.idp, source=source, metadata_url=form.fetched_from if url else None
    )
    return None


def _change_oidc(connection: SSOConnection, sent: dict[str, Any], actor: Any) -> HttpResponse | None:
    metadata = None
    if sent.get("issuer") is not None:
        try:
            metadata = discover(sent["issuer"])
        except DiscoveryError as exc:
            return invalid(f"Check the request: issuer: {exc.message}", {"issuer": exc.message})
    oidc_actions.update_oidc_settings(
        connection,
        actor=actor,
        metadata=metadata,
        client_id=sent.get("client_id"),
        client_secret=sent.get("client_secret") or None,
        scopes=sent.get("scopes"),
    )
    return None


@api.delete(CONNECTION, response={204: None, **ERRORS}, summary="Delete an SSO connection that is off", tags=TAGS)
def delete_connection(
    request: HttpRequest, org_slug: str, connection_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required. Only a connection that is off (409 ``connection_in_use``:
    turn it off first, which previews who loses SSO sign-in); its linked identities and test runs go with it."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    connection = _connection(access, connection_id)
    require_if_match(request, connection_values(connection))
    connection_actions.delete_connection(connection, actor=delegated(access))
    return HttpResponse(status=204)


# --- status -------------------------------------------------------------------------------------------------------


def _if_match_when_sent(request: HttpRequest, connection: SSOConnection) -> None:
    if request.headers.get("If-Match"):
        require_if_match(request, connection_values(connection))


@api.post(
    CONNECTION + "/status",
    response={200: schemas.ConnectionOut, **ERRORS},
    summary="Move a connection to off, testing or on",
    tags=TAGS,
)
def set_status(
    request: HttpRequest, org_slug: str, payload: schemas.StatusIn, connection_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``; an ``If-Match`` sent is checked (412). The page's moves: off ↔ testing ↔ on, and
    back down from on or enforced (a rollback also drops a scheduled enforcement); 409 ``bad_move`` otherwise
    (off → on goes through testing). Enforcing is POST …/enforcement."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    connection = _connection(access, connection_id)
    _if_match_when_sent(request, connection)
    if _status_preview(connection, payload.status).total and payload.confirm != access.organization.slug:
        raise refused(
            "confirmation_required",
            'This move takes SSO sign-in from people: read GET …/status/preview, then send "confirm" with the '
            "organization's slug.",
            400,
        )
    moved = connection_actions.set_status(connection, actor=delegated(access), status=payload.status)
    return _answer(_reloaded(access, moved))


def _status_preview(connection: SSOConnection, status: str) -> Impact:
    going_down = readiness.STATUS_RANK.get(status, 0) < readiness.STATUS_RANK[connection.status]
    if going_down and connection.status in (SSOConnection.Status.ON, SSOConnection.Status.ENFORCED):
        return preview_rollback(connection, status)
    return preview_status_change(connection, status)


@api.get(
    CONNECTION + "/status/preview",
    response={200: common.ImpactOut, **ERRORS},
    summary="Who a status move takes SSO sign-in from",
    tags=TAGS,
)
def preview_status(
    request: HttpRequest,
    org_slug: str,
    connection_id: int = Path(..., ge=1, le=MAX_ID),
    status: Literal["off", "testing", "on"] = Query(..., description="The status to move to."),
) -> dict[str, Any]:
    """Scope ``security:read``; changes nothing. The connection page's confirmation list for the move: linked
    members who lose SSO sign-in (and which of them have no password), and for a rollback from on or enforced the
    unlinked members who lose being linked by email and what else changes (``sso.connections.preview``). A move up
    affects nobody. POST …/status then needs ``"confirm"`` when this lists anyone."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    return _status_preview(_connection(access, connection_id), status).as_dict()


# --- enforcement --------------------------------------------------------------------------------------------------


def _problems(problems: list[readiness.Problem]) -> list[dict[str, str]]:
    return [{"code": problem.code, "message": problem.message} for problem in problems]


@api.get(
    CONNECTION + "/enforcement/preview",
    response={200: schemas.EnforcementPreview, **ERRORS},
    summary="What enforcing SSO would do now",
    tags=TAGS,
)
def enforcement_preview(
    request: HttpRequest, org_slug: str, connection_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """Scope ``security:read``. The confirmation page's list (``sso.rollout.scheduling.preview_enforcement``): people
    who lose password sign-in (owners and admins among them ``blocking``: acknowledge their ``ref`` or resolve
    them), API keys flagged for review, sessions that end; and every guard that does not hold yet (``problems``)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    connection = _connection(access, connection_id)
    impact = rollout.preview_enforcement(connection)
    problems = readiness.enforcement_problems(connection, actor=delegated(access))
    return {
        "impact": impact.as_dict(),
        "problems": _problems([p for p in problems if p.code != readiness.LOCKOUT_CODE]),
        "acknowledge_required": [int(item.ref) for item in impact.blocking_items()],
        "confirm": access.organization.slug,
        "etag": etag_of(connection_values(connection)),
    }


@api.post(
    CONNECTION + "/enforcement",
    response={200: schemas.EnforcementOut, **ERRORS},
    summary="Enforce SSO now, or schedule it",
    tags=TAGS,
)
def enforce(
    request: HttpRequest, org_slug: str, payload: schemas.EnforceIn, connection_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``; an ``If-Match`` sent is checked (412). As the confirmation page: ``confirm`` is the
    organization's slug, ``support_contact`` an email or https:// URL, ``acknowledge`` the user id of every owner
    or admin it would lock out (400 ``invalid_request`` with ``fields`` otherwise). Without ``enforce_at`` SSO is
    enforced now, refused with every guard that does not hold (409 ``not_ready``, e.g. before a passing test, or
    ``admins_locked_out``; ``error.problems`` lists them); with a future ``enforce_at`` it is scheduled (409
    ``bad_status_for_schedule`` unless testing or on) and ``still_missing`` says what must be done by then.
    Members are emailed either way."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    connection = _connection(access, connection_id)
    _if_match_when_sent(request, connection)
    impact = rollout.preview_enforcement(connection)
    scheduled = payload.enforce_at is not None
    data: dict[str, Any] = {
        "confirm_slug": payload.confirm,
        "support_contact": payload.support_contact,
        "acknowledge": [str(pk) for pk in payload.acknowledge],
    }
    if payload.enforce_at is not None:
        if payload.enforce_at.tzinfo is None:
            message = "Give the time with its UTC offset, e.g. 2030-01-31T09:00:00Z."
            return invalid(message, {"enforce_at": message})
        data["enforce_at"] = payload.enforce_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    form = ConfirmEnforcementForm(
        data, organization=access.organization, blockers=impact.blocking_items(), scheduled=scheduled
    )
    if not form.is_valid():
        return _form_invalid(form, {"confirm_slug": "confirm"})
    cleaned = form.cleaned_data
    actor = delegated(access)
    missing: list[readiness.Problem] = []
    if scheduled:
        missing = rollout.schedule_enforcement(
            connection,
            actor=actor,
            enforce_at=cleaned["enforce_at"],
            support_contact=cleaned["support_contact"],
            acknowledged=cleaned["acknowledge"],
        )
    else:
        try:
            connection_actions.set_status(
                connection,
                actor=actor,
                status=SSOConnection.Status.ENFORCED,
                acknowledged=cleaned["acknowledge"],
                support_contact=cleaned["support_contact"],
            )
        except EnforcementRefused as exc:
            error = {"code": exc.code, "message": exc.message, "problems": _problems(exc.problems)}
            return JsonResponse({"error": error}, status=exc.status)
    document = connection_document(_reloaded(access, connection))
    body = schemas.EnforcementOut(connection=document, still_missing=_problems(missing)).model_dump(mode="json")
    response = JsonResponse(body)
    response["ETag"] = document["etag"]
    return response


@api.delete(
    CONNECTION + "/enforcement",
    response={200: schemas.ConnectionOut, **ERRORS},
    summary="Cancel a scheduled enforcement",
    tags=TAGS,
)
def cancel_enforcement(
    request: HttpRequest, org_slug: str, connection_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required. Drops the enforcement date (the status stays; to stop an
    enforced connection, move it down with POST …/status)."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    connection = _connection(access, connection_id)
    require_if_match(request, connection_values(connection))
    rollout.cancel_scheduled_enforcement(connection, actor=delegated(access))
    return _answer(_reloaded(access, connection))


# --- test runs ----------------------------------------------------------------------------------------------------


def _state(run: SSOTestRun, now: Any) -> str:
    if run.result == SSOTestRun.Result.SUCCESS:
        return "passed"
    if run.result == SSOTestRun.Result.FAILURE:
        return "failed"
    if run.started_at + PENDING_TTL <= now:
        return "abandoned"
    return "waiting_for_tester" if run.actor_id is None and run.setup_link_id is None else "in_progress"


def test_run_document(run: SSOTestRun, connection: SSOConnection) -> dict[str, Any]:
    """A test run as ``schemas_sso.TestRunOut``: its state, the URL to open while it waits, what the IdP sent."""
    now = timezone.now()
    state = _state(run, now)
    slug = connection.organization.slug
    details = run.details or {}
    open_url = None
    if state in ("waiting_for_tester", "in_progress"):
        open_url = public_url(reverse("sso:open_test_run", args=[slug, connection.pk, run.pk]))
    return {
        "id": run.pk,
        "connection_id": connection.pk,
        "state": state,
        "open_url": open_url,
        "result_url": public_url(reverse("sso:test_run", args=[slug, connection.pk, run.pk])),
        "tester": run.actor.email if run.actor_id and run.actor else None,
        "session_seconds": run.session_seconds,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "reason": run.error,
        "issuer": details.get("issuer"),
        "subject": details.get("subject"),
        "subject_format": details.get("subject_format"),
        "attributes": details.get("attributes") or {},
        "mapped": details.get("mapped") or {},
        "link": details.get("link", ""),
    }


@api.post(
    CONNECTION + "/tests",
    response={201: schemas.TestRunOut, **ERRORS},
    summary="Start a test run (a person opens open_url to sign in at the IdP)",
    tags=TAGS,
)
def start_test(
    request: HttpRequest, org_slug: str, payload: schemas.TestRunIn, connection_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key``. The dashboard's "Test SSO" for a program: the run waits
    up to 10 minutes for an owner or admin, signed in to the dashboard, to open ``open_url`` and sign in at the IdP
    as themselves; they become its tester (as if they had pressed "Test SSO", so a passing run counts toward
    enforcement when they are the admin owner). Read the result with GET …/tests/{run_id}."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    connection = _connection(access, connection_id)

    def run() -> HttpResponse:
        test = connection_actions.start_test_run(
            connection, actor=None, session_seconds=payload.session_seconds, requested_by=delegated(access)
        )
        body = schemas.TestRunOut(**test_run_document(test, connection)).model_dump(mode="json")
        return JsonResponse(body, status=201)

    return idempotent(request, access.key.pk, run)


@api.get(CONNECTION + "/tests", response={200: schemas.TestRunList, **ERRORS}, summary="Recent test runs", tags=TAGS)
def list_tests(request: HttpRequest, org_slug: str, connection_id: int = Path(..., ge=1, le=MAX_ID)) -> dict[str, Any]:
    """Scope ``security:read``. The connection's 20 most recent test runs, newest first."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    connection = _connection(access, connection_id)
    runs = connection.test_runs.select_related("actor").order_by("-started_at", "-pk")[:20]
    return {"runs": [test_run_document(run, connection) for run in runs]}


@api.get(
    CONNECTION + "/tests/{run_id}",
    response={200: schemas.TestRunOut, **ERRORS},
    summary="A test run's result",
    tags=TAGS,
)
def get_test(
    request: HttpRequest,
    org_slug: str,
    connection_id: int = Path(..., ge=1, le=MAX_ID),
    run_id: int = Path(..., ge=1, le=MAX_ID),
) -> dict[str, Any]:
    """Scope ``security:read``. ``state`` passed or failed once the IdP answered, with the ``reason`` of a failure
    and the ``attributes`` the IdP sent (and how they ``mapped``)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    connection = _connection(access, connection_id)
    run = connection.test_runs.select_related("actor").filter(pk=run_id).first()
    if run is None:
        raise refused("not_found", f"There is no test run {run_id} of this connection.", 404)
    return test_run_document(run, connection)
