"""Validating a SAML Response posted to our ACS (SAML Core §2-3, Profiles §4.1.4, Bindings §3.5).

python3-saml in strict mode does the heavy lifting (XML schema, signatures with only our stored certificates,
one signed assertion, XSW defences, decryption, Issuer). On top of it we check what it checks loosely or not at
all: Destination, Recipient and every AudienceRestriction compared EXACTLY with this organization's SP values,
every time condition with one configured clock skew (``check_time_window``), bearer NotOnOrAfter present (so the
replay record can expire), signatures by expired IdP certificates when the connection refuses them, and NameID
formats that cannot identify a person. Every failure becomes ``SAMLResponseRejected`` with a sentence saying what
went wrong and what to change.
"""

from __future__ import annotations

import base64
import binascii
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import xmlsec
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from orgsecurity.refusals import Refusal
from sso.assertion import AssertedIdentity
from sso.errors import SSO_REFUSAL_TEMPLATE
from sso.models import SAMLSettings, SSOConnection
from sso.saml.certificates import CertificateError, CertificateInfo, load_certificate
from sso.saml.config import clock_skew, max_response_chars, onelogin_settings, request_data, sp_endpoints

_FAILURES = (OneLogin_Saml2_ValidationError, OneLogin_Saml2_Error, xmlsec.Error, etree.LxmlError, ValueError, KeyError)
V = OneLogin_Saml2_ValidationError


class SAMLResponseRejected(Refusal):
    """A SAML response we refuse. ``message`` says what went wrong and what to change; ``code`` is stable; the
    person sees the page of every refused SSO sign-in (``sso.errors.SSO_REFUSAL_TEMPLATE``)."""

    def __init__(self, message: str, *, code: str, status: int = 403) -> None:
        super().__init__(code, message, status, template=SSO_REFUSAL_TEMPLATE)


@dataclass(frozen=True)
class ValidatedResponse:
    """A response that passed every check: who it asserts, what request it answers (None: unsolicited), the
    assertion ID and until when (UTC) that ID must be remembered to refuse replays."""

    identity: AssertedIdentity
    in_response_to: str | None
    assertion_id: str
    remember_until: datetime


def peek_in_response_to(saml_response: str) -> str | None:
    """InResponseTo of a response that may be invalid, to find the connection it answers and to route a failed
    Test SSO to its result page. Never trusted for anything else."""
    if len(saml_response) > max_response_chars():
        return None
    try:
        root = OneLogin_Saml2_XML.to_etree(base64.b64decode("".join(saml_response.split()), validate=True))
    except (binascii.Error, ValueError, etree.LxmlError):
        return None
    value = root.get("InResponseTo")
    return value[:255] if value else None


def validate_response(connection: SSOConnection, saml: SAMLSettings, saml_response: str) -> ValidatedResponse:
    """Validate a base64 ``SAMLResponse`` posted to the ACS of ``connection``'s organization.

    Raises SAMLResponseRejected (413 for a response larger than ``settings.SSO_SAML_MAX_RESPONSE_KIB``; 400 for
    malformed input: bad base64, broken XML, DOCTYPE/entities, an assertion that does not decrypt; 403 for a
    well-formed response that fails a rule). Every time condition allows the skew of ``sso.saml.config.clock_skew``.
    Does not look at InResponseTo against our requests or at replays: the caller does that with
    ``sso.signin.flow.claim`` and the consumed-assertion table.
    """
    response = _parse(connection, saml, saml_response)
    sp = sp_endpoints(connection.organization.slug)
    try:
        response.is_valid(request_data(sp.acs_url), raise_exceptions=True)
    except _FAILURES as exc:
        raise _explain(exc, response, saml) from None
    _refuse_expired_signer(response, saml)
    try:
        return _checked(response, saml, sp.entity_id, sp.acs_url)
    except _FAILURES as exc:
        raise _explain(exc, response, saml) from None


