"""Claim mapping presets: which ID token / userinfo claim feeds each profile field, per provider family.

A preset is written into ``SSOConnection.attribute_map`` (profile field → claim name); admins can edit the map
afterwards on the connection page. Claim names follow OIDC Core §5.1 unless a provider says otherwise.
"""

from __future__ import annotations

_STANDARD = {"email": "email", "display_name": "name", "first_name": "given_name", "last_name": "family_name"}

PRESETS: dict[str, tuple[str, dict[str, str]]] = {
    "standard": ("Standard claims (any certified provider)", {**_STANDARD, "groups": "groups"}),
    "okta": ("Okta (groups claim named “groups”)", {**_STANDARD, "groups": "groups"}),
    "entra": (
        "Microsoft Entra ID (groups as object IDs)",
        {"email": "email", "display_name": "name", "groups": "groups"},
    ),
    "google": ("Google Workspace (no groups claim)", dict(_STANDARD)),
    "keycloak": ("Keycloak (add the “groups” mapper to the client)", {**_STANDARD, "groups": "groups"}),
    "auth0": ("Auth0", {**_STANDARD, "groups": "groups"}),
}
DEFAULT_PRESET = "standard"


def preset_choices() -> list[tuple[str, str]]:
    """(value, label) pairs for a form's choice field."""
    return [(name, label) for name, (label, _) in PRESETS.items()]


def attribute_map_for(preset: str) -> dict[str, str]:
    """A copy of the attribute map of ``preset``; raises KeyError for an unknown preset."""
    return dict(PRESETS[preset][1])
