"""Attribute-mapping presets: which SAML attribute names common IdPs use for each profile field.

Names are compared exactly; many IdPs use claim URIs (Entra ID) rather than short names.
"""

from __future__ import annotations

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
