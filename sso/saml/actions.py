"""Action functions for SAML connections: create, change the IdP side, options. Each audited in its transaction.

Certificates appear in audit changes by SHA-256 fingerprint; the SP private key never appears anywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.locking import audited
from orgsecurity.actions import ActionRefused
from orgsecurity.crypto import encrypt_secret
from orgsecurity.models import Organization, User
from sso.connections import actions as sso_actions
from sso.models import SAMLSettings, SSOConnection
from sso.saml.certificates import generate_sp_key_pair, load_certificate
from sso.saml.metadata import IdPMetadata

IDP_FIELDS = (
    "idp_entity_id",
    "idp_sso_url",
    "idp_sso_binding",
    "idp_slo_url",
    "idp_certificates",
    "want_authn_requests_signed",
    "metadata_url",
)
OPTION_FIELDS = ("allow_idp_initiated", "want_authn_requests_signed", "refuse_expired_certificates")


def _snapshot(saml: SAMLSettings | None, fields: tuple[str, ...]) -> dict[str, Any]:
    if saml is None:
        return dict.fromkeys(fields)
    values = {name: getattr(saml, name) for name in fields}
    if "idp_certificates" in values:
        values["idp_certificates"] = [load_certificate(pem).fingerprint for pem in saml.idp_certificates]
    return values


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {key: [before[key], after[key]] for key in after if before[key] != after[key]}


def _apply_idp(saml: SAMLSettings, idp: IdPMetadata, metadata_url: str | None) -> None:
    saml.idp_entity_id = idp.entity_id
    saml.idp_sso_url = idp.sso_url
    saml.idp_sso_binding = idp.sso_binding
    saml.idp_slo_url = idp.slo_url
    saml.idp_certificates = [cert.pem for cert in idp.certificates]
    saml.want_authn_requests_signed = idp.want_authn_requests_signed
    if metadata_url is not None:
        saml.metadata_url = metadata_url
        saml.metadata_fetched_at = timezone.now() if metadata_url else None


@audited("organization")
def create_saml_connection(
    organization: Organization,
    *,
    actor: User,
    idp: IdPMetadata,
    source: str,
    name: str = "",
    metadata_url: str = "",
    attribute_map: dict[str, str] | None = None,
    admin_owner: User | None = None,
) -> SSOConnection:
    """Create a SAML connection (status off) for ``idp`` with a new SP key pair; ``source`` says where the IdP
    side came from (metadata URL, metadata XML, manual entry) for the audit trail. ``admin_owner`` defaults to
    ``actor`` when that is a person (give it when the actor is the system or an admin API key)."""
    key_pem, cert_pem = generate_sp_key_pair(f"orgsecurity SP for {organization.slug}")
    with transaction.atomic():
        connection = sso_actions.create_connection(
            organization,
            actor=actor,
            protocol="saml",
            name=name,
            attribute_map=attribute_map or {},
            admin_owner=admin_owner if admin_owner is not None else (actor if isinstance(actor, User) else None),
        )
        _add_settings(connection, (key_pem, cert_pem), actor=actor, idp=idp, source=source, metadata_url=metadata_url)
    return connection


def _add_settings(
    connection: SSOConnection,
    key_pair: tuple[str, str],
    *,
    actor: Any,
    idp: IdPMetadata,
    source: str,
    metadata_url: str | None,
) -> SAMLSettings:
    """Write the SAML settings of ``connection`` (SP key pair and IdP side) and audit them, in the caller's
    transaction."""
    key_pem, cert_pem = key_pair
    saml = SAMLSettings(
        connection=connection, sp_certificate=cert_pem, sp_private_key_encrypted=encrypt_secret(key_pem)
    )
    _apply_idp(saml, idp, metadata_url or "")
    saml.full_clean(exclude=["connection"])
    saml.save()
    sso_actions.record_connection_change(
        connection,
        actor=actor,
        changes=_changes(_snapshot(None, IDP_FIELDS), _snapshot(saml, IDP_FIELDS)),
        details={"source": source, "sp_certificate": load_certificate(cert_pem).fingerprint},
    )
    return saml


def configure_idp(
    connection: SSOConnection, *, actor: Any, idp: IdPMetadata, source: str, metadata_url: str | None = None
) -> dict[str, list[Any]]:
    """Set the IdP side of a SAML ``connection``: ``update_idp`` when it has SAML settings, else its first ones,
    with a new SP key pair (a connection made before the IdP's details were known, e.g. for an IdP set-up link).
    Returns the audited changes; raises ActionRefused as ``update_idp`` does."""
    if SAMLSettings.objects.filter(connection=connection).exists():
        return update_idp(connection, actor=actor, idp=idp, source=source, metadata_url=metadata_url)
    return _first_idp(
        connection,
        generate_sp_key_pair(f"orgsecurity SP for {connection.organization.slug}"),  # slow: outside the transaction
        actor=actor,
        idp=idp,
        source=source,
        metadata_url=metadata_url,
    )


@audited("connection")
def _first_idp(
    connection: SSOConnection,
    key_pair: tuple[str, str],
    *,
    actor: Any,
    idp: IdPMetadata,
    source: str,
    metadata_url: str | None,
) -> dict[str, list[Any]]:
    if connection.protocol != SSOConnection.Protocol.SAML:
        raise ActionRefused("This is not a SAML connection.", code="bad_protocol")
    with transaction.atomic():
        connection = (
            SSOConnection.objects.select_for_update(of=("self",)).select_related("organization").get(pk=connection.pk)
        )
        if SAMLSettings.objects.filter(connection=connection).exists():
            raise ActionRefused(
                "The IdP's details were just saved by someone else. Reload the page.", code="race", status=409
            )
        sso_actions.refuse_idp_change_over_owners(connection, actor=actor, changed=set(IDP_FIELDS))
        saml = _add_settings(connection, key_pair, actor=actor, idp=idp, source=source, metadata_url=metadata_url)
    return _changes(_snapshot(None, IDP_FIELDS), _snapshot(saml, IDP_FIELDS))


@audited("connection")
def update_idp(
    connection: SSOConnection, *, actor: User, idp: IdPMetadata, source: str, metadata_url: str | None = None
) -> dict[str, list[Any]]:
    """Replace the IdP side of ``connection`` (entity ID, endpoints, the full certificate list) with ``idp``.

    ``metadata_url``: the URL it was fetched from (None keeps the stored one; "" forgets it). Returns the changes.
    Raises ActionRefused (nothing saved) when a non-owner would change the IdP of a connection owners sign in
    through (``sso.connections.actions.refuse_idp_change_over_owners``).
    """
    with transaction.atomic():
        saml = (
            SAMLSettings.objects.select_for_update(of=("self",))
            .select_related("connection__organization")
            .get(connection=connection)
        )
        before = _snapshot(saml, IDP_FIELDS)
        _apply_idp(saml, idp, metadata_url)
        saml.full_clean(exclude=["connection"])
        saml.save()
        changes = _changes(before, _snapshot(saml, IDP_FIELDS))
        sso_actions.refuse_idp_change_over_owners(saml.connection, actor=actor, changed=set(changes))
        sso_actions.record_connection_change(saml.connection, actor=actor, changes=changes, details={"source": source})
    return changes


@audited("connection")
def set_options(connection: SSOConnection, *, actor: User, **values: bool) -> dict[str, list[Any]]:
    """Turn IdP-initiated sign-in, AuthnRequest signing, and refusing expired IdP certificates on or off; returns
    the changes. Raises ActionRefused (nothing saved) when refusing expired certificates would leave no IdP
    certificate that can sign anyone in."""
    unknown = set(values) - set(OPTION_FIELDS)
    if unknown:
        raise ValueError(f"Unknown SAML options: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        saml = (
            SAMLSettings.objects.select_for_update(of=("self",))
            .select_related("connection__organization")
            .get(connection=connection)
        )
        before = _snapshot(saml, OPTION_FIELDS)
        for key, value in values.items():
            setattr(saml, key, bool(value))
        changes = _changes(before, _snapshot(saml, OPTION_FIELDS))
        if "refuse_expired_certificates" in changes and saml.refuse_expired_certificates:
            _refuse_when_every_certificate_expired(saml)
        if changes:
            saml.save(update_fields=list(values))
            sso_actions.record_connection_change(saml.connection, actor=actor, changes=changes)
    return changes


def _refuse_when_every_certificate_expired(saml: SAMLSettings) -> None:
    certificates = [load_certificate(pem) for pem in saml.idp_certificates]
    if certificates and all(cert.expired() for cert in certificates):
        last = max(cert.not_after for cert in certificates)
        raise ActionRefused(
            f"Every IdP signing certificate of this connection has expired (the last on {last:%Y-%m-%d}), so "
            "refusing expired certificates would stop every SSO sign-in. Upload the IdP's current certificate or "
            "refresh the metadata first.",
            code="saml_certificates_expired",
            status=409,
        )


METADATA_REFRESH_SOURCE = "metadata refresh"


@audited("connection")
def apply_metadata_refresh(
    connection: SSOConnection, *, actor: Any, idp: IdPMetadata, now: datetime, etag: str = "", last_modified: str = ""
) -> dict[str, list[Any]]:
    """Apply the IdP side of freshly fetched metadata to ``connection`` (the daily refresh of its metadata URL,
    ``sso.saml.refresh``): entity ID, endpoints and signing certificates, audited as ``sso.connection_updated``
    with the difference (certificates by fingerprint, ``certificates_added`` / ``certificates_removed`` in the
    details) when anything changed; the fetch time and validators are stored either way. Returns the changes.

    Never removes the last valid signing certificate: raises ActionRefused (code ``metadata_no_valid_certificate``,
    nothing saved) when the document lists no certificate valid at ``now`` (UTC) while the connection has one.
    """
    with transaction.atomic():
        saml = (
            SAMLSettings.objects.select_for_update(of=("self",))
            .select_related("connection__organization")
            .get(connection=connection)
        )
        current = [load_certificate(pem) for pem in saml.idp_certificates]
        if not any(not cert.expired(now) for cert in idp.certificates) and any(not c.expired(now) for c in current):
            raise ActionRefused(
                f"The metadata at {saml.metadata_url} lists no signing certificate that is valid now, so the "
                "connection keeps its current certificates (a refresh never removes the last valid one).",
                code="metadata_no_valid_certificate",
                status=409,
            )
        before = _snapshot(saml, IDP_FIELDS)
        _apply_idp(saml, idp, None)
        saml.metadata_fetched_at = now
        saml.metadata_etag, saml.metadata_last_modified = etag, last_modified
        saml.full_clean(exclude=["connection"])
        saml.save()
        changes = _changes(before, _snapshot(saml, IDP_FIELDS))
        if changes:
            old, new = set(before["idp_certificates"]), set(_snapshot(saml, ("idp_certificates",))["idp_certificates"])
            details = {
                "source": METADATA_REFRESH_SOURCE,
                "metadata_url": saml.metadata_url,
                "certificates_added": sorted(new - old),
                "certificates_removed": sorted(old - new),
            }
            sso_actions.record_connection_change(saml.connection, actor=actor, changes=changes, details=details)
    return changes
