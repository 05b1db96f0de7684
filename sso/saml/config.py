"""The SP's own values for an organization (entity ID, ACS, SLO, metadata URL) and python3-saml settings.

Every URL comes from ``settings.PUBLIC_BASE_URL`` (``sso.signin.flow.public_url``), never from the request's Host
header, so the values the IdP admin pasted stay right behind a TLS-terminating proxy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.urls import reverse
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from orgsecurity.crypto import decrypt_secret
from sso.errors import SSOSignInRefused
from sso.models import SAMLSettings, SSOConnection
from sso.saml.certificates import load_certificate
from sso.signin.flow import public_url

# What our SP metadata asks for: a persistent NameID (SAML Core §8.3.7). AuthnRequests carry no NameIDPolicy, so
# an IdP configured for the email address (or another stable format) still answers.
NAMEID_FORMAT = Constants.NAMEID_PERSISTENT


@dataclass(frozen=True)
class SPEndpoints:
    """What an IdP admin pastes for one organization: our entity ID (also the metadata URL), ACS and SLO URLs."""

    entity_id: str
    acs_url: str
    slo_url: str
    metadata_url: str


def clock_skew() -> timedelta:
    """The clock skew allowed between an IdP and this server for every time condition of a SAML message
    (``settings.SSO_SAML_CLOCK_SKEW_SECONDS``; SAML Core §2.5.1.2 and §2.4.1.2 leave the allowance to the relying
    party). A NotBefore or IssueInstant up to this far ahead of our clock, and a NotOnOrAfter or
    SessionNotOnOrAfter up to this far behind it, are accepted."""
    return timedelta(seconds=settings.SSO_SAML_CLOCK_SKEW_SECONDS)


def max_response_chars() -> int:
    """The largest base64 SAMLResponse accepted at the ACS, in characters (``settings.SSO_SAML_MAX_RESPONSE_KIB``
    KiB)."""
    return settings.SSO_SAML_MAX_RESPONSE_KIB * 1024


def sp_endpoints(org_slug: str) -> SPEndpoints:
    """The SP's absolute URLs for ``org_slug``, built from PUBLIC_BASE_URL."""
    return _sp_endpoints(settings.PUBLIC_BASE_URL, org_slug)


@lru_cache(maxsize=1024)
def _sp_endpoints(_base_url: str, org_slug: str) -> SPEndpoints:
    # Pure function of the base URL and the slug (reversing three URLs costs more than the rest of the ACS's
    # own bookkeeping); the base URL is part of the key so a settings change is never served stale.
    metadata = public_url(reverse("sso_public:saml:metadata", args=[org_slug]))
    return SPEndpoints(
        entity_id=metadata,
        acs_url=public_url(reverse("sso_public:saml:acs", args=[org_slug])),
        slo_url=public_url(reverse("sso_public:saml:sls", args=[org_slug])),
        metadata_url=metadata,
    )


def request_data(
    url: str,
    *,
    get: dict[str, Any] | None = None,
    post: dict[str, Any] | None = None,
    query_string: str | None = None,
) -> dict[str, Any]:
    """python3-saml's description of "the request we received", made from OUR public URL for that endpoint.

    python3-saml compares Destination and Recipient with this URL; building it from PUBLIC_BASE_URL (not from the
    Host header an attacker controls) is what makes those comparisons mean anything. ``query_string``: the raw
    query string as received (still percent-encoded), given for HTTP-Redirect messages: their signature is then
    verified over the SAMLRequest/SAMLResponse, RelayState and SigAlg parameters exactly as the sender encoded
    them (SAML Bindings §3.4.4.1), not over our re-encoding of the decoded values (ADFS and Entra ID encode
    ``%2f`` in lowercase).
    """
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    data = {
        "https": "on" if scheme == "https" else "off",
        "http_host": host,
        "script_name": "/" + path,
        "get_data": get or {},
        "post_data": post or {},
    }
    if query_string is not None:
        data["query_string"] = query_string
        data["validate_signature_from_qs"] = True
    return data


def saml_settings_of(connection: SSOConnection) -> SAMLSettings:
    """The SAML settings of ``connection``; raises SSOSignInRefused when the connection has none (not set up)."""
    try:
        return connection.saml
    except SAMLSettings.DoesNotExist:
        raise SSOSignInRefused(
            "This SAML connection has no IdP configured yet. Ask an admin to finish its setup.",
            code="saml_not_configured",
            status=409,
        ) from None


