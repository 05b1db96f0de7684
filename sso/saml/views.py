"""SAML pages: admin pages under /orgs/<org>/settings/security/sso/saml/ and the public SP endpoints under
/sso/<org>/saml/ (metadata, login, ACS, SLO).

Public endpoints do not run the organization pipeline (people are signing in); each checks what it needs.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import replace

import xmlsec
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request

from orgsecurity.access import require_capability
from orgsecurity.accessors import get_org_object, org_for_member
from orgsecurity.actions import ActionRefused
from orgsecurity.auth import sign_out
from orgsecurity.roles import Capability
from orgsecurity.signin_state import SAML_LOGOUT_REQUEST_SESSION_KEY, sso_connection_id
from sso.connections import actions as sso_actions
from sso.connections.versions import ATTRIBUTE_MAP_LABELS, attribute_map_values, refused_if_changed
from sso.connections.views import _connection_page, protecting_connection
from sso.errors import SSOSignInRefused
from sso.models import SAMLConsumedAssertion, SAMLSettings, SSOConnection, SSOIdentity, SSOPendingLogin
from sso.protocols import sign_in_connection
from sso.saml import actions, versions
from sso.saml.config import onelogin_settings, request_data, saml_settings_of, sp_endpoints
from sso.saml.forms import CreateSAMLForm, IdPSourceForm, OptionsForm, PresetForm
from sso.saml.handler import certificate_infos
from sso.saml.logout import sp_initiated_logout
from sso.saml.lookup import pending_with_saml_connection
from sso.saml.metadata import MetadataError, fetch_metadata, parse_idp_metadata
from sso.saml.presets import CUSTOM, preset_map
from sso.saml.response import (
    AuthWithSkew,
    SAMLResponseRejected,
    ValidatedResponse,
    peek_in_response_to,
    validate_response,
)
from sso.signin import flow, public_views
from sso.signin.refusals import refusal_page

# --- admin pages ---------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_capability(Capability.MANAGE_SECURITY, action="add a SAML connection")
def create(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Add a SAML connection: the IdP side from a metadata URL, pasted/uploaded XML, or manual entry."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    form = CreateSAMLForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        preset = form.cleaned_data["preset"]
        connection = actions.create_saml_connection(
            org.organization,
            actor=request.user,
            idp=form.idp,
            source=form.cleaned_data["source"],
            name=form.cleaned_data["name"],
            metadata_url=form.fetched_from or "",
            attribute_map={} if preset == CUSTOM else preset_map(preset),
        )
        messages.success(request, "SAML connection created. Give your IdP the values below, then use “Test SSO”.")
        return redirect("sso:connection", org_slug, connection.pk)
    status = 400 if request.method == "POST" else 200
    # The IdP admin usually needs our entity ID and ACS URL before their IdP gives out its metadata.
    context = {"org": org, "form": form, "sp": sp_endpoints(org_slug)}
    return render(request, "sso/saml/create.html", context, status=status)


def _saml_connection(request: HttpRequest, org_slug: str, connection_id: int):
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    connection = get_org_object(org, SSOConnection.objects.filter(protocol="saml"), pk=connection_id)
    if not SAMLSettings.objects.filter(connection=connection).exists():
        raise Http404("This connection has no SAML settings.")
    return org, connection


def _form_errors(request: HttpRequest, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


@require_POST
@protecting_connection("change the IdP settings of the SSO connection {connection}")
@require_capability(Capability.MANAGE_SECURITY, action="change the IdP settings of an SSO connection")
def update_idp(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """Replace the IdP side (new metadata URL or XML, or manual values); every certificate listed is kept. A
    connection made before the IdP's details were known (for a set-up link) gets its first ones here."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    connection = get_org_object(org, SSOConnection.objects.filter(protocol="saml"), pk=connection_id)
    stale = refused_if_changed(request, connection, versions.idp_values(connection), versions.IDP_LABELS)
    if stale is not None:
        return stale
    form = IdPSourceForm(request.POST, request.FILES)
    if not form.is_valid():
        _form_errors(request, form)
        return _connection_page(request, org, connection, status=400)
    idp = form.idp
    current = SAMLSettings.objects.filter(connection=connection).first()
    if form.cleaned_data["source"] == "manual" and current is not None:
        idp = replace(idp, want_authn_requests_signed=current.want_authn_requests_signed)
    try:
        changes = actions.configure_idp(
            connection, actor=request.user, idp=idp, source=form.cleaned_data["source"], metadata_url=form.fetched_from
        )
    except ActionRefused as exc:
        return _connection_page(request, org, connection, status=exc.status, error=exc.message)
    messages.success(request, "IdP settings saved." if changes else "The IdP settings were already up to date.")
    return redirect("sso:connection", org_slug, connection.pk)


