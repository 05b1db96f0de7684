"""A test IdP that signs REAL SAML responses and logout requests at test time, with keys made at test time.

Responses are built as XML and signed with python3-saml's ``OneLogin_Saml2_Utils.add_sign`` (xmlsec), so the product
verifies genuine XML-DSig signatures. Each knob breaks exactly one rule, for the attack-shaped tests.
"""

from __future__ import annotations

import base64
import secrets
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

PERSISTENT = C.NAMEID_PERSISTENT
EMAIL = C.NAMEID_EMAIL_ADDRESS
NS = 'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'


def make_key_pair(common_name: str, *, days: int = 365, expired_days_ago: int | None = None) -> tuple[str, str]:
    """A fresh RSA key and self-signed certificate (PEM), valid from yesterday for ``days`` days; or, with
    ``expired_days_ago``, one whose validity ended that many days ago (valid for a year before that)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    not_before, not_after = now - timedelta(days=1), now + timedelta(days=days)
    if expired_days_ago is not None:
        not_after = now - timedelta(days=expired_days_ago)
        not_before = not_after - timedelta(days=365)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(xml: str, key: str, cert: str, *, sha1: bool = False) -> str:
    """Sign the element whose Issuer comes first in ``xml`` (enveloped signature after that Issuer)."""
    signed = OneLogin_Saml2_Utils.add_sign(
        xml,
        key,
        cert,
        sign_algorithm=C.RSA_SHA1 if sha1 else C.RSA_SHA256,
        digest_algorithm=C.SHA1 if sha1 else C.SHA256,
    )
    return signed.decode() if isinstance(signed, bytes) else signed


def b64(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


def unb64(value: str) -> str:
    return base64.b64decode(value).decode()


class TestIdP:
    """One IdP: entity ID, SSO/SLO URLs, a signing key pair (``extra_certs`` for rollover)."""

    __test__ = False  # not a pytest class

    def __init__(self, entity_id: str = "https://idp.acme.test/saml/metadata", host: str = "idp.acme.test") -> None:
        self.entity_id = entity_id
        self.sso_url = f"https://{host}/sso"
        self.slo_url = f"https://{host}/slo"
        self.key, self.cert = make_key_pair(host)
        self.extra_certs: list[str] = []
        self.want_authn_requests_signed = False

    def metadata_xml(self) -> str:
        def key_descriptor(cert: str) -> str:
            body = "".join(cert.strip().splitlines()[1:-1])
            return (
                '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
                f"{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            )

        certs = "".join(key_descriptor(cert) for cert in [self.cert, *self.extra_certs])
        want = "true" if self.want_authn_requests_signed else "false"
        return (
            '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID={quoteattr(self.entity_id)}>'
            f'<md:IDPSSODescriptor WantAuthnRequestsSigned="{want}" '
            'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            f"{certs}"
            f'<md:SingleLogoutService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{self.slo_url}"/>'
            f"<md:NameIDFormat>{PERSISTENT}</md:NameIDFormat>"
            f'<md:SingleSignOnService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{self.sso_url}"/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        )

    def assertion_xml(
        self,
        *,
        sp_entity_id: str,
        acs_url: str,
        name_id: str,
        in_response_to: str | None,
        name_id_format: str = PERSISTENT,
        attributes: dict[str, list[str]] | None = None,
        issuer: str | None = None,
        assertion_id: str | None = None,
        audience: str | None = None,
        recipient: str | None = None,
        not_before: datetime | None = None,
        not_on_or_after: datetime | None = None,
        confirmation_not_on_or_after: datetime | bool | None = None,
        confirmation_not_before: datetime | None = None,
        authn_instant: datetime | None = None,
        session_not_on_or_after: datetime | None = None,
        issue_instant: datetime | None = None,
        audience_restrictions: list[list[str]] | None = None,
    ) -> str:
        """An assertion (unsigned XML). ``audience_restrictions``: one list of Audience values per
        AudienceRestriction element (default: one restriction naming ``audience`` or ``sp_entity_id``)."""
        now = datetime.now(UTC)
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        scd_expiry = (
            confirmation_not_on_or_after if confirmation_not_on_or_after is not None else now + timedelta(minutes=5)
        )
        scd_nooa = "" if scd_expiry is False else f' NotOnOrAfter="{iso(scd_expiry)}"'
        scd_nb = f' NotBefore="{iso(confirmation_not_before)}"' if confirmation_not_before else ""
        session_end = f' SessionNotOnOrAfter="{iso(session_not_on_or_after)}"' if session_not_on_or_after else ""
        restrictions = "".join(
            "<saml:AudienceRestriction>"
            + "".join(f"<saml:Audience>{escape(value)}</saml:Audience>" for value in values)
            + "</saml:AudienceRestriction>"
            for values in (audience_restrictions or [[audience or sp_entity_id]])
        )
        attribute_xml = "".join(
            f"<saml:Attribute Name={quoteattr(name)}>"
            + "".join(f"<saml:AttributeValue>{escape(value)}</saml:AttributeValue>" for value in values)
            + "</saml:Attribute>"
            for name, values in (attributes or {}).items()
        )
        statement = f"<saml:AttributeStatement>{attribute_xml}</saml:AttributeStatement>" if attribute_xml else ""
        return (
            f'<saml:Assertion {NS} ID="{assertion_id or "_a" + secrets.token_hex(16)}" Version="2.0" '
            f'IssueInstant="{iso(issue_instant or now)}">'
            f"<saml:Issuer>{escape(issuer or self.entity_id)}</saml:Issuer>"
            f"<saml:Subject><saml:NameID Format={quoteattr(name_id_format)}>{escape(name_id)}</saml:NameID>"
            f'<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f"<saml:SubjectConfirmationData{irt}{scd_nb}{scd_nooa} Recipient={quoteattr(recipient or acs_url)}/>"
            "</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{iso(not_before or now - timedelta(minutes=1))}" '
            f'NotOnOrAfter="{iso(not_on_or_after or now + timedelta(minutes=5))}">'
            f"{restrictions}</saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{iso(authn_instant or now)}"{session_end} '
            f'SessionIndex="_s{secrets.token_hex(8)}">'
            "<saml:AuthnContext><saml:AuthnContextClassRef>"
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            f"{statement}</saml:Assertion>"
        )

    def response_xml(
        self,
        assertion: str,
        *,
        acs_url: str,
        in_response_to: str | None,
        destination: str | bool | None = None,
        issuer: str | None = None,
        status: str = C.STATUS_SUCCESS,
        issue_instant: datetime | None = None,
    ) -> str:
        now = issue_instant or datetime.now(UTC)
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        dest = "" if destination is False else f" Destination={quoteattr(destination or acs_url)}"
        return (
            f'<samlp:Response {NS} ID="_r{secrets.token_hex(16)}" Version="2.0" IssueInstant="{iso(now)}"{dest}{irt}>'
            f"<saml:Issuer>{escape(issuer or self.entity_id)}</saml:Issuer>"
            f'<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>'
            f"{assertion}</samlp:Response>"
        )

    def response(
        self,
        *,
        sp_entity_id: str,
        acs_url: str,
        name_id: str,
        in_response_to: str | None,
        sign_assertion: bool = True,
        sign_response: bool = False,
        sha1: bool = False,
        key: str | None = None,
        cert: str | None = None,
        destination: str | bool | None = None,
        response_issuer: str | None = None,
        response_issue_instant: datetime | None = None,
        **assertion_options,
    ) -> str:
        """A base64 SAMLResponse, signed as asked (by default: only the assertion, RSA-SHA256)."""
        key, cert = key or self.key, cert or self.cert
        assertion = self.assertion_xml(
            sp_entity_id=sp_entity_id,
            acs_url=acs_url,
            name_id=name_id,
            in_response_to=in_response_to,
            **assertion_options,
        )
        if sign_assertion:
            assertion = strip_declaration(sign(assertion, key, cert, sha1=sha1))
        xml = self.response_xml(
            assertion,
            acs_url=acs_url,
            in_response_to=in_response_to,
            destination=destination,
            issuer=response_issuer,
            issue_instant=response_issue_instant,
        )
        if sign_response:
            xml = strip_declaration(sign(xml, key, cert, sha1=sha1))
        return b64(xml)

    def logout_request_query(
        self, *, sls_url: str, name_id: str, name_id_format: str = PERSISTENT, signed: bool = True
    ) -> dict[str, str]:
        """The query of an IdP-initiated LogoutRequest over HTTP-Redirect, signed with this IdP's key."""
        xml = self.logout_request_xml(sls_url=sls_url, name_id=name_id, name_id_format=name_id_format)
        encoded = base64.b64encode(zlib.compress(xml.encode())[2:-4]).decode()
        query = {"SAMLRequest": encoded, "RelayState": "idp-relay"}
        if signed:
            query["SigAlg"] = C.RSA_SHA256
            to_sign = OneLogin_Saml2_Auth._build_sign_query(encoded, "idp-relay", C.RSA_SHA256, "SAMLRequest")
            query["Signature"] = base64.b64encode(OneLogin_Saml2_Utils.sign_binary(to_sign, self.key)).decode()
        return query

    def logout_request_xml(
        self,
        *,
        sls_url: str,
        name_id: str,
        name_id_format: str = PERSISTENT,
        not_on_or_after: datetime | None = None,
    ) -> str:
        """An IdP-initiated LogoutRequest (SAML Core §3.7.1) for ``name_id``."""
        expiry = f' NotOnOrAfter="{iso(not_on_or_after)}"' if not_on_or_after else ""
        return (
            f'<samlp:LogoutRequest {NS} ID="_l{secrets.token_hex(16)}" Version="2.0" '
            f'IssueInstant="{iso(datetime.now(UTC))}"{expiry} Destination={quoteattr(sls_url)}>'
            f"<saml:Issuer>{escape(self.entity_id)}</saml:Issuer>"
            f"<saml:NameID Format={quoteattr(name_id_format)}>{escape(name_id)}</saml:NameID>"
            "</samlp:LogoutRequest>"
        )

    def logout_response_xml(self, *, sls_url: str, in_response_to: str) -> str:
        """The IdP's LogoutResponse (SAML Core §3.7.2, status Success) to our LogoutRequest ``in_response_to``."""
        return (
            f'<samlp:LogoutResponse {NS} ID="_lr{secrets.token_hex(16)}" Version="2.0" '
            f'IssueInstant="{iso(datetime.now(UTC))}" Destination={quoteattr(sls_url)} '
            f"InResponseTo={quoteattr(in_response_to)}>"
            f"<saml:Issuer>{escape(self.entity_id)}</saml:Issuer>"
            f'<samlp:Status><samlp:StatusCode Value="{C.STATUS_SUCCESS}"/></samlp:Status></samlp:LogoutResponse>'
        )

    def redirect_query(
        self, xml: str, *, saml_type: str = "SAMLRequest", relay_state: str | None = None, lowercase: bool = False
    ) -> str:
        """The raw query string of an HTTP-Redirect message (SAML Bindings §3.4.4.1) as this IdP encodes it and
        signs it: ``lowercase`` percent-escapes (``%2f``, as ADFS and Entra ID send them), signed over exactly
        that text with RSA-SHA256."""
        encoded = base64.b64encode(zlib.compress(xml.encode())[2:-4]).decode()
        signed = [f"{saml_type}={OneLogin_Saml2_Utils.escape_url(encoded, lowercase)}"]
        if relay_state is not None:
            signed.append(f"RelayState={OneLogin_Saml2_Utils.escape_url(relay_state, lowercase)}")
        signed.append(f"SigAlg={OneLogin_Saml2_Utils.escape_url(C.RSA_SHA256, lowercase)}")
        to_sign = "&".join(signed)
        signature = base64.b64encode(OneLogin_Saml2_Utils.sign_binary(to_sign, self.key)).decode()
        return f"{to_sign}&Signature={OneLogin_Saml2_Utils.escape_url(signature, lowercase)}"