def onelogin_settings(
    connection: SSOConnection, saml: SAMLSettings | None = None, *, want_messages_signed: bool = False
) -> OneLogin_Saml2_Settings:
    """python3-saml settings for ``connection`` in strict mode (``want_messages_signed`` for SLO messages).

    Rules (SAML Core §2.3.3, §5; Profiles §4.1.4): the assertion must be signed (a signed response alone is not
    enough), SHA-1 signatures and digests are refused, and only the connection's stored IdP certificates verify.
    Built settings are reused within a process while every value they are made of stays the same (the cache key
    is those values, so a change made by any process is used at once).
    """
    saml = saml or saml_settings_of(connection)
    return _cached_settings(
        public_url(""),
        connection.organization.slug,
        saml.idp_entity_id,
        saml.idp_sso_url,
        saml.idp_sso_binding,
        saml.idp_slo_url,
        tuple(saml.idp_certificates),
        saml.want_authn_requests_signed,
        saml.sp_certificate,
        saml.sp_private_key_encrypted,
        want_messages_signed,
    )


@lru_cache(maxsize=128)
def _cached_settings(
    _base_url: str,
    org_slug: str,
    idp_entity_id: str,
    idp_sso_url: str,
    idp_sso_binding: str,
    idp_slo_url: str,
    idp_certificates: tuple[str, ...],
    want_authn_requests_signed: bool,
    sp_certificate: str,
    sp_private_key_encrypted: str,
    want_messages_signed: bool,
) -> OneLogin_Saml2_Settings:
    sp = sp_endpoints(org_slug)
    idp: dict[str, Any] = {
        "entityId": idp_entity_id,
        "singleSignOnService": {"url": idp_sso_url, "binding": idp_sso_binding},
        "x509certMulti": {"signing": list(idp_certificates), "encryption": []},
    }
    if idp_slo_url:
        idp["singleLogoutService"] = {"url": idp_slo_url, "binding": Constants.BINDING_HTTP_REDIRECT}
    data = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": sp.entity_id,
            "assertionConsumerService": {"url": sp.acs_url, "binding": Constants.BINDING_HTTP_POST},
            "singleLogoutService": {"url": sp.slo_url, "binding": Constants.BINDING_HTTP_REDIRECT},
            "NameIDFormat": NAMEID_FORMAT,
            "x509cert": sp_certificate,
            "privateKey": decrypt_secret(sp_private_key_encrypted),
        },
        "idp": idp,
        "security": {
            "authnRequestsSigned": want_authn_requests_signed,
            "logoutRequestSigned": True,
            "logoutResponseSigned": True,
            "wantMessagesSigned": want_messages_signed,
            "wantAssertionsSigned": True,
            "wantAssertionsEncrypted": False,
            "wantNameId": True,
            "wantNameIdEncrypted": False,
            "wantAttributeStatement": False,
            "requestedAuthnContext": False,
            "rejectDeprecatedAlgorithm": True,
            "signMetadata": False,
            "signatureAlgorithm": Constants.RSA_SHA256,
            "digestAlgorithm": Constants.SHA256,
            "allowRepeatAttributeName": True,
            # Intranet IdPs and our own test hosts may have single-label names (https://idp/...).
            "allowSingleLabelDomains": True,
            # SP metadata (SAML Metadata §2.3.2): valid while its certificate is, re-read by IdPs that poll it
            # daily. python3-saml's defaults (valid 2 days, cached 7) would tell IdPs that import the file once
            # that it expired, and to keep a copy longer than it is valid.
            "metadataValidUntil": load_certificate(sp_certificate).not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "metadataCacheDuration": "P1D",
        },
        "contactPerson": {},
        "organization": {},
    }
    try:
        return OneLogin_Saml2_Settings(data, sp_validation_only=False)
    except OneLogin_Saml2_Error as exc:
        raise SSOSignInRefused(
            f"This SAML connection's settings are not usable ({exc}). Ask an admin to check the IdP settings.",
            code="saml_bad_settings",
            status=409,
        ) from None
