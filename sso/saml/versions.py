"""What the SAML forms of the connection page version (``sso.connections.versions``): the IdP side and the SAML
options, as saved."""

from __future__ import annotations

from typing import Any

from orgsecurity.versions import form_labels
from sso.models import SAMLSettings, SSOConnection
from sso.saml.certificates import CertificateError, load_certificate
from sso.saml.forms import OptionsForm


def _saml(connection: SSOConnection) -> SAMLSettings | None:
    return SAMLSettings.objects.filter(connection=connection).first()


def _fingerprint(pem: str) -> str:
    try:
        return load_certificate(pem).short_fingerprint
    except CertificateError:  # stored ones were parsed when saved; never a 500 for an odd one
        return "(unreadable certificate)"


def idp_values(connection: SSOConnection) -> dict[str, Any]:
    """The saved IdP side (entity ID, SSO URL and binding, SLO URL, certificate fingerprints, metadata URL); empty
    for a connection without one yet."""
    saml = _saml(connection)
    if saml is None:
        return {}
    return {
        "idp_entity_id": saml.idp_entity_id,
        "idp_sso_url": saml.idp_sso_url,
        "idp_sso_binding": saml.idp_sso_binding,
        "idp_slo_url": saml.idp_slo_url,
        "idp_certificates": [_fingerprint(pem) for pem in saml.idp_certificates or []],
        "metadata_url": saml.metadata_url,
    }


IDP_LABELS = {
    "idp_entity_id": "IdP entity ID",
    "idp_sso_url": "IdP SSO URL",
    "idp_sso_binding": "SSO binding",
    "idp_slo_url": "IdP SLO URL (single logout)",
    "idp_certificates": "IdP certificates",
    "metadata_url": "Metadata URL",
}


def options_values(connection: SSOConnection) -> dict[str, Any]:
    """The saved SAML options (``OptionsForm``'s fields); empty without SAML settings."""
    saml = _saml(connection)
    if saml is None:
        return {}
    return {name: getattr(saml, name) for name in OptionsForm.base_fields}


def options_labels() -> dict[str, str]:
    """The SAML options named as the form shows them."""
    return form_labels(OptionsForm)