def _parse(connection: SSOConnection, saml: SAMLSettings, saml_response: str) -> OneLogin_Saml2_Response:
    if not saml_response:
        raise SAMLResponseRejected("No SAMLResponse was posted.", code="saml_missing", status=400)
    limit = max_response_chars()
    if len(saml_response) > limit:
        raise SAMLResponseRejected(
            f"The SAML response is too large: {-(-len(saml_response) // 1024)} KiB of base64, more than this server "
            f"accepts ({limit // 1024} KiB, the setting SSO_SAML_MAX_RESPONSE_KIB). Configure the IdP to send fewer "
            "attributes or groups, or ask the operator of this server to raise SSO_SAML_MAX_RESPONSE_KIB.",
            code="saml_too_large",
            status=413,
        )
    compact = "".join(saml_response.split())
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise SAMLResponseRejected(
            "The SAML response is not valid base64.", code="saml_bad_base64", status=400
        ) from None
    try:
        return _Response(onelogin_settings(connection, saml), compact)
    except etree.XMLSyntaxError:
        raise SAMLResponseRejected(
            "The SAML response is not well-formed XML.", code="saml_bad_xml", status=400
        ) from None
    except ValueError:  # python3-saml's DTDForbidden / EntitiesForbidden
        raise SAMLResponseRejected(
            "The SAML response declares a DOCTYPE or entities; SAML never needs them, so it was refused.",
            code="saml_doctype",
            status=400,
        ) from None
    except (OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError, xmlsec.Error) as exc:
        raise SAMLResponseRejected(
            f"The encrypted assertion could not be decrypted with this connection's SP key ({_encryption_of(compact)}"
            f"; {str(exc)[:120] or 'no detail'}). This server decrypts key transport {_KEY_TRANSPORTS} and content "
            f"{_CONTENT_CIPHERS}. Give the IdP our current SP metadata (it holds our certificate) and choose one of "
            "these algorithms there.",
            code="saml_decrypt",
            status=400,
        ) from None


_KEY_TRANSPORTS = "RSA-OAEP (xmlenc#rsa-oaep-mgf1p, or xmlenc11#rsa-oaep with MGF1 SHA-1 or SHA-256)"
_CONTENT_CIPHERS = "AES-128/192/256 in CBC or GCM mode"
_XENC = "http://www.w3.org/2001/04/xmlenc#"
_XENC11 = "http://www.w3.org/2009/xmlenc11#"
_DSIG = "http://www.w3.org/2000/09/xmldsig#"


def _encryption_of(compact: str) -> str:
    """How the EncryptedAssertion of a base64 response says it is encrypted, for people: "key transport <URI>
    (digest <URI>, MGF <URI>), content <URI>" (XML Encryption 1.0 §5, 1.1 §5.5.2)."""
    try:
        root = OneLogin_Saml2_XML.to_etree(base64.b64decode(compact))
    except (binascii.Error, ValueError, etree.LxmlError):
        return "algorithm unknown"
    parts = []
    for key_method in root.iterfind(f".//{{{_XENC}}}EncryptedKey/{{{_XENC}}}EncryptionMethod"):
        details = [
            f"{label} {node.get('Algorithm')}"
            for label, node in (
                ("digest", key_method.find(f"{{{_DSIG}}}DigestMethod")),
                ("MGF", key_method.find(f"{{{_XENC11}}}MGF")),
            )
            if node is not None
        ]
        suffix = f" ({', '.join(details)})" if details else ""
        parts.append(f"key transport {key_method.get('Algorithm')}{suffix}")
    for data_method in root.iterfind(f".//{{{_XENC}}}EncryptedData/{{{_XENC}}}EncryptionMethod"):
        parts.append(f"content {data_method.get('Algorithm')}")
    return ", ".join(parts[:4]) or "no EncryptionMethod given"


class _Response(OneLogin_Saml2_Response):
    """python3-saml's Response, with every time condition checked with the one configured skew (``clock_skew``).

    python3-saml 1.16 applies its fixed drift to Conditions only, and none to SubjectConfirmationData or
    SessionNotOnOrAfter, so an IdP whose clock is a few seconds ahead was refused. Here ``validate_timestamps``
    (which python3-saml calls before its other checks) checks IssueInstant, Conditions and SessionNotOnOrAfter;
    the bearer SubjectConfirmationData is checked by ``_bearer_confirmation``. While python3-saml validates, its
    own skew-less comparisons of those values are given nothing to compare (signatures are verified on the
    untouched document).
    """

    _library_validating = False

    def is_valid(self, request_data: dict[str, Any], request_id: str | None = None, raise_exceptions: bool = False):
        self._library_validating = True
        try:
            return super().is_valid(request_data, request_id=request_id, raise_exceptions=raise_exceptions)
        finally:
            self._library_validating = False

    def validate_timestamps(self, raise_exceptions: bool = False) -> bool:
        try:
            _check_time_conditions(self)
        except (SAMLResponseRejected, ValueError):
            if raise_exceptions:
                raise
            return False
        return True

    def get_session_not_on_or_after(self) -> int | None:
        return None if self._library_validating else super().get_session_not_on_or_after()

    def _query_assertion(self, xpath_expr: str) -> list[Any]:
        nodes = super()._query_assertion(xpath_expr)
        if self._library_validating and xpath_expr == _SUBJECT_CONFIRMATION:
            return [_without_time_window(node) for node in nodes]
        return nodes


