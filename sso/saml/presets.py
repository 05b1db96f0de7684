"""Attribute-mapping presets: which SAML attribute names common IdPs use for each profile field.

Names are compared exactly; many IdPs use claim URIs (Entra ID) rather than short names.
"""

from __future__ import annotations

from collections.abc import Iterable

_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"

PRESETS: dict[str, tuple[str, dict[str, str]]] = {
    "entra": (
        "Microsoft Entra ID (Azure AD)",
        {
            "email": f"{_CLAIMS}/emailaddress",
            "first_name": f"{_CLAIMS}/givenname",
            "last_name": f"{_CLAIMS}/surname",
            "display_name": "http://schemas.microsoft.com/identity/claims/displayname",
            "groups": "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
        },
    ),
    "okta": (
        "Okta",
        {"email": "email", "first_name": "firstName", "last_name": "lastName", "groups": "groups"},
    ),
    "onelogin": (
        "OneLogin",
        {"email": "User.email", "first_name": "User.FirstName", "last_name": "User.LastName", "groups": "memberOf"},
    ),
    "google": (
        "Google Workspace",
        {"email": "email", "first_name": "first_name", "last_name": "last_name", "groups": "groups"},
    ),
    # LDAP attribute names (RFC 4519, RFC 2798 inetOrgPerson) as SimpleSAMLphp and Keycloak's LDAP-backed
    # mappers send them by default. (uid is the login name: no profile field takes it.)
    "ldap": (
        "LDAP names: mail, givenName, sn, displayName (SimpleSAMLphp, Keycloak)",
        {
            "email": "mail",
            "first_name": "givenName",
            "last_name": "sn",
            "display_name": "displayName",
            "groups": "memberOf",
        },
    ),
    # The same attributes by OID, as Shibboleth IdP sends them (urn:oid name format, SAML2 attribute profile).
    "ldap_oid": (
        "LDAP OIDs: urn:oid:0.9.2342.19200300.100.1.3 … (Shibboleth)",
        {
            "email": "urn:oid:0.9.2342.19200300.100.1.3",
            "first_name": "urn:oid:2.5.4.42",
            "last_name": "urn:oid:2.5.4.4",
            "display_name": "urn:oid:2.16.840.1.113730.3.1.241",
            "groups": "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
        },
    ),
}
CUSTOM = "custom"


def preset_choices() -> list[tuple[str, str]]:
    """Choices for a form: every preset, then "custom" (keep the mapping as edited by hand)."""
    return [(key, label) for key, (label, _) in PRESETS.items()] + [(CUSTOM, "Custom (edit the mapping by hand)")]


def preset_map(name: str) -> dict[str, str]:
    """The attribute map of preset ``name`` (a copy); raises KeyError for "custom" or an unknown name."""
    return dict(PRESETS[name][1])


def preset_of(attribute_map: dict[str, str]) -> str:
    """Which preset ``attribute_map`` equals, or "custom"."""
    return next((key for key, (_, mapping) in PRESETS.items() if mapping == attribute_map), CUSTOM)


def suggest_preset(attribute_names: Iterable[str]) -> str | None:
    """The preset that best fits an IdP answer carrying ``attribute_names`` (e.g. the first successful test's): the
    one whose email attribute is among them and that maps the most of them; None when no preset's email attribute
    was sent. Ties go to the first preset listed."""
    sent = set(attribute_names)
    best, best_count = None, 0
    for key, (_, mapping) in PRESETS.items():
        if mapping.get("email") not in sent:
            continue
        count = sum(1 for name in mapping.values() if name in sent)
        if count > best_count:
            best, best_count = key, count
    return best