def strip_declaration(xml: str) -> str:
    return xml.split("?>", 1)[1] if xml.startswith("<?xml") else xml


def redirect_message(location: str) -> tuple[str, dict[str, list[str]]]:
    """Inflate the SAMLRequest/SAMLResponse of an HTTP-Redirect URL; returns (xml, query)."""
    query = parse_qs(urlsplit(location).query)
    value = (query.get("SAMLRequest") or query.get("SAMLResponse"))[0]
    return zlib.decompress(base64.b64decode(value), -15).decode(), query


def query_string(values: dict[str, str]) -> str:
    return urlencode(values)


XMLENC11 = "http://www.w3.org/2009/xmlenc11#"


def encrypt_assertion(
    signed_response_b64: str,
    sp_certificate: str,
    *,
    key_transport: str = "rsa-oaep-mgf1p",
    mgf: str | None = None,
    content: str = "aes128-cbc",
) -> str:
    """Replace the (signed) assertion of a response with an EncryptedAssertion for ``sp_certificate``, as IdPs do
    when the SP publishes an encryption certificate: the content key (``content``: aes128-cbc or aes256-gcm) wrapped
    with ``key_transport`` "rsa-oaep-mgf1p" (XML Encryption 1.0) or "xmlenc11" (``http://www.w3.org/2009/xmlenc11#
    rsa-oaep`` with a SHA-256 digest and, when ``mgf`` is given, an ``xenc11:MGF`` element such as "mgf1sha256",
    as ADFS and Entra ID send it; XML Encryption 1.1 §5.5.2). xmlsec reads those parameters when it encrypts."""
    import xmlsec
    from lxml import etree

    root = etree.fromstring(base64.b64decode(signed_response_b64))
    assertion = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    wrapper = etree.Element("{urn:oasis:names:tc:SAML:2.0:assertion}EncryptedAssertion")
    assertion.addprevious(wrapper)
    wrapper.append(assertion)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(sp_certificate.encode(), xmlsec.KeyFormat.CERT_PEM, None))
    cipher, bits = {"aes128-cbc": (xmlsec.Transform.AES128, 128), "aes256-gcm": (xmlsec.Transform.AES256_GCM, 256)}[
        content
    ]
    template = xmlsec.template.encrypted_data_create(wrapper, cipher, type=xmlsec.EncryptionType.ELEMENT, ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="dsig")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, xmlsec.Transform.RSA_OAEP)
    if key_transport == "xmlenc11":
        method = encrypted_key.find("{http://www.w3.org/2001/04/xmlenc#}EncryptionMethod")
        method.set("Algorithm", f"{XMLENC11}rsa-oaep")
        digest = etree.SubElement(method, "{http://www.w3.org/2000/09/xmldsig#}DigestMethod")
        digest.set("Algorithm", "http://www.w3.org/2001/04/xmlenc#sha256")
        if mgf is not None:
            etree.SubElement(method, f"{{{XMLENC11}}}MGF", nsmap={"xenc11": XMLENC11}).set(
                "Algorithm", f"{XMLENC11}{mgf}"
            )
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    context = xmlsec.EncryptionContext(manager)
    context.key = xmlsec.Key.generate(xmlsec.KeyData.AES, bits, xmlsec.KeyDataType.SESSION)
    context.encrypt_xml(template, assertion)
    return base64.b64encode(etree.tostring(root)).decode()