_SUBJECT_CONFIRMATION = "/saml:Subject/saml:SubjectConfirmation"


def _without_time_window(confirmation: Any) -> Any:
    copy = deepcopy(confirmation)
    data = copy.find("saml:SubjectConfirmationData", namespaces=Constants.NSMAP)
    if data is not None:
        data.attrib.pop("NotBefore", None)
        data.attrib.pop("NotOnOrAfter", None)
    return copy


def _check_time_conditions(response: OneLogin_Saml2_Response) -> None:
    """IssueInstant of the Response and the assertion (not in the future), Conditions NotBefore/NotOnOrAfter and
    AuthnStatement SessionNotOnOrAfter, each with the configured skew (SAML Core §2.5.1.2, §2.7.2, §3.2.2)."""
    assertion = _one(response._query_assertion(""))
    check_time_window("response", response.document.get("IssueInstant"), None, first="IssueInstant")
    if assertion is not None:
        check_time_window("assertion", assertion.get("IssueInstant"), None, first="IssueInstant")
    for conditions in response._query_assertion("/saml:Conditions"):
        check_time_window("Conditions", conditions.get("NotBefore"), conditions.get("NotOnOrAfter"))
    for authn in response._query_assertion("/saml:AuthnStatement[@SessionNotOnOrAfter]"):
        check_time_window("AuthnStatement", None, authn.get("SessionNotOnOrAfter"), last="SessionNotOnOrAfter")


def check_time_window(
    where: str,
    not_before: str | None,
    not_on_or_after: str | None,
    *,
    first: str = "NotBefore",
    last: str = "NotOnOrAfter",
    message: str = "assertion",
) -> None:
    """The one rule for every SAML time condition: refuse when ``not_before`` (xs:dateTime text, UTC) is later than
    now + ``clock_skew()``, or ``not_on_or_after`` is not later than now - ``clock_skew()`` (SAML Core §1.3.3,
    §2.5.1.2). ``where``/``first``/``last`` name the element and attributes in the refusal; ``message`` names what
    is refused ("assertion", "logout request").

    Raises SAMLResponseRejected (code ``saml_not_yet_valid`` or ``saml_expired``, 403); ValueError when a value is
    not an xs:dateTime.
    """
    now = datetime.now(UTC)
    skew = clock_skew()
    allowance = f"{int(skew.total_seconds())} s of clock skew allowed (SSO_SAML_CLOCK_SKEW_SECONDS)"
    if not_before and _utc(OneLogin_Saml2_Utils.parse_SAML_to_time(not_before)) > now + skew:
        raise SAMLResponseRejected(
            f"The {message} is not valid yet: the {where} {first} is {not_before}, later than this server's time "
            f"{now:%Y-%m-%dT%H:%M:%SZ} with {allowance}. The IdP's clock is probably ahead; check the clocks.",
            code="saml_not_yet_valid",
        )
    if not_on_or_after and _utc(OneLogin_Saml2_Utils.parse_SAML_to_time(not_on_or_after)) + skew <= now:
        raise SAMLResponseRejected(
            f"The {message} has expired: the {where} {last} is {not_on_or_after}, before this server's time "
            f"{now:%Y-%m-%dT%H:%M:%SZ} with {allowance}. Try again; if this keeps happening, check the clocks "
            "of the IdP and of this server.",
            code="saml_expired",
        )


