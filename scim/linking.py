"""Tying a later SSO sign-in to the SCIM user the IdP provisioned (issue 16), registered with
``sso.signin.provisioned.register_provisioned_account_resolver``.

The connection's ``ConnectionLinkSetting`` names the sign-in attribute compared with the SCIM ``externalId``:
``subject`` (default; OIDC ``sub`` / SAML NameID, what Okta sends as externalId) or ``entra_oid`` (Microsoft Entra
ID's object id: the OIDC ``oid`` claim, or the SAML attribute ``ENTRA_OID_ATTRIBUTE``). Only active SCIM users
provisioned through a token of that same connection match.
"""

from __future__ import annotations

from typing import Any

from scim.models import ConnectionLinkSetting, ScimUser

ENTRA_OID_ATTRIBUTE = "http://schemas.microsoft.com/identity/claims/objectidentifier"
ENTRA_OID_CLAIM = "oid"


def link_value(connection: Any, identity: Any) -> str:
    """The value of ``identity`` (``sso.assertion.AssertedIdentity``) that the connection compares with
    ``externalId``; "" when the answer does not carry it."""
    setting = ConnectionLinkSetting.objects.filter(connection=connection).values_list("attribute", flat=True).first()
    if setting == ConnectionLinkSetting.Attribute.ENTRA_OBJECT_ID:
        for name in (ENTRA_OID_CLAIM, ENTRA_OID_ATTRIBUTE):
            values = identity.attributes.get(name) or []
            if values and values[0]:
                return str(values[0])
        return ""
    return identity.subject or ""


def provisioned_user(connection: Any, identity: Any) -> Any:
    """The account of the active SCIM user of ``connection`` whose ``externalId`` is the sign-in's link value."""
    value = link_value(connection, identity)
    if not value:
        return None
    found = (
        ScimUser.objects.filter(connection=connection, external_id=value, active=True).select_related("user").first()
    )
    return found.user if found is not None else None  # None too for a SCIM user without an account