@require_POST
@protecting_connection("refresh the IdP metadata of the SSO connection {connection}")
@require_capability(Capability.MANAGE_SECURITY, action="refresh an SSO connection's IdP metadata")
def refresh_metadata(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """Fetch the stored metadata URL again (e.g. after the IdP rolled its signing certificate)."""
    org, connection = _saml_connection(request, org_slug, connection_id)
    url = connection.saml.metadata_url
    if not url:
        return _connection_page(
            request, org, connection, status=400, error="This connection has no metadata URL to refresh from."
        )
    try:
        idp = parse_idp_metadata(fetch_metadata(url))
    except MetadataError as exc:
        return _connection_page(
            request, org, connection, status=400, error=f"Refreshing from {url} failed, nothing was changed: {exc}"
        )
    try:
        changes = actions.update_idp(connection, actor=request.user, idp=idp, source="url", metadata_url=url)
    except ActionRefused as exc:
        return _connection_page(request, org, connection, status=exc.status, error=exc.message)
    messages.success(request, "Metadata refreshed." if changes else "The metadata has not changed.")
    return redirect("sso:connection", org_slug, connection.pk)


@require_POST
@protecting_connection("change the SAML options of the SSO connection {connection}")
@require_capability(Capability.MANAGE_SECURITY, action="change an SSO connection's SAML options")
def update_options(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    org, connection = _saml_connection(request, org_slug, connection_id)
    stale = refused_if_changed(request, connection, versions.options_values(connection), versions.options_labels())
    if stale is not None:
        return stale
    form = OptionsForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _connection_page(request, org, connection, status=400)
    try:
        changes = actions.set_options(connection, actor=request.user, **form.cleaned_data)
    except ActionRefused as exc:
        return _connection_page(request, org, connection, status=exc.status, error=exc.message)
    messages.success(request, "SAML options saved." if changes else "Nothing changed.")
    if changes.get("refuse_expired_certificates") == [False, True]:
        for cert in certificate_infos(connection.saml):
            if cert.expired():
                messages.warning(
                    request,
                    f"Sign-ins signed with IdP certificate {cert.short_fingerprint} (expired on "
                    f"{cert.not_after:%Y-%m-%d}) are refused from now on. Run Test SSO to check that the IdP signs "
                    "with a current certificate.",
                )
    return redirect("sso:connection", org_slug, connection.pk)


@require_POST
@protecting_connection("apply an attribute mapping preset to the SSO connection {connection}")
@require_capability(Capability.MANAGE_SECURITY, action="apply an attribute mapping preset to an SSO connection")
def apply_preset(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    org, connection = _saml_connection(request, org_slug, connection_id)
    stale = refused_if_changed(request, connection, attribute_map_values(connection), ATTRIBUTE_MAP_LABELS)
    if stale is not None:
        return stale
    form = PresetForm(request.POST)
    if not form.is_valid() or form.cleaned_data["preset"] == CUSTOM:
        return _connection_page(
            request,
            org,
            connection,
            status=400,
            error="Choose one of the presets; edit a custom mapping under General settings.",
        )
    changes = sso_actions.update_connection(
        connection, actor=request.user, attribute_map=preset_map(form.cleaned_data["preset"])
    )
    messages.success(request, "Attribute mapping updated." if changes else "That preset was already in use.")
    return redirect("sso:connection", org_slug, connection.pk)


# --- public SP endpoints -------------------------------------------------------------------------------------


def _org_saml_connections(org_slug: str):
    return SSOConnection.objects.filter(
        organization__slug=org_slug, protocol="saml", saml__isnull=False
    ).select_related("organization", "saml")


def _org_saml_connection(org_slug: str) -> SSOConnection | None:
    """The organization's SAML connection: the one members sign in through, else its first configured one."""
    return sign_in_connection(org_slug, SSOConnection.Protocol.SAML) or _org_saml_connections(org_slug).first()


@require_safe
def metadata(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Our SP metadata for the organization (entity ID, ACS, SLO, SP certificate), for the IdP admin to import."""
    connection = _org_saml_connection(org_slug)
    if connection is None:
        raise Http404("No SAML connection.")
    try:
        xml = onelogin_settings(connection).get_sp_metadata()
    except SSOSignInRefused as exc:
        return refusal_page(request, exc, connection)
    response = HttpResponse(xml, content_type="application/samlmetadata+xml")
    response["Content-Disposition"] = f'inline; filename="{org_slug}-sp-metadata.xml"'
    return response


@require_safe
def login(request: HttpRequest, org_slug: str) -> HttpResponse:
    """SP-initiated sign-in: the same as /sso/<org>/login/ (``?next=`` a same-origin path)."""
    return public_views.login(request, org_slug)


def _acs_target(org_slug: str, in_response_to: str | None) -> tuple[SSOConnection | None, SSOPendingLogin | None]:
    """The connection an answer belongs to, and the pending login it names (one query on the unique key): the
    pending login of one of this organization's SAML connections, else the organization's SAML connection, whose
    rules then refuse an unknown request."""
    if in_response_to:
        pending = pending_with_saml_connection(in_response_to)
        if pending is not None and _is_saml_connection_of(pending.connection, org_slug):
            return pending.connection, pending
    return _org_saml_connection(org_slug), None


def _is_saml_connection_of(connection: SSOConnection, org_slug: str) -> bool:
    return (
        connection.organization.slug == org_slug
        and connection.protocol == SSOConnection.Protocol.SAML
        and getattr(connection, "saml", None) is not None
    )


@csrf_exempt  # the IdP's cross-site POST (SAML Bindings §3.5); the signed assertion is what authenticates it
@require_POST
def acs(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Assertion Consumer Service: validate the IdP's response, consume the request it answers, and send the
    browser to the shared finishing step (a same-site GET, where the session cookie is present)."""
    try:
        posted = request.POST.get("SAMLResponse", "")
    except RequestDataTooBig:
        refused = SSOSignInRefused(
            "The SAML response is too large: the request is larger than this server accepts (Django's "
            f"DATA_UPLOAD_MAX_MEMORY_SIZE, above the SAML limit of {settings.SSO_SAML_MAX_RESPONSE_KIB} KiB set by "
            "SSO_SAML_MAX_RESPONSE_KIB). Configure the IdP to send fewer attributes or groups.",
            code="saml_too_large",
            status=413,
        )
        return refusal_page(request, refused)
    in_response_to = peek_in_response_to(posted)
    connection, pending = _acs_target(org_slug, in_response_to)
    if connection is None:
        refused = SSOSignInRefused(
            "Single sign-on with SAML is not set up for this organization.", code="no_saml", status=404
        )
        return refusal_page(request, refused)
    try:
        validated = validate_response(connection, saml_settings_of(connection), posted)
        finish_url = _accept(request, connection, pending, validated, request.POST.get("RelayState", ""))
    except SAMLResponseRejected as exc:
        return _rejected(request, connection, in_response_to, exc)
    except SSOSignInRefused as exc:
        return refusal_page(request, exc, connection)
    return redirect(finish_url)


def _accept(
    request: HttpRequest,
    connection: SSOConnection,
    pending: SSOPendingLogin | None,
    validated: ValidatedResponse,
    relay_state: str,
) -> str:
    """Accept the assertion ID once (database unique constraint, every process), claim the request it answers and
    store the answer; returns the finishing URL.

    An unsolicited response (no InResponseTo) is accepted only when the organization turned IdP-initiated sign-in
    on; it then starts and claims a sign-in in this browser, and RelayState is used only as a same-origin path.
    """
    if validated.in_response_to is None and not connection.saml.allow_idp_initiated:
        raise SAMLResponseRejected(
            "This response was not requested by us (IdP-initiated sign-in), and this organization accepts only "
            "sign-ins started here. Start from the product's sign-in page, or ask an admin to allow IdP-initiated "
            "sign-in.",
            code="saml_unsolicited",
        )
    key = validated.in_response_to
    if key is None:
        with transaction.atomic():
            _remember_assertion(connection, validated)
            key = "_idp_initiated_" + secrets.token_hex(16)
            next_url = flow.safe_next_url(relay_state, "")
            flow.begin(request, connection, key=key, purpose=SSOPendingLogin.Purpose.LOGIN, next_url=next_url)
            return flow.answer(flow.claim(connection, key), validated.identity)
    if pending is None or pending.key != key:
        # The signed InResponseTo names no request of ours (or not the one the unsigned envelope named).
        with transaction.atomic():
            _remember_assertion(connection, validated)
            return flow.answer(flow.claim(connection, key), validated.identity)
    # The usual case, in two statements and no transaction: using up the request it answers is the single-use
    # step; the assertion ID is then remembered. Should that fail (the same assertion again), the request stays
    # used up and the sign-in is refused: nothing else was changed.
    finish_url = flow.claim_and_answer(pending, validated.identity)
    _remember_assertion(connection, validated)
    return finish_url


def _remember_assertion(connection: SSOConnection, validated: ValidatedResponse) -> None:
    """Record the assertion ID (unique per connection, every process) until it expires; raises SAMLResponseRejected
    when it was seen before (replay)."""
    try:
        # No savepoint of its own: on its own it is one autocommitted INSERT; inside a transaction, the refusal
        # below propagates and rolls the whole transaction back.
        SAMLConsumedAssertion.objects.create(
            connection=connection, assertion_id=validated.assertion_id, expires_at=validated.remember_until
        )
    except IntegrityError:
        raise SAMLResponseRejected(
            "This SAML response was already used once. Start the sign-in again.", code="saml_replayed", status=400
        ) from None


def _rejected(
    request: HttpRequest, connection: SSOConnection, in_response_to: str | None, exc: SAMLResponseRejected
) -> HttpResponse:
    """A failed Test SSO goes to its result page with what to change; any other failure to the refusal page."""
    pending = (
        SSOPendingLogin.objects.filter(
            connection=connection, key=in_response_to or "", purpose=SSOPendingLogin.Purpose.TEST
        )
        .select_related("test_run", "user", "connection__organization")
        .first()
    )
    if pending is None or pending.test_run is None or pending.answered_at is not None:
        pending = None
    else:
        # Used up even when it expired meanwhile: the failure is still worth recording on the test run.
        with contextlib.suppress(SSOSignInRefused):
            flow.claim(connection, pending.key)
    refused = SSOSignInRefused(exc.message, code=exc.code, status=exc.status)
    return public_views.refused_answer(request, connection, pending, refused, details={"code": exc.code})


@require_safe
def sls(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Single Logout (HTTP-Redirect): the IdP's answer to our LogoutRequest, or the IdP's own LogoutRequest.

    An IdP-initiated LogoutRequest must be signed by one of the connection's certificates; when its NameID is the
    identity this browser signed in with, the session here ends. Either way the IdP gets a signed LogoutResponse.
    """
    connection = _sls_connection(request, org_slug)
    if connection is None:
        return refusal_page(request, SSOSignInRefused("Single logout is not set up here.", code="no_saml", status=404))
    sp = sp_endpoints(org_slug)
    try:
        slo_settings = onelogin_settings(connection, want_messages_signed=True)
    except SSOSignInRefused as exc:
        return refusal_page(request, exc, connection)
    repeated = sorted(name for name in _REDIRECT_BINDING_PARAMETERS if len(request.GET.getlist(name)) > 1)
    if repeated:
        # The signature covers each parameter once (SAML Bindings §3.4.4.1); a repeated one is never the IdP's.
        refused = SSOSignInRefused(
            f"The logout message repeats the parameter {', '.join(repeated)}, so it was refused. Nothing was changed.",
            code="saml_slo_invalid",
            status=400,
        )
        return refusal_page(request, refused, connection)
    # The signature is verified over the query string exactly as received, not over our re-encoding of it.
    data = request_data(sp.slo_url, get=request.GET.dict(), query_string=request.META.get("QUERY_STRING", ""))
    auth = AuthWithSkew(data, slo_settings)
    request_id = request.session.get(SAML_LOGOUT_REQUEST_SESSION_KEY)
    if "SAMLResponse" in request.GET and not request_id:
        # A LogoutResponse answers one logout request; without ours in this session it is someone else's (a signed
        # answer replayed here would sign this browser out).
        refused = SSOSignInRefused(
            "This logout answer does not answer a logout started in this browser. Nothing was changed.",
            code="saml_slo_unsolicited",
            status=400,
        )
        return refusal_page(request, refused, connection)

    def end_local_session() -> None:
        if "SAMLRequest" in request.GET and not _logout_names_this_session(request, connection, auth):
            return
        if request.user.is_authenticated:
            sign_out(request)

    try:
        redirect_url = auth.process_slo(request_id=request_id, delete_session_cb=end_local_session)
    except SAMLResponseRejected as exc:
        refused = SSOSignInRefused(
            f"The logout message was refused: {exc.message} Nothing was changed.", code=exc.code, status=400
        )
        return refusal_page(request, refused, connection)
    except (OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError, ValueError, etree.LxmlError, xmlsec.Error) as exc:
        refused = SSOSignInRefused(
            f"The logout message is not valid: {str(exc)[:200]}", code="saml_slo_invalid", status=400
        )
        return refusal_page(request, refused, connection)
    if auth.get_errors():
        reason = auth.get_last_error_reason() or ", ".join(auth.get_errors())
        refused = SSOSignInRefused(
            f"The logout message was refused ({reason[:200]}). You may still be signed in; use Sign out.",
            code="saml_slo_invalid",
            status=400,
        )
        return refusal_page(request, refused, connection)
    if "SAMLResponse" in request.GET:
        request.session.pop(SAML_LOGOUT_REQUEST_SESSION_KEY, None)  # answered: the same answer again is unsolicited
    if redirect_url:
        return redirect(redirect_url)
    return render(request, "sso/saml/signed_out.html", {"connection": connection})


_REDIRECT_BINDING_PARAMETERS = ("SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature")


def _sls_connection(request: HttpRequest, org_slug: str) -> SSOConnection | None:
    session_connection = _org_saml_connections(org_slug).filter(pk=sso_connection_id(request)).first()
    return session_connection or _org_saml_connection(org_slug)


def _logout_names_this_session(request: HttpRequest, connection: SSOConnection, auth: OneLogin_Saml2_Auth) -> bool:
    if not request.user.is_authenticated or sso_connection_id(request) != connection.pk:
        return False
    nameid = OneLogin_Saml2_Logout_Request.get_nameid_data(auth.get_last_request_xml())
    return SSOIdentity.objects.filter(
        connection=connection, user=request.user, issuer=connection.saml.idp_entity_id, subject=nameid.get("Value")
    ).exists()


@require_POST
def logout(request: HttpRequest, org_slug: str) -> HttpResponse:
    """SP-initiated Single Logout: end the session here, then ask the IdP to end its session too (when the IdP
    has an SLO URL: ``sso.saml.logout``, what the plain "Sign out" also does). The IdP's LogoutResponse comes back
    to the SLS endpoint."""
    connection = _org_saml_connections(org_slug).filter(pk=sso_connection_id(request)).first()
    handoff = sp_initiated_logout(request) if connection is not None else None
    if handoff is not None and not handoff.url:
        handoff = None
    sign_out(request, handoff=handoff)
    if handoff is None:
        messages.info(request, "You are signed out.")
        return redirect("login")
    return redirect(handoff.url)