class LogoutRequestWithSkew(OneLogin_Saml2_Logout_Request):
    """python3-saml's LogoutRequest (SAML Core §3.7.1) whose NotOnOrAfter allows the configured skew like every
    other time condition (python3-saml 1.16 allows none). Over HTTP-Redirect the signature covers the query string,
    not this XML, so python3-saml's remaining checks run on the XML without the attribute checked here.

    ``is_valid`` raises SAMLResponseRejected (whatever ``raise_exceptions`` says) when NotOnOrAfter has passed.
    """

    def is_valid(self, request_data: dict[str, Any], raise_exceptions: bool = False) -> bool:
        try:
            root = OneLogin_Saml2_XML.to_etree(self._logout_request)
        except (etree.LxmlError, ValueError):
            return super().is_valid(request_data, raise_exceptions=raise_exceptions)
        not_on_or_after = root.get("NotOnOrAfter")
        if not not_on_or_after:
            return super().is_valid(request_data, raise_exceptions=raise_exceptions)
        check_time_window("LogoutRequest", None, not_on_or_after, message="logout request")
        del root.attrib["NotOnOrAfter"]
        original, self._logout_request = self._logout_request, OneLogin_Saml2_XML.to_string(root)
        try:
            return super().is_valid(request_data, raise_exceptions=raise_exceptions)
        finally:
            self._logout_request = original


class AuthWithSkew(OneLogin_Saml2_Auth):
    """python3-saml's Auth for the SLS endpoint, validating LogoutRequests with ``LogoutRequestWithSkew``."""

    logout_request_class = LogoutRequestWithSkew


def _one(nodes: list[Any]) -> Any:
    return nodes[0] if nodes else None


def _checked(
    response: OneLogin_Saml2_Response, saml: SAMLSettings, sp_entity_id: str, acs_url: str
) -> ValidatedResponse:
    document = response.get_xml_document()
    destination = document.get("Destination")
    if destination != acs_url:
        raise SAMLResponseRejected(
            f"The response is addressed to {destination or '(no Destination)'}, not to this organization's ACS URL "
            f"{acs_url}. Set the ACS URL in your IdP to exactly {acs_url}.",
            code="saml_destination",
        )
    _check_audience_restrictions(response, sp_entity_id)
    bearer = _bearer_confirmation(response, acs_url)
    in_response_to = _signed_in_response_to(document, bearer)
    not_on_or_after = bearer.get("NotOnOrAfter")
    assertion = _one(response._query_assertion(""))
    nameid = response.get_nameid_data()
    subject = nameid.get("Value") or ""
    subject_format = nameid.get("Format") or Constants.NAMEID_UNSPECIFIED
    if subject_format == Constants.NAMEID_TRANSIENT:
        raise SAMLResponseRejected(
            "The IdP sent a transient NameID, which changes at every sign-in and cannot identify a person. Configure "
            "the IdP to send a persistent NameID (or the email address) for this application.",
            code="saml_transient_nameid",
        )
    if len(subject) > 1024:
        raise SAMLResponseRejected("The NameID is longer than 1024 characters.", code="saml_nameid_too_long")
    if len(subject_format) > 255:
        raise SAMLResponseRejected(
            "The NameID format is longer than 255 characters, so it is not a NameID format URI. Configure the IdP "
            "to send a persistent NameID (or the email address).",
            code="saml_nameid_format",
        )
    attributes = _attributes(response)
    authn = _one(response._query_assertion("/saml:AuthnStatement"))
    authn_instant = authn.get("AuthnInstant") if authn is not None else None
    identity = AssertedIdentity(
        issuer=saml.idp_entity_id,
        subject=subject,
        subject_format=subject_format,
        attributes=attributes,
        email_verified=True,  # the IdP signs the attributes of accounts it manages
        authenticated_at=_utc(OneLogin_Saml2_Utils.parse_SAML_to_time(authn_instant)) if authn_instant else None,
        session_index=response.get_session_index() or "",
        groups_not_sent=groups_not_sent(attributes),
        authn_contexts=tuple(str(value)[:1024] for value in response.get_authn_contexts())[:20],
    )
    skew = clock_skew()
    return ValidatedResponse(
        identity=identity,
        in_response_to=in_response_to[:255] if in_response_to else None,
        assertion_id=(assertion.get("ID") or "")[:255],
        remember_until=_utc(OneLogin_Saml2_Utils.parse_SAML_to_time(not_on_or_after)) + skew,
    )


