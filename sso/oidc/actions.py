"""Action functions for OpenID Connect connections: create one, change its settings, refresh discovery.

Each validates, writes and records its audit event in one transaction (CONTRIBUTING.md). The client secret is
encrypted before it is stored and never appears in an audit event, a message or a log line: events say only
that it was replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit
from audit.locking import audited
from orgsecurity.actions import ActionRefused
from orgsecurity.crypto import encrypt_secret
from orgsecurity.models import Organization, User
from sso.connections import actions as sso_actions
from sso.models import OIDCSettings, SSOConnection
from sso.oidc.discovery import DEFAULT_ALGORITHMS, SIGNING_ALGORITHMS, ProviderMetadata
from sso.oidc.presets import DEFAULT_PRESET, PRESETS, attribute_map_for

DEFAULT_SCOPES = "openid email profile"
# RFC 6749 §3.3: scope tokens are NQCHAR (printable ASCII without space, " and \).
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
# RFC 6749 Appendix A.1/A.2: client_id and client_secret are VSCHAR (printable ASCII).
_VSCHAR = re.compile(r"^[\x20-\x7e]+$")
# Settings shown in audit events (the secret never is), and the names they are recorded under: the audit log
# redacts every key containing "token" or "secret", so token_endpoint and token_auth_method are renamed.
AUDITED_FIELDS = {
    "issuer": "issuer",
    "discovery_url": "discovery_url",
    "authorization_endpoint": "authorization_endpoint",
    "token_endpoint": "code_exchange_endpoint",
    "userinfo_endpoint": "userinfo_endpoint",
    "jwks_uri": "jwks_uri",
    "end_session_endpoint": "end_session_endpoint",
    "client_id": "client_id",
    "token_auth_method": "client_auth_method",
    "scopes": "scopes",
    "allowed_algorithms": "allowed_algorithms",
    "accept_missing_email_verified": "accept_missing_email_verified",
    "rp_initiated_logout": "rp_initiated_logout",
}


def clean_scopes(value: str) -> str:
    """Scopes as one space-separated string, duplicates removed; must contain ``openid`` (OIDC Core §3.1.2.1).

    Raises ActionRefused naming the bad scope."""
    scopes: list[str] = []
    for scope in (value or "").split():
        if not _SCOPE_TOKEN.match(scope):
            raise ActionRefused(f"{scope!r} is not a valid scope name.", code="bad_scopes")
        if scope not in scopes:
            scopes.append(scope)
    if "openid" not in scopes:
        raise ActionRefused(
            "The scopes must include openid; without it the provider sends no ID token.", code="bad_scopes"
        )
    joined = " ".join(scopes)
    if len(joined) > 500:
        raise ActionRefused("The scopes are longer than 500 characters.", code="bad_scopes")
    return joined


def clean_client_id(value: str) -> str:
    """The client ID trimmed; 1-255 printable ASCII characters. Raises ActionRefused."""
    client_id = (value or "").strip()
    if not client_id or len(client_id) > 255 or not _VSCHAR.match(client_id):
        raise ActionRefused(
            "Enter the client ID the provider gave this application (up to 255 printable ASCII characters).",
            code="bad_client_id",
        )
    return client_id


def clean_client_secret(value: str) -> str:
    """The client secret trimmed; 1-1024 printable ASCII characters. Raises ActionRefused (without the value)."""
    secret = (value or "").strip()
    if not secret or len(secret) > 1024 or not _VSCHAR.match(secret):
        raise ActionRefused(
            "Enter the client secret the provider gave this application (up to 1024 printable ASCII characters).",
            code="bad_client_secret",
        )
    return secret


def clean_algorithms(values: Iterable[str]) -> list[str]:
    """Allowed ID token signing algorithms, in the canonical order; at least one, all asymmetric."""
    chosen = set(values or [])
    unknown = chosen - set(SIGNING_ALGORITHMS)
    if unknown:
        raise ActionRefused(
            f"{', '.join(sorted(unknown))} cannot be allowed: only public-key algorithms "
            f"({', '.join(SIGNING_ALGORITHMS)}) are accepted.",
            code="bad_algorithms",
        )
    if not chosen:
        raise ActionRefused("Allow at least one signing algorithm (usually RS256).", code="bad_algorithms")
    return [alg for alg in SIGNING_ALGORITHMS if alg in chosen]


def _check_provider_algorithms(metadata_algorithms: Iterable[str], allowed: list[str]) -> None:
    offered = [alg for alg in metadata_algorithms if alg in SIGNING_ALGORITHMS]
    if offered and not set(offered) & set(allowed):
        raise ActionRefused(
            f"The provider signs ID tokens with {', '.join(offered)}, and none of them is allowed for this "
            f"connection ({', '.join(allowed)}). Allow one of the provider's algorithms.",
            code="no_common_algorithm",
        )


def _snapshot(oidc: OIDCSettings | None) -> dict[str, Any]:
    return {label: getattr(oidc, name) if oidc else None for name, label in AUDITED_FIELDS.items()}


def _apply_metadata(oidc: OIDCSettings, metadata: ProviderMetadata) -> None:
    if oidc.issuer and oidc.issuer != metadata.issuer:
        oidc.jwks, oidc.jwks_fetched_at = {}, None  # keys of another issuer must not be reused
    oidc.issuer = metadata.issuer
    oidc.discovery_url = metadata.discovery_url
    oidc.authorization_endpoint = metadata.authorization_endpoint
    oidc.token_endpoint = metadata.token_endpoint
    oidc.userinfo_endpoint = metadata.userinfo_endpoint
    oidc.jwks_uri = metadata.jwks_uri
    oidc.end_session_endpoint = metadata.end_session_endpoint
    oidc.provider_signing_algorithms = list(metadata.signing_algorithms)
    oidc.token_auth_method = metadata.token_auth_method
    oidc.discovered_at = timezone.now()


@audited("organization")
def create_oidc_connection(
    organization: Organization,
    *,
    actor: Any,
    metadata: ProviderMetadata,
    client_id: str,
    client_secret: str,
    scopes: str = DEFAULT_SCOPES,
    preset: str = DEFAULT_PRESET,
    name: str = "",
    admin_owner: User | None = None,
) -> SSOConnection:
    """Create an OIDC connection (status off) for the provider described by ``metadata`` (from discovery).

    ``actor`` is the admin (or an audit Actor for commands); ``admin_owner`` defaults to the actor when that is a
    user. ``preset`` (sso.oidc.presets) fills the claim mapping. Raises ActionRefused for a bad value; nothing
    is saved then.
    """
    if preset not in PRESETS:
        raise ActionRefused(f"{preset!r} is not a claim mapping preset.", code="bad_preset")
    client_id, client_secret, scopes = (
        clean_client_id(client_id),
        clean_client_secret(client_secret),
        clean_scopes(scopes),
    )
    allowed = list(DEFAULT_ALGORITHMS)
    _check_provider_algorithms(metadata.signing_algorithms, allowed)
    owner = admin_owner if admin_owner is not None else (actor if isinstance(actor, User) else None)
    with transaction.atomic():
        connection = sso_actions.create_connection(
            organization,
            actor=actor,
            protocol=SSOConnection.Protocol.OIDC,
            name=name or _default_name(metadata),
            admin_owner=owner,
            attribute_map=attribute_map_for(preset),
        )
        oidc = OIDCSettings(
            connection=connection,
            client_id=client_id,
            client_secret_encrypted=encrypt_secret(client_secret),
            client_secret_set_at=timezone.now(),
            scopes=scopes,
            allowed_algorithms=allowed,
        )
        _apply_metadata(oidc, metadata)
        _validate(oidc)
        oidc.save()
        after = _snapshot(oidc)
        sso_actions.record_connection_change(
            connection,
            actor=actor,
            changes={name: [None, value] for name, value in after.items() if value not in (None, "")},
            details={"replaced": "client secret", "preset": preset},
        )
    return connection


def _validate(oidc: OIDCSettings) -> None:
    try:
        oidc.full_clean(exclude=["connection"])
    except ValidationError as exc:
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
        raise ActionRefused(f"The provider's settings cannot be stored ({problems}).", code="bad_settings") from None


def _default_name(metadata: ProviderMetadata) -> str:
    return (urlsplit(metadata.issuer).hostname or "OpenID Provider")[:100]


@audited("connection")
def update_oidc_settings(
    connection: SSOConnection,
    *,
    actor: Any,
    metadata: ProviderMetadata | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    scopes: str | None = None,
    allowed_algorithms: Iterable[str] | None = None,
    accept_missing_email_verified: bool | None = None,
    preset: str | None = None,
    rp_initiated_logout: bool | None = None,
) -> dict[str, list[Any]]:
    """Change the OIDC settings of ``connection`` (None: keep); returns the audited changes, {} for none.

    ``metadata`` replaces the provider's issuer and endpoints (a fresh discovery). A new issuer drops the cached
    keys, and people linked under the old issuer must link again (identities are keyed on issuer and sub), so
    once an owner is linked only an owner may change it (``sso.connections.actions.refuse_idp_change_over_owners``).
    ``client_secret`` replaces the stored secret; ``preset`` replaces the claim mapping. A connection without
    OIDC settings yet needs metadata, client ID and secret. Raises ActionRefused; nothing is saved then.
    """
    if connection.protocol != SSOConnection.Protocol.OIDC:
        raise ActionRefused("This is not an OpenID Connect connection.", code="bad_protocol")
    if preset is not None and preset not in PRESETS:
        raise ActionRefused(f"{preset!r} is not a claim mapping preset.", code="bad_preset")
    with transaction.atomic():
        connection = (
            SSOConnection.objects.select_for_update(of=("self",)).select_related("organization").get(pk=connection.pk)
        )
        oidc = OIDCSettings.objects.filter(connection=connection).first()
        if oidc is None:
            if metadata is None or client_id is None or not client_secret:
                raise ActionRefused(
                    "Enter the issuer, client ID and client secret to set up this connection.", code="incomplete"
                )
            oidc = OIDCSettings(connection=connection, allowed_algorithms=list(DEFAULT_ALGORITHMS))
        before = _snapshot(oidc if oidc.pk else None)
        if metadata is not None:
            _apply_metadata(oidc, metadata)
        if client_id is not None:
            oidc.client_id = clean_client_id(client_id)
        replaced = []
        if client_secret:
            oidc.client_secret_encrypted = encrypt_secret(clean_client_secret(client_secret))
            oidc.client_secret_set_at = timezone.now()
            replaced.append("client secret")
        if scopes is not None:
            oidc.scopes = clean_scopes(scopes)
        if allowed_algorithms is not None:
            oidc.allowed_algorithms = clean_algorithms(allowed_algorithms)
        if accept_missing_email_verified is not None:
            oidc.accept_missing_email_verified = accept_missing_email_verified
        if rp_initiated_logout is not None:
            oidc.rp_initiated_logout = rp_initiated_logout
        _check_provider_algorithms(oidc.provider_signing_algorithms, oidc.allowed_algorithms)
        changes = {name: [old, new] for name, (old, new) in _pairs(before, _snapshot(oidc)) if old != new}
        sso_actions.refuse_idp_change_over_owners(connection, actor=actor, changed=set(changes))
        if preset is not None:
            mapping = attribute_map_for(preset)
            if mapping != connection.attribute_map:
                changes["attribute_map"] = [connection.attribute_map, mapping]
                connection.attribute_map = mapping
                connection.save(update_fields=["attribute_map", "updated_at"])
        if not changes and not replaced:
            return {}
        _validate(oidc)
        oidc.save()
        details: dict[str, Any] = {"replaced": ", ".join(replaced)} if replaced else {}
        if metadata is not None:
            details["discovery"] = metadata.discovery_url
        # Written directly (not record_connection_change) so that replacing only the secret is recorded too.
        audit.record(
            "sso.connection_updated",
            organization=connection.organization,
            actor=actor,
            target=connection,
            changes=changes,
            details=details,
        )
    return changes


def _pairs(before: dict[str, Any], after: dict[str, Any]) -> Iterable[tuple[str, tuple[Any, Any]]]:
    for label in AUDITED_FIELDS.values():
        yield label, (before[label], after[label])
