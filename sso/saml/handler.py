"""The "saml" protocol handler: starts SP-initiated sign-ins (AuthnRequest) and feeds the connection page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from audit.models import AuditEvent
from orgsecurity.versions import loaded_stamp
from sso.models import SAMLSettings, SSOConnection, SSOTestRun
from sso.protocols import ProtocolHandler
from sso.saml import versions
from sso.saml.certificates import CertificateError, CertificateInfo, load_certificate
from sso.saml.commands import configure_saml
from sso.saml.config import onelogin_settings, request_data, saml_settings_of, sp_endpoints
from sso.saml.forms import IdPSourceForm, OptionsForm, PresetForm
from sso.saml.presets import PRESETS, preset_of, suggest_preset
from sso.signin import flow


class SAMLHandler(ProtocolHandler):
    """The "saml" protocol (``sso.protocols.ProtocolHandler``): starts SP-initiated sign-ins, configures
    connections from the command line and contributes to the connection page."""

    protocol = SSOConnection.Protocol.SAML
    create_url_name = "sso:saml:create"

    def start_login(
        self,
        request: HttpRequest,
        connection: SSOConnection,
        *,
        purpose: str,
        next_url: str,
        user: Any = None,
        test_run: SSOTestRun | None = None,
        force_authn: bool = False,
    ) -> HttpResponse:
        """Send the browser to the IdP with an AuthnRequest (SAML Core §3.4; Bindings §3.4 HTTP-Redirect, or §3.5
        HTTP-POST when the IdP offers only that). The request ID is the pending login's key (InResponseTo comes
        back with it); RelayState is that same opaque reference, never a URL. ``force_authn`` sets ForceAuthn.

        Raises sso.errors.SSOSignInRefused when the connection has no IdP configured.
        """
        saml = saml_settings_of(connection)
        settings = onelogin_settings(connection, saml)
        # No NameIDPolicy: the IdP sends the NameID format its admin configured (IdPs differ in what they do with
        # an explicit "unspecified"; SimpleSAMLphp answers it with a transient NameID).
        authn = OneLogin_Saml2_Authn_Request(
            settings, force_authn=force_authn, is_passive=False, set_nameid_policy=False
        )
        key = authn.get_id()
        flow.begin(request, connection, key=key, purpose=purpose, next_url=next_url, user=user, test_run=test_run)
        if saml.idp_sso_binding == SAMLSettings.Binding.POST:
            xml = authn.get_xml()
            if saml.want_authn_requests_signed:
                sp = settings.get_sp_data()
                xml = OneLogin_Saml2_Utils.add_sign(xml, settings.get_sp_key(), sp["x509cert"])
            fields = {"SAMLRequest": OneLogin_Saml2_Utils.b64encode(xml), "RelayState": key}
            return render(request, "sso/saml/post_binding.html", {"action": saml.idp_sso_url, "fields": fields})
        parameters = {"SAMLRequest": authn.get_request(), "RelayState": key}
        if saml.want_authn_requests_signed:
            auth = OneLogin_Saml2_Auth(request_data(sp_endpoints(connection.organization.slug).acs_url), settings)
            auth.add_request_signature(parameters, settings.get_security_data()["signatureAlgorithm"])
        return HttpResponseRedirect(OneLogin_Saml2_Utils.redirect(saml.idp_sso_url, parameters))

    def configure(self, org_slug: str, options: dict[str, Any]) -> str:
        """``configure_sso --protocol saml``: needs ``metadata_url`` or ``metadata_file``; see
        ``sso.saml.commands.configure_saml``."""
        return configure_saml(
            org_slug,
            metadata_url=options.get("metadata_url"),
            metadata_file=options.get("metadata_file"),
            name=options.get("name") or "",
            preset=options.get("preset"),
        )

    def config_context(self, request: HttpRequest, connection: SSOConnection) -> dict[str, Any]:
        """Context for ``templates/sso/saml/_config.html`` on the connection page."""
        saml = SAMLSettings.objects.filter(connection=connection).first()
        certificates = certificate_infos(saml) if saml else []
        suggested = suggested_preset(connection)
        return {
            "saml": saml,
            "sp": sp_endpoints(connection.organization.slug),
            "sp_certificate": load_certificate(saml.sp_certificate) if saml else None,
            "idp_certificates": certificates,
            "certificate_warnings": certificate_warnings(
                certificates, refuse_expired=saml.refuse_expired_certificates if saml else False
            ),
            "saml_idp_version": loaded_stamp(versions.idp_values(connection)),
            "saml_options_version": loaded_stamp(versions.options_values(connection)),
            "idp_form": IdPSourceForm(initial={"metadata_url": saml.metadata_url if saml else ""}),
            "options_form": OptionsForm(
                initial={
                    "allow_idp_initiated": saml.allow_idp_initiated,
                    "want_authn_requests_signed": saml.want_authn_requests_signed,
                    "refuse_expired_certificates": saml.refuse_expired_certificates,
                }
                if saml
                else {}
            ),
            "metadata_source": metadata_source(connection),
            "preset_form": PresetForm(initial={"preset": suggested or preset_of(connection.attribute_map)}),
            "suggested_preset": PRESETS[suggested][0] if suggested else "",
            "preset_label": PRESETS.get(preset_of(connection.attribute_map), ("Custom",))[0],
        }

    def status_warnings(self, connection: SSOConnection) -> list[str]:
        """Short warnings for the security dashboard and the connection list: IdP certificates that expired (and
        whether sign-ins signed with them are still accepted) or expire within 30 days, and our SP certificate
        when it expired or expires within 30 days."""
        saml = SAMLSettings.objects.filter(connection=connection).first()
        if saml is None:
            return []
        warnings = certificate_warnings(certificate_infos(saml), refuse_expired=saml.refuse_expired_certificates)
        return warnings + sp_certificate_warnings(saml)

    def validation_problems(self, connection: SSOConnection) -> list[str]:
        """Why ``connection`` cannot sign anyone in now (``sso.protocols.validation_problems``): every IdP signing
        certificate has expired while the connection refuses expired IdP certificates. [] otherwise."""
        saml = SAMLSettings.objects.filter(connection=connection).first()
        if saml is None or not saml.refuse_expired_certificates:
            return []
        certificates = certificate_infos(saml)
        if certificates and all(cert.expired() for cert in certificates):
            last = max(cert.not_after for cert in certificates)
            return [
                f"Every IdP signing certificate expired (the last on {last:%Y-%m-%d}) and this connection refuses "
                "expired IdP certificates. Upload the IdP's current certificate or refresh the metadata."
            ]
        return []


def certificate_infos(saml: SAMLSettings) -> list[CertificateInfo]:
    """The IdP signing certificates of ``saml`` with subject, fingerprint and validity."""
    return [load_certificate(pem) for pem in saml.idp_certificates]


def sp_certificate_warnings(saml: SAMLSettings) -> list[str]:
    """One sentence when our SP certificate of ``saml`` expired or expires within 30 days (UTC dates)."""
    try:
        cert = load_certificate(saml.sp_certificate)
    except CertificateError:
        return ["The SP certificate cannot be read."]
    if cert.expired():
        return [f"SP certificate {cert.short_fingerprint} expired on {cert.not_after:%Y-%m-%d}."]
    if cert.expires_soon():
        return [f"SP certificate {cert.short_fingerprint} expires on {cert.not_after:%Y-%m-%d}."]
    return []


def certificate_warnings(certificates: list[CertificateInfo], *, refuse_expired: bool = False) -> list[str]:
    """One sentence per IdP certificate that has expired or expires within 30 days (UTC dates). An expired one
    says what happens to responses it signs: still accepted (``refuse_expired`` off, the default) or refused."""
    warnings = []
    for cert in certificates:
        if cert.expired():
            consequence = (
                "sign-ins signed with it are refused"
                if refuse_expired
                else "sign-ins signed with it are still accepted (turn on “Refuse expired IdP certificates”)"
            )
            warnings.append(
                f"IdP certificate {cert.short_fingerprint} expired on {cert.not_after:%Y-%m-%d}; {consequence}."
            )
        elif cert.expires_soon():
            warnings.append(f"IdP certificate {cert.short_fingerprint} expires on {cert.not_after:%Y-%m-%d}.")
    return warnings


METADATA_SOURCES = {"url": "a metadata URL", "xml": "an uploaded metadata XML file", "manual": "entered by hand"}


def metadata_source(connection: SSOConnection) -> str:
    """How the IdP's metadata last came in, as the connection's audit trail recorded it ("an uploaded metadata XML
    file", "entered by hand", ...; "" when unknown). Read-only."""
    event = (
        AuditEvent.objects.filter(
            organization_id=connection.organization_id,
            target_type="sso.ssoconnection",
            target_id=str(connection.pk),
            details__has_key="source",
        )
        .order_by("-pk")
        .values_list("details", flat=True)
        .first()
    )
    return METADATA_SOURCES.get((event or {}).get("source", ""), "")


def suggested_preset(connection: SSOConnection) -> str | None:
    """The preset that matches the attribute names of the connection's first successful test answer
    (``sso.saml.presets.suggest_preset``), when it is not the mapping in use; None otherwise."""
    first = (
        connection.test_runs.filter(result=SSOTestRun.Result.SUCCESS).order_by("pk").values_list("details", flat=True)
    ).first()
    attributes = (first or {}).get("attributes") or {}
    suggestion = suggest_preset(attributes) if isinstance(attributes, dict) else None
    return suggestion if suggestion and suggestion != preset_of(connection.attribute_map) else None