def _check_audience_restrictions(response: OneLogin_Saml2_Response, sp_entity_id: str) -> None:
    """Every AudienceRestriction of the assertion names our entity ID exactly, and there is at least one (SAML Core
    §2.5.1.4: the assertion is addressed to the audiences of EACH restriction; several restrictions narrow it)."""
    restrictions = response._query_assertion("/saml:Conditions/saml:AudienceRestriction")
    audiences = response.get_audiences()
    if not restrictions or sp_entity_id not in audiences:
        raise SAMLResponseRejected(
            f"The assertion is meant for {', '.join(audiences) or '(no Audience)'}, not for this organization "
            f"({sp_entity_id}). Set the Entity ID / Audience in your IdP to exactly {sp_entity_id}.",
            code="saml_audience",
        )
    for position, restriction in enumerate(restrictions, start=1):
        named = [
            OneLogin_Saml2_XML.element_text(node) or ""
            for node in restriction.findall("saml:Audience", namespaces=Constants.NSMAP)
        ]
        if sp_entity_id not in named:
            raise SAMLResponseRejected(
                f"The assertion has {len(restrictions)} AudienceRestriction elements and restriction {position} "
                f"allows only {', '.join(named) or '(no Audience)'}, not this organization ({sp_entity_id}). Every "
                "AudienceRestriction must include our entity ID (SAML Core §2.5.1.4); remove the other restriction "
                f"in your IdP or add {sp_entity_id} to it.",
                code="saml_audience",
            )


def _bearer_confirmation(response: OneLogin_Saml2_Response, acs_url: str) -> Any:
    """The bearer SubjectConfirmationData whose Recipient is exactly our ACS URL (Profiles §4.1.4.2) and whose
    NotBefore/NotOnOrAfter hold with the configured skew (SAML Core §2.4.1.2). Raises SAMLResponseRejected naming
    the first reason when there is none."""
    refusal = None
    for confirmation in response._query_assertion(_SUBJECT_CONFIRMATION):
        if confirmation.get("Method") != Constants.CM_BEARER:
            continue
        data = confirmation.find("saml:SubjectConfirmationData", namespaces=Constants.NSMAP)
        if data is not None and data.get("Recipient") == acs_url:
            if not data.get("NotOnOrAfter"):
                raise SAMLResponseRejected(
                    "The assertion's SubjectConfirmationData has no NotOnOrAfter, so it would never expire. "
                    "SAML profiles require it; check the IdP's assertion lifetime settings.",
                    code="saml_no_expiry",
                )
            try:
                check_time_window("SubjectConfirmationData", data.get("NotBefore"), data.get("NotOnOrAfter"))
            except SAMLResponseRejected as exc:
                refusal = refusal or exc
                continue
            return data
    if refusal is not None:
        raise refusal
    raise SAMLResponseRejected(
        f"The assertion is not confirmed for this organization's ACS URL (Recipient must be exactly {acs_url}). "
        f"Set the ACS / Reply URL in your IdP to exactly {acs_url}.",
        code="saml_recipient",
    )


def _signed_in_response_to(document: Any, bearer: Any) -> str | None:
    """The request this response answers, as its signature vouches for it: the signed assertion's bearer
    InResponseTo, else the Response's own when the Response is signed too (python3-saml verified that signature).
    An unsigned envelope's InResponseTo is anyone's to write, so it never makes an unsolicited assertion solicited."""
    signed_envelope = bool(OneLogin_Saml2_XML.query(document, OneLogin_Saml2_Utils.RESPONSE_SIGNATURE_XPATH))
    return bearer.get("InResponseTo") or (document.get("InResponseTo") if signed_envelope else None) or None


def _attributes(response: OneLogin_Saml2_Response) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, values in response.get_attributes().items():
        result[name] = [value["NameID"]["value"] or "" if isinstance(value, dict) else str(value) for value in values]
    return result


# What Microsoft Entra ID sends instead of the groups attribute on group overage.
ENTRA_GROUPS_LINK = "http://schemas.microsoft.com/claims/groups.link"


def groups_not_sent(attributes: dict[str, list[str]]) -> str:
    """How the assertion says the person's groups were left out, for a person; "" when it does not.

    Microsoft Entra ID sends the attribute ``http://schemas.microsoft.com/claims/groups.link`` (a Microsoft Graph
    URL) instead of the groups attribute when a person is in more than 150 groups (group overage).
    """
    if ENTRA_GROUPS_LINK not in attributes:
        return ""
    return (
        f"The assertion carries the attribute {ENTRA_GROUPS_LINK} instead of the groups. Microsoft Entra ID "
        "does this when a person is in more than 150 groups (group overage)."
    )


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


# --- what went wrong, for people -----------------------------------------------------------------------------

