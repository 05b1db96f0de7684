"""What an IdP asserted, protocol-neutral, and the profile it maps to: ``AssertedIdentity`` (the validated answer
that SAML and OIDC both hand over), ``MappedProfile`` and ``map_profile``. A leaf: it imports nothing of sso but
``sso.errors``, so protocol code, the sign-in flow and the actions can all depend on it.

Identity is linked on (connection, issuer, subject format, subject) — the SAML NameID or the OIDC ``sub`` — and
never on email alone (SAML Core §2.2.2, OIDC Core §5.7: only ``iss`` + ``sub`` identify an end user).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from orgsecurity.models import normalize_email
from orgsecurity.text import without_unsafe_characters
from sso.errors import SSOSignInRefused

PROFILE_FIELDS = ("email", "first_name", "last_name", "display_name", "groups")


@dataclass(frozen=True)
class AssertedIdentity:
    """A validated answer from the IdP, protocol-neutral.

    ``issuer``: the IdP entity ID (SAML) or ``iss`` (OIDC). ``subject``/``subject_format``: NameID value and format
    (SAML) or ``sub`` and "oidc". ``attributes``: every attribute or claim received, name → list of string values.
    ``email_verified``: whether the IdP vouches for the email (OIDC ``email_verified``; SAML IdPs assert emails
    they manage). ``authenticated_at``: when the person authenticated at the IdP (SAML AuthnInstant, OIDC
    ``auth_time``), UTC, used to prove a fresh login for re-authentication. ``groups_not_sent``: a sentence saying
    how the IdP told us it left the person's groups out (Microsoft Entra ID's group overage: the SAML attribute
    ``http://schemas.microsoft.com/claims/groups.link``, or the OIDC ``_claim_names``/``hasgroups`` claims), ""
    when it did not; the groups are then unknown, not empty. ``authn_contexts``: how the person authenticated, as
    the SAML ``AuthnContextClassRef`` values of the AuthnStatement (SAML Core §2.7.2.2); OIDC's ``amr``/``acr``
    stay among the attributes. ``id_token``: the raw OIDC ID token ("" for SAML), kept in the session as the
    ``id_token_hint`` of RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2).
    """

    issuer: str
    subject: str
    subject_format: str
    attributes: dict[str, list[str]] = field(default_factory=dict)
    email_verified: bool = False
    authenticated_at: datetime | None = None
    session_index: str = ""
    groups_not_sent: str = ""
    authn_contexts: tuple[str, ...] = ()
    id_token: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``authenticated_at`` as ISO 8601) that ``from_dict`` reads back."""
        stored = asdict(self)
        stored["authenticated_at"] = self.authenticated_at.isoformat() if self.authenticated_at else None
        return stored

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AssertedIdentity:
        moment = data.get("authenticated_at")
        return cls(
            issuer=data["issuer"],
            subject=data["subject"],
            subject_format=data["subject_format"],
            attributes={str(k): [str(v) for v in values] for k, values in (data.get("attributes") or {}).items()},
            email_verified=bool(data.get("email_verified")),
            authenticated_at=datetime.fromisoformat(moment) if moment else None,
            session_index=data.get("session_index") or "",
            groups_not_sent=str(data.get("groups_not_sent") or ""),
            authn_contexts=tuple(str(value) for value in data.get("authn_contexts") or ()),
            id_token=str(data.get("id_token") or ""),
        )


@dataclass(frozen=True)
class MappedProfile:
    """Profile fields taken from the asserted attributes, and which attribute fed each (for the test page).

    ``groups`` is None when the IdP said it left the groups out (``AssertedIdentity.groups_not_sent``): the
    person's groups are unknown, and whatever depends on groups must keep its current state rather than read an
    empty membership. () means the IdP sent no groups (or none are mapped).
    """

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    display_name: str = ""
    groups: tuple[str, ...] | None = ()
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The person's name for a new account: plain text (``orgsecurity.text.without_unsafe_characters``), since
        an IdP's value cannot be refused the way a typed name is."""
        name = self.display_name or " ".join(part for part in (self.first_name, self.last_name) if part)
        return without_unsafe_characters(name)


def map_profile(identity: AssertedIdentity, attribute_map: dict[str, str]) -> MappedProfile:
    """Apply ``attribute_map`` (profile field → attribute or claim name, compared exactly, e.g. the
    ``http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress`` URI) to the asserted attributes.

    ``groups`` takes every non-empty value. The other fields hold one value: email decides which account an answer
    may link or create, so an email attribute with several different values (a SAML Attribute with several
    AttributeValues, SAML Core §2.7.3.1) is refused rather than "first value wins", as OIDC refuses an ``email``
    claim that is not one string (``sso.oidc.tokens.check_claim_types``); repeated equal values count as one.
    Names are descriptive only and take the first non-empty value. Raises ``sso.errors.SSOSignInRefused``
    (code ``several_emails``).
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for profile_field in PROFILE_FIELDS:
        attribute = (attribute_map or {}).get(profile_field)
        received = identity.attributes.get(attribute) if attribute else None
        if profile_field == "groups" and attribute and identity.groups_not_sent:
            values["groups"], sources["groups"] = None, attribute  # group overage: unknown, never "no groups"
            continue
        if not received:
            continue
        sources[profile_field] = attribute
        if profile_field == "groups":
            values["groups"] = tuple(value for value in received if value)
            continue
        given = [value.strip()[:254] for value in received if value.strip()] or [""]
        if profile_field == "email":
            given = list(dict.fromkeys(normalize_email(value) for value in given))
            if len(given) > 1:
                raise SSOSignInRefused(
                    f"The IdP sent {len(given)} different email addresses in the attribute {attribute!r} "
                    f"({', '.join(given[:5])}). An account has one email address, so the sign-in was refused: "
                    "configure the IdP to send exactly one value.",
                    code="several_emails",
                )
        values[profile_field] = given[0]
    return MappedProfile(**values, sources=sources)


# Microsoft Entra ID signals MFA in this SAML attribute, with the value below (the "Entra" preset fills them in).
ENTRA_MFA_ATTRIBUTE = "http://schemas.microsoft.com/claims/authnmethodsreferences"
ENTRA_MFA_VALUE = "http://schemas.microsoft.com/claims/multipleauthn"
OIDC_MFA_CLAIMS = ("amr", "acr")  # OIDC Core §2: authentication methods references, context class reference


def mfa_evidence(identity: AssertedIdentity, attribute: str = "") -> list[str]:
    """Every value that may say how the person authenticated: the SAML AuthnContextClassRef values, the OIDC
    ``amr`` (RFC 8176 values, e.g. ``mfa``, ``hwk``) and ``acr`` claims, and the values of ``attribute`` (a named
    SAML attribute or OIDC claim) when given."""
    values = list(identity.authn_contexts)
    for name in (*OIDC_MFA_CLAIMS, *([attribute] if attribute else [])):
        values.extend(identity.attributes.get(name, []))
    return values


def mfa_satisfied(identity: AssertedIdentity, *, accepted: list[str], attribute: str = "") -> bool:
    """True when one of the ``accepted`` values is among ``mfa_evidence`` (exact, case-sensitive: they are URIs or
    RFC 8176 tokens)."""
    accepted_set = {value for value in accepted if value}
    return bool(accepted_set & set(mfa_evidence(identity, attribute)))
