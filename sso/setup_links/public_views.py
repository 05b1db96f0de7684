"""The IdP admin's pages, under /sso/<org_slug>/setup/: no account, no organization pipeline; each request is let
in only by a set-up link bound to this browser (a signed cookie holding the link's id and the random value whose
hash the link stores), still valid, and from an address the organization's IP allowlist lets in
(``settings.SSO_SETUP_LINK_CHECKS``).

Opening the link (GET) shows a start page and binds nothing, so a mail scanner or chat preview that fetches the
URL cannot take the link; starting the set-up (POST) binds it to this browser, and the link's secret leaves the
address bar. Everything the IdP admin can do here is one of ``sso.setup_links.actions``: read our SP details,
enter the IdP's details of the link's connection, run a test sign-in and read its result.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from orgsecurity.actions import ActionRefused
from orgsecurity.client_ip import client_ip
from orgsecurity.errors import render_refusal
from orgsecurity.outcomes import act
from orgsecurity.pipeline import run_pipeline
from orgsecurity.refusals import Refusal
from orgsecurity.versions import ChangedMeanwhile, loaded_stamp, refuse_if_changed
from sso.connections import actions as sso_actions
from sso.connections.versions import ATTRIBUTE_MAP_LABELS, attribute_map_values
from sso.errors import SSOSignInRefused
from sso.models import OIDCSettings, SAMLSettings, SSOConnection, SSOPendingLogin, SSOSetupLink
from sso.oidc import versions as oidc_versions
from sso.oidc.config import callback_url
from sso.oidc.discovery import DiscoveryError, discover
from sso.oidc.forms import OIDCSettingsForm
from sso.protocols import handler_for
from sso.saml import versions as saml_versions
from sso.saml.config import onelogin_settings, sp_endpoints
from sso.saml.forms import IdPSourceForm, PresetForm
from sso.saml.presets import PRESETS, preset_of
from sso.setup_links import actions
from sso.setup_links.steps import connection_steps
from sso.signin import flow

COOKIE = "sso_setup"
COOKIE_SALT = "sso.setup_link"
REFUSED_TEMPLATE = "sso/setup/refused.html"


def _cookie_path(org_slug: str) -> str:
    return reverse("sso_public:setup", args=[org_slug])


def _step_url(org_slug: str, step: str) -> str:
    """The set-up page at one of its steps (``sp``, ``idp``, ``test``, ``rollout``)."""
    return reverse("sso_public:setup", args=[org_slug]) + f"#step-{step}"


def _changed_meanwhile(
    request: HttpRequest, org_slug: str, current: Mapping[str, Any], labels: Mapping[str, str], step: str
) -> HttpResponse | None:
    """None when the submitted form was loaded with ``current`` (``orgsecurity.versions``; the organization's
    admins or its admin API may change the connection meanwhile); otherwise the refusal, with what changed, on the
    set-up page at ``step``, which shows the saved details."""
    try:
        refuse_if_changed(request.POST, current, labels)
    except ChangedMeanwhile as exc:
        messages.error(request, exc.message)
        return redirect(_step_url(org_slug, step))
    return None


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, private"
    return response


def _refused(request: HttpRequest, code: str, message: str, status: int) -> HttpResponse:
    return _no_store(render_refusal(request, Refusal(code, message, status, template=REFUSED_TEMPLATE)))


def _state_refusal(request: HttpRequest, link: SSOSetupLink) -> HttpResponse | None:
    """The refusal for a link that was revoked or expired (audited), else None."""
    state = link.state()
    if state not in ("revoked", "expired"):
        return None
    actions.note_refusal(link, state, ip=client_ip(request))
    who = link.created_by.email if link.created_by else "the organization"
    message = (
        f"This set-up link was revoked. Ask {who} for a new one if the set-up is not finished."
        if state == "revoked"
        else f"This set-up link expired on {link.expires_at:%Y-%m-%d %H:%M} UTC. Ask {who} for a new one."
    )
    return _refused(request, f"link_{state}", message, 410)


def _cookie_value(request: HttpRequest) -> tuple[int, str] | None:
    raw = request.get_signed_cookie(COOKIE, default=None, salt=COOKIE_SALT)
    if not raw or ":" not in raw:
        return None
    pk, _, binding = raw.partition(":")
    return (int(pk), binding) if pk.isdigit() and binding else None


def _is_bound_here(request: HttpRequest, link: SSOSetupLink) -> bool:
    value = _cookie_value(request)
    return (
        value is not None
        and value[0] == link.pk
        and bool(link.browser_binding)
        and secrets.compare_digest(actions.binding_hash(value[1]), link.browser_binding)
    )


def _other_browser(request: HttpRequest, link: SSOSetupLink) -> HttpResponse:
    actions.note_refusal(link, "other_browser", ip=client_ip(request))
    who = link.created_by.email if link.created_by else "the organization"
    return _refused(
        request,
        "other_browser",
        "This set-up link was already opened in another browser, and it works only there. Continue in that "
        f"browser, or ask {who} for a new link.",
        403,
    )


def _checks(request: HttpRequest, link: SSOSetupLink) -> HttpResponse | None:
    """The checks every set-up request passes after the link itself (``settings.SSO_SETUP_LINK_CHECKS``: the
    organization's IP allowlist)."""
    refusal = run_pipeline(settings.SSO_SETUP_LINK_CHECKS, request, link)
    if refusal is None:
        return None
    return _no_store(render_refusal(request, refusal))


def bound_link(request: HttpRequest, org_slug: str) -> tuple[SSOSetupLink | None, HttpResponse | None]:
    """The set-up link this browser holds for ``org_slug``, or the answer refusing the request: no link here
    (404), another browser's (403), revoked or expired (410), or an address outside the IP allowlist (403)."""
    value = _cookie_value(request)
    link = None
    if value is not None:
        link = (
            SSOSetupLink.objects.select_related("connection__organization", "created_by")
            .filter(pk=value[0], connection__organization__slug=org_slug)
            .first()
        )
    if link is None:
        return None, _refused(
            request,
            "no_setup_link",
            "This browser has no set-up link for this organization. Open the link you were given.",
            404,
        )
    refusal = _state_refusal(request, link)
    if refusal is not None:
        return None, refusal
    if not _is_bound_here(request, link):
        return None, _other_browser(request, link)
    refusal = _checks(request, link)
    if refusal is not None:
        return None, refusal
    return link, None


@require_http_methods(["GET", "HEAD", "POST"])
def open_link(request: HttpRequest, org_slug: str, token: str) -> HttpResponse:
    """GET: the start page of a set-up link (binds nothing). POST: bind the link to this browser (the first one
    wins), set its cookie and go to the set-up, whose address no longer carries the secret."""
    link = actions.find_link(org_slug, token)
    if link is None:
        return _refused(request, "unknown_link", "This set-up link is not valid. Check that it was copied whole.", 404)
    refusal = _state_refusal(request, link)
    if refusal is not None:
        return refusal
    if _is_bound_here(request, link):
        return redirect("sso_public:setup", org_slug)
    if link.browser_binding:
        return _other_browser(request, link)
    refusal = _checks(request, link)
    if refusal is not None:
        return refusal
    if request.method != "POST":
        context = {"link": link, "organization": link.connection.organization, "connection": link.connection}
        return _no_store(render(request, "sso/setup/start.html", context))
    binding = secrets.token_urlsafe(32)
    if not actions.bind_link(link, binding=binding, ip=client_ip(request)):
        link.refresh_from_db()
        return _state_refusal(request, link) or _other_browser(request, link)
    response = redirect("sso_public:setup", org_slug)
    response.set_signed_cookie(
        COOKIE,
        f"{link.pk}:{binding}",
        salt=COOKIE_SALT,
        max_age=max(0, int((link.expires_at - timezone.now()).total_seconds())),
        path=_cookie_path(org_slug),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def _setup_page(
    request: HttpRequest, link: SSOSetupLink, *, idp_form=None, oidc_form=None, status: int = 200
) -> HttpResponse:
    connection = link.connection
    slug = connection.organization.slug
    context = {
        "link": link,
        "organization": connection.organization,
        "connection": connection,
        "steps": connection_steps(connection),
        "runs": link.test_runs.order_by("-started_at")[:10],
        "can_change": connection.status in actions.SETUP_STATUSES,
    }
    if connection.protocol == SSOConnection.Protocol.SAML:
        saml = SAMLSettings.objects.filter(connection=connection).first()
        preset = preset_of(connection.attribute_map)
        context.update(
            saml=saml,
            sp=sp_endpoints(slug),
            preset_form=PresetForm(initial={"preset": preset}),
            preset_version=loaded_stamp(attribute_map_values(connection)),
            saml_idp_version=loaded_stamp(saml_versions.idp_values(connection)),
            preset_label=PRESETS[preset][0] if preset in PRESETS else "",
            idp_form=idp_form or IdPSourceForm(initial={"metadata_url": saml.metadata_url if saml else ""}),
        )
    else:
        oidc = OIDCSettings.objects.filter(connection=connection).first()
        form = oidc_form or OIDCSettingsForm(initial=OIDCSettingsForm.initial_for(oidc), configured=oidc is not None)
        context.update(
            oidc=oidc,
            oidc_redirect_uri=callback_url(slug),
            oidc_form=form,
            oidc_version=loaded_stamp(oidc_versions.settings_values(connection)),
        )
    return _no_store(render(request, "sso/setup/page.html", context, status=status))


@require_safe
def setup(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The guided set-up of the link's connection: the four steps, our details, the IdP's, tests."""
    link, refusal = bound_link(request, org_slug)
    if refusal is not None:
        return refusal
    return _setup_page(request, link)


@require_safe
def sp_metadata(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Our SP metadata of the link's SAML connection, as a file to upload to the IdP."""
    link, refusal = bound_link(request, org_slug)
    if refusal is not None:
        return refusal
    if link.connection.protocol != SSOConnection.Protocol.SAML:
        raise Http404("Not a SAML connection.")
    try:
        xml = onelogin_settings(link.connection).get_sp_metadata()
    except SSOSignInRefused as exc:
        return _refused(request, exc.code, exc.message, exc.status)
    response = HttpResponse(xml, content_type="application/samlmetadata+xml")
    response["Content-Disposition"] = f'attachment; filename="{org_slug}-sp-metadata.xml"'
    return response


@require_POST
def saml_idp(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Save the IdP's SAML details (metadata URL, XML or file, or entered by hand) on the link's connection."""
    link, refusal = bound_link(request, org_slug)
    if refusal is not None:
        return refusal
    if link.connection.protocol != SSOConnection.Protocol.SAML:
        raise Http404("Not a SAML connection.")
    stale = _changed_meanwhile(
        request, org_slug, saml_versions.idp_values(link.connection), saml_versions.IDP_LABELS, "idp"
    )
    if stale is not None:
        return stale
    form = IdPSourceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _setup_page(request, link, idp_form=form, status=400)
    return act(
        request,
        lambda: actions.update_saml_idp(
            link, idp=form.idp, source=form.cleaned_data["source"], metadata_url=form.fetched_from
        ),
        success=lambda changes: "IdP details saved. Now run a test sign-in." if changes else "Nothing changed.",
        to=_step_url(org_slug, "test"),
        refused_to=_step_url(org_slug, "idp"),
    )


@require_POST
def saml_preset(request: HttpRequest, org_slug: str) -> HttpResponse:
    """ "Which IdP do you use?": map the SAML attributes as that IdP names them."""
    link, refusal = bound_link(request, org_slug)
    if refusal is not None:
        return refusal
    if link.connection.protocol != SSOConnection.Protocol.SAML:
        raise Http404("Not a SAML connection.")
    stale = _changed_meanwhile(request, org_slug, attribute_map_values(link.connection), ATTRIBUTE_MAP_LABELS, "sp")
    if stale is not None:
        return stale
    form = PresetForm(request.POST)
    if not form.is_valid() or form.cleaned_data["preset"] not in PRESETS:
        messages.error(request, "Choose one of the listed identity providers.")
        return _setup_page(request, link, status=400)
    return act(
        request,
        lambda: actions.choose_saml_preset(link, form.cleaned_data["preset"]),
        success="Attribute mapping set for your IdP.",
        to=_step_url(org_slug, "sp"),
    )


@require_POST
def oidc_settings(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Save the OpenID Connect issuer and client of the link's connection (discovery is read first)."""
    link, refusal = bound_link(request, org_slug)
    if refusal is not None:
        return refusal
    connection = link.connection
    if connection.protocol != SSOConnection.Protocol.OIDC:
        raise Http404("Not an OpenID Connect connection.")
    stale = _changed_meanwhile(
        request, org_slug, oidc_versions.settings_values(connection), oidc_versions.settings_labels(), "idp"
    )
    if stale is not None:
        return stale
    current = OIDCSettings.objects.filter(connection=connection).first()
    form = OIDCSettingsForm(request.POST, configured=current is not None)
    if not form.is_valid():
        return _setup_page(request, link, oidc_form=form, status=400)
    data = form.cleaned_data
    try:
        metadata = None
        if current is None or data["refresh_discovery"] or data["issuer"].strip() != current.issuer:
            metadata = discover(data["issuer"])
        changes = actions.update_oidc(
            link,
            metadata=metadata,
            client_id=data["client_id"],
            client_secret=data["client_secret"] or None,
            scopes=data["scopes"],
            allowed_algorithms=data["allowed_algorithms"],
            accept_missing_email_verified=data["accept_missing_email_verified"],
            preset=data["preset"] or None,
        )
    except DiscoveryError as exc:
        form.add_error("issuer", exc.message)
        return _setup_page(request, link, oidc_form=form, status=400)
    except ActionRefused as exc:
        form.add_error(None, exc.message)
        return _setup_page(request, link, oidc_form=form, status=exc.status)
    saved = changes or data["client_secret"]
    messages.success(request, "OpenID Connect details saved. Now run a test sign-in." if saved else "Nothing changed.")
    return redirect(_step_url(org_slug, "test"))


@require_POST
def start_test(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Send this browser to the IdP for a test sign-in of the link's connection (no session, no link: it only
    checks what the IdP sends); the result page shows what came back."""
    link, refusal = bound_link(request, org_slug)
    if refusal is not None:
        return refusal
    try:
        flow.count_sign_in_start(request)
    except flow.TooManySignInStarts as exc:
        response = _refused(request, exc.code, exc.message, exc.status)
        response["Retry-After"] = str(exc.retry_after)
        return response
    try:
        run = actions.start_test_run(link)
    except ActionRefused as exc:
        return _refused(request, exc.code, exc.message, exc.status)
    connection = link.connection
    try:
        return handler_for(connection).start_login(
            request,
            connection,
            purpose=SSOPendingLogin.Purpose.TEST,
            next_url=sso_actions.tester_result_url(run),
            test_run=run,
        )
    except SSOSignInRefused as exc:
        sso_actions.finish_test_run(run, actor=actions.link_actor(link), success=False, details={}, error=exc.message)
        return redirect(sso_actions.tester_result_url(run))


@require_safe
def test_run(request: HttpRequest, org_slug: str, run_id: int) -> HttpResponse:
    """The result of one of this link's test sign-ins (another link's or an admin's run is 404)."""
    link, refusal = bound_link(request, org_slug)
    if refusal is not None:
        return refusal
    run = get_object_or_404(link.test_runs.all(), pk=run_id)
    context = {"link": link, "organization": link.connection.organization, "connection": link.connection, "run": run}
    return _no_store(render(request, "sso/setup/test_run.html", context))