_MESSAGES = {
    V.STATUS_CODE_IS_NOT_SUCCESS: (
        "saml_idp_status",
        "The IdP did not sign you in ({detail}). If you cancelled or your IdP account may not use this application, "
        "ask your IdP administrator to assign it to you.",
    ),
    V.WRONG_NUMBER_OF_ASSERTIONS: ("saml_assertion_count", "The response must carry exactly one assertion."),
    V.NO_SIGNED_ASSERTION: (
        "saml_unsigned_assertion",
        "The assertion is not signed (a signature on the response alone is not accepted). Configure the IdP to sign "
        "the assertion (Entra ID: 'Sign SAML assertion'; Okta signs it by default).",
    ),
    V.NO_SIGNATURE_FOUND: (
        "saml_unsigned",
        "The response is not signed at all. Configure the IdP to sign the assertion.",
    ),
    V.DEPRECATED_SIGNATURE_METHOD: (
        "saml_sha1",
        "The IdP signed with SHA-1, which is no longer safe. Switch the IdP's signing algorithm to RSA-SHA256.",
    ),
    V.DEPRECATED_DIGEST_METHOD: (
        "saml_sha1",
        "The IdP used a SHA-1 digest, which is no longer safe. Switch the IdP's digest algorithm to SHA-256.",
    ),
    V.WRONG_ISSUER: (
        "saml_issuer",
        "The response comes from a different IdP than this connection's ({detail}). Check the IdP entity ID, or "
        "refresh the metadata.",
    ),
    V.ISSUER_NOT_FOUND_IN_ASSERTION: ("saml_issuer", "The assertion does not say which IdP issued it."),
    V.ISSUER_MULTIPLE_IN_RESPONSE: ("saml_issuer", "The response names more than one issuer."),
    V.WRONG_AUDIENCE: (
        "saml_audience",
        "The assertion is meant for another service provider. Set the Entity ID / Audience in your IdP to this "
        "organization's SP entity ID.",
    ),
    V.WRONG_DESTINATION: (
        "saml_destination",
        "The response is addressed to another URL. Set the ACS URL in your IdP to this organization's ACS URL.",
    ),
    V.EMPTY_DESTINATION: ("saml_destination", "The response has an empty Destination."),
    V.WRONG_SUBJECTCONFIRMATION: (
        "saml_subject_confirmation",
        "The assertion has no valid bearer confirmation for this ACS URL: it expired, is not valid yet, or names "
        "another Recipient. Check the ACS URL in your IdP and that both clocks are right.",
    ),
    V.ASSERTION_EXPIRED: (
        "saml_expired",
        "The assertion has expired (its conditions ended). Sign in again; if this keeps happening, check the "
        "clocks of the IdP and of this server.",
    ),
    V.ASSERTION_TOO_EARLY: (
        "saml_not_yet_valid",
        "The assertion is not valid yet. The IdP's clock is probably ahead; check the clocks.",
    ),
    V.SESSION_EXPIRED: ("saml_expired", "The IdP session in the assertion has already ended. Sign in again."),
    V.MISSING_CONDITIONS: ("saml_conditions", "The assertion has no Conditions element."),
    V.WRONG_NUMBER_OF_AUTHSTATEMENTS: ("saml_authn_statement", "The assertion must have exactly one AuthnStatement."),
    V.NO_NAMEID: ("saml_nameid", "The assertion has no NameID. Configure the IdP to send a persistent NameID."),
    V.EMPTY_NAMEID: ("saml_nameid", "The assertion's NameID is empty."),
    V.INVALID_XML_FORMAT: ("saml_schema", "The response does not follow the SAML 2.0 schema."),
    V.UNSUPPORTED_SAML_VERSION: ("saml_version", "The response is not SAML 2.0."),
    V.MISSING_ID: ("saml_schema", "The response has no ID."),
    V.MISSING_STATUS: ("saml_schema", "The response has no Status."),
    V.ENCRYPTED_ATTRIBUTES: (
        "saml_encrypted_attributes",
        "Encrypted attributes are not supported; encrypt the whole assertion instead.",
    ),
    V.SP_NAME_QUALIFIER_NAME_MISMATCH: ("saml_audience", "The NameID is qualified for another service provider."),
}
_SIGNATURE_SHAPE = {
    V.WRONG_SIGNED_ELEMENT,
    V.ID_NOT_FOUND_IN_SIGNED_ELEMENT,
    V.DUPLICATED_ID_IN_SIGNED_ELEMENTS,
    V.INVALID_SIGNED_ELEMENT,
    V.DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS,
    V.UNEXPECTED_SIGNED_ELEMENTS,
    V.WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE,
    V.WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION,
    V.WRONG_NUMBER_OF_SIGNATURES,
}


