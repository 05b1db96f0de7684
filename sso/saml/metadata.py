"""IdP metadata (SAML Metadata 2.0): parsing with python3-saml's parser, and fetching it safely from a URL.

What we keep of a document: the IdP's entity ID, its SSO URL and binding (HTTP-Redirect preferred, else HTTP-POST),
its SLO URL (HTTP-Redirect), whether it wants signed AuthnRequests, and EVERY signing certificate (during a key
rollover the IdP lists the old and the new one). Encryption-only keys are never trusted for signatures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso.fetch import FetchError, fetch
from sso.saml.certificates import CertificateError, CertificateInfo, load_certificates

MAX_METADATA_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
REDIRECT = Constants.BINDING_HTTP_REDIRECT
POST = Constants.BINDING_HTTP_POST
_SIGNING_CERTS = "./md:KeyDescriptor[not(contains(@use, 'encryption'))]/ds:KeyInfo/ds:X509Data/ds:X509Certificate"


class MetadataError(ValueError):
    """Metadata that cannot configure an IdP, or could not be fetched; the message says why, for an admin."""


@dataclass(frozen=True)
class IdPMetadata:
    """An IdP as our SP needs it. ``certificates`` are the signing certificates, all of them, in document order."""

    entity_id: str
    sso_url: str
    sso_binding: str
    slo_url: str = ""
    want_authn_requests_signed: bool = False
    certificates: list[CertificateInfo] = field(default_factory=list)


def check_endpoints(entity_id: str, sso_url: str, slo_url: str = "") -> None:
    """Refuse (MetadataError) an entity ID over 1024 characters or SSO/SLO URLs that are not valid http(s) URLs."""
    if len(entity_id) > 1024:
        raise MetadataError("The IdP's entity ID is longer than 1024 characters.")
    validate = URLValidator(schemes=["http", "https"])
    for label, url in (("single sign-on", sso_url), ("single logout", slo_url)):
        if not url:
            continue
        try:
            if len(url) > 2000:
                raise ValidationError("too long")
            validate(url)
        except ValidationError:
            raise MetadataError(f"The IdP's {label} URL {url[:200]} is not a valid http(s) URL.") from None


def _parse_xml(document: bytes | str) -> Any:
    raw = document.encode() if isinstance(document, str) else document
    if not raw.strip():
        raise MetadataError("The metadata is empty.")
    if len(raw) > MAX_METADATA_BYTES:
        raise MetadataError(f"The metadata is larger than {MAX_METADATA_BYTES // 1024} KiB; this is not IdP metadata.")
    try:
        return OneLogin_Saml2_XML.to_etree(raw)
    except etree.XMLSyntaxError as exc:
        raise MetadataError(f"This is not well-formed XML ({exc.msg}).") from None
    except ValueError as exc:  # python3-saml's DTDForbidden / EntitiesForbidden
        raise MetadataError(
            "The XML declares a DOCTYPE or entities, which metadata never needs and we refuse for safety."
        ) from exc


def parse_idp_metadata(document: bytes | str) -> IdPMetadata:
    """Read IdP metadata XML (an EntityDescriptor, or an EntitiesDescriptor holding exactly one IdP).

    Raises MetadataError, with what to do, when the XML is broken or unsafe (DOCTYPE/entities), holds no IdP role
    or several IdPs, has no usable SSO endpoint or signing certificate, or is a template such as Entra ID's
    tenant-independent ``{tenantid}`` document.
    """
    root = _parse_xml(document)
    idp_entities = [
        node
        for node in OneLogin_Saml2_XML.query(root, "//md:EntityDescriptor")
        if OneLogin_Saml2_XML.query(node, "./md:IDPSSODescriptor")
    ]
    if not idp_entities:
        if not OneLogin_Saml2_XML.query(root, "//md:EntityDescriptor"):
            raise MetadataError("This XML is not SAML metadata: it has no EntityDescriptor.")
        raise MetadataError(
            "This metadata describes no identity provider (it has no IDPSSODescriptor); it may be a service "
            "provider's metadata. Download the metadata of your IdP instead."
        )
    if len(idp_entities) > 1:
        raise MetadataError(
            f"This metadata lists {len(idp_entities)} identity providers. Paste the metadata of your IdP alone."
        )
    entity = idp_entities[0]
    entity_id = (entity.get("entityID") or "").strip()
    if not entity_id:
        raise MetadataError("The IdP's EntityDescriptor has no entityID.")
    if "{" in entity_id or "}" in entity_id:
        raise MetadataError(
            f"The entity ID {entity_id} is a template, not a real IdP: this is a multi-tenant document such as "
            "Microsoft Entra ID's tenant-independent metadata. Download your own tenant's metadata (Entra ID: "
            "Enterprise applications → your app → Single sign-on → App Federation Metadata Url)."
        )

    # python3-saml reads the first EntityDescriptor; inside a wrapper (older Keycloak) name ours.
    wanted = None if entity is root else entity_id
    if wanted is not None and "'" in wanted:
        raise MetadataError("The IdP's entity ID contains a quote character, which is not a valid URI.")
    parsed = {
        binding: OneLogin_Saml2_IdPMetadataParser.parse(
            root, required_sso_binding=binding, required_slo_binding=REDIRECT, entity_id=wanted
        )
        for binding in (REDIRECT, POST)
    }
    sso_binding = next((b for b in (REDIRECT, POST) if parsed[b].get("idp", {}).get("singleSignOnService")), None)
    if sso_binding is None:
        raise MetadataError(
            "The IdP offers no single sign-on endpoint with the HTTP-Redirect or HTTP-POST binding, "
            "so browsers cannot be sent to it."
        )
    data = parsed[sso_binding]
    idp = data["idp"]
    sso_url = idp["singleSignOnService"]["url"].strip()
    slo_url = idp.get("singleLogoutService", {}).get("url", "").strip()
    check_endpoints(entity_id, sso_url, slo_url)

    idp_descriptor = OneLogin_Saml2_XML.query(entity, "./md:IDPSSODescriptor")[0]
    cert_nodes = OneLogin_Saml2_XML.query(idp_descriptor, _SIGNING_CERTS)
    cert_texts = [OneLogin_Saml2_XML.element_text(node) or "" for node in cert_nodes]
    if not cert_texts:
        raise MetadataError(
            "The IdP lists no signing certificate (only encryption keys, or none), so its responses could not "
            "be verified. Ask your IdP administrator for metadata with a signing certificate."
        )
    try:
        certificates = load_certificates(cert_texts)
    except CertificateError as exc:
        raise MetadataError(f"A signing certificate in the metadata is broken. {exc}") from None
    return IdPMetadata(
        entity_id=entity_id,
        sso_url=sso_url,
        sso_binding=sso_binding,
        slo_url=slo_url,
        want_authn_requests_signed=bool(data.get("security", {}).get("authnRequestsSigned", False)),
        certificates=certificates,
    )


# --- fetching ------------------------------------------------------------------------------------------------


def fetch_metadata(url: str) -> bytes:
    """Fetch a metadata document server-side through ``sso.fetch`` (public addresses only, every redirect hop
    checked, https for public hosts), following at most 3 redirects, with a 1 MiB cap. Raises MetadataError
    saying what failed."""
    try:
        fetched = fetch(
            "GET",
            url.strip(),
            what="metadata",
            max_bytes=MAX_METADATA_BYTES,
            max_redirects=MAX_REDIRECTS,
            accept="application/samlmetadata+xml, application/xml, text/xml",
        )
    except FetchError as exc:
        raise MetadataError(exc.message) from None
    if fetched.status != 200:
        raise MetadataError(f"{fetched.url} answered HTTP {fetched.status}, not the metadata.")
    return fetched.body


@dataclass(frozen=True)
class MetadataAnswer:
    """What a conditional fetch of metadata got: the document (None when the server answered 304 Not Modified)
    and the validators to send next time."""

    document: bytes | None
    etag: str
    last_modified: str


def fetch_metadata_if_changed(url: str, *, etag: str = "", last_modified: str = "") -> MetadataAnswer:
    """Fetch a metadata document as ``fetch_metadata`` does, conditionally (RFC 9110 §13.1: ``If-None-Match``
    with ``etag``, ``If-Modified-Since`` with ``last_modified``, when given). Raises MetadataError saying what
    failed."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        fetched = fetch(
            "GET",
            url.strip(),
            what="metadata",
            max_bytes=MAX_METADATA_BYTES,
            max_redirects=MAX_REDIRECTS,
            accept="application/samlmetadata+xml, application/xml, text/xml",
            headers=headers,
        )
    except FetchError as exc:
        raise MetadataError(exc.message) from None
    if fetched.status == 304 and headers:
        return MetadataAnswer(None, fetched.etag or etag, fetched.last_modified or last_modified)
    if fetched.status != 200:
        raise MetadataError(f"{fetched.url} answered HTTP {fetched.status}, not the metadata.")
    return MetadataAnswer(fetched.body, fetched.etag, fetched.last_modified)