def _explain(exc: Exception, response: OneLogin_Saml2_Response, saml: SAMLSettings) -> SAMLResponseRejected:
    if isinstance(exc, SAMLResponseRejected):
        return exc
    code = getattr(exc, "code", None) if isinstance(exc, OneLogin_Saml2_ValidationError) else None
    if code == V.INVALID_SIGNATURE:
        return _signature_failure(response, saml)
    if code in _SIGNATURE_SHAPE:
        return SAMLResponseRejected(
            "The signed parts of the response are not where they should be (possible signature wrapping). "
            "It was refused.",
            code="saml_signature_shape",
        )
    if code in _MESSAGES:
        stable, text = _MESSAGES[code]
        detail = str(exc).split("->", 1)[-1].strip() if code == V.STATUS_CODE_IS_NOT_SUCCESS else str(exc)
        return SAMLResponseRejected(text.format(detail=detail[:300]), code=stable)
    return SAMLResponseRejected(f"The SAML response is invalid: {str(exc)[:300]}", code="saml_invalid", status=400)


def _refuse_expired_signer(response: OneLogin_Saml2_Response, saml: SAMLSettings) -> None:
    """When the connection refuses expired IdP certificates, the signatures python3-saml verified (the assertion's,
    and the Response's when it is signed too) must verify with a certificate still valid now (its notAfter, RFC
    5280 §4.1.2.5); otherwise SAMLResponseRejected names the expired certificate that signed."""
    if not saml.refuse_expired_certificates:
        return
    certificates = [load_certificate(pem) for pem in saml.idp_certificates]
    expired = [cert for cert in certificates if cert.expired()]
    if not expired:
        return
    current = [cert.pem for cert in certificates if not cert.expired()]
    document = response.get_xml_document()
    for xpath in (OneLogin_Saml2_Utils.ASSERTION_SIGNATURE_XPATH, OneLogin_Saml2_Utils.RESPONSE_SIGNATURE_XPATH):
        source = document if xpath == OneLogin_Saml2_Utils.ASSERTION_SIGNATURE_XPATH else response.document
        if not OneLogin_Saml2_XML.query(source, xpath):
            continue
        if current and _verifies(source, xpath, current):
            continue
        signer = next((cert for cert in expired if _verifies(source, xpath, [cert.pem])), None)
        raise SAMLResponseRejected(_expired_signer_message(signer), code="saml_certificate_expired")


def _verifies(document: Any, xpath: str, certificates: list[str]) -> bool:
    return bool(OneLogin_Saml2_Utils.validate_sign(document, xpath=xpath, multicerts=certificates))


def _expired_signer_message(signer: CertificateInfo | None) -> str:
    which = (
        f"IdP certificate {signer.fingerprint}, which expired on {signer.not_after:%Y-%m-%d %H:%M} UTC"
        if signer is not None
        else "an expired IdP certificate"
    )
    return (
        f"The response was signed with {which}, and this connection refuses expired IdP certificates. Ask the IdP "
        "administrator to sign with a current certificate, then upload it or refresh the metadata (or turn off "
        "“Refuse expired IdP certificates” on the connection page)."
    )


def _signature_failure(response: OneLogin_Saml2_Response, saml: SAMLSettings) -> SAMLResponseRejected:
    trusted = {load_certificate(pem).fingerprint for pem in saml.idp_certificates}
    embedded = [
        OneLogin_Saml2_XML.element_text(node) or ""
        for node in OneLogin_Saml2_XML.query(
            response.get_xml_document(), "//ds:Signature/ds:KeyInfo//ds:X509Certificate"
        )
    ]
    for text in embedded:
        try:
            fingerprint = load_certificate(text).fingerprint
        except CertificateError:
            continue
        if fingerprint not in trusted:
            return SAMLResponseRejected(
                f"The response was signed by a certificate that is not in this connection's list (fingerprint "
                f"{fingerprint}): upload the new certificate or refresh the metadata.",
                code="saml_unknown_certificate",
            )
    return SAMLResponseRejected(
        f"The signature does not verify with any of this connection's {len(trusted)} certificate(s): the response "
        "was changed after signing, or the IdP signs with a key we do not have. Refresh the metadata.",
        code="saml_bad_signature",
    )
