"""``configure_sso --protocol oidc``: create or update an organization's OIDC connection from the command line."""

from __future__ import annotations

from dataclasses import dataclass

from audit.recorder import Actor
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Membership, Organization
from orgsecurity.roles import Role
from sso.errors import ConfigureError
from sso.models import SSOConnection
from sso.oidc import actions
from sso.oidc.config import redirect_uri
from sso.oidc.discovery import DiscoveryError, discover
from sso.oidc.presets import DEFAULT_PRESET


@dataclass(frozen=True)
class Configured:
    """What ``configure_oidc`` did: the connection, whether it was created, and the changed setting names."""

    connection: SSOConnection
    created: bool
    changed: tuple[str, ...]

    def summary(self) -> str:
        """Lines for a person: what happened, the issuer, and the redirect URI to register at the provider."""
        oidc = self.connection.oidc
        verb = "Created" if self.created else ("Updated" if self.changed else "Checked (nothing changed)")
        lines = [
            f"{verb} the OpenID Connect connection {self.connection.pk} of {self.connection.organization.slug} "
            f"(status {self.connection.status}).",
            f"  issuer:       {oidc.issuer}",
            f"  client ID:    {oidc.client_id}",
            f"  redirect URI: {redirect_uri(self.connection)}  (register it at the provider)",
        ]
        if self.changed and not self.created:
            lines.append(f"  changed:      {', '.join(self.changed)}")
        return "\n".join(lines)


def configure_oidc(
    org_slug: str,
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    name: str = "",
    scopes: str | None = None,
    preset: str | None = None,
) -> Configured:
    """Create the organization's OIDC connection, or update its first one: discovery from ``issuer``, client
    ID and secret, and optionally scopes and a claim mapping preset. Audited as the "configure_sso command".

    Raises ConfigureError for an unknown organization, a discovery problem or a refused value.
    """
    organization = Organization.objects.filter(slug=org_slug).first()
    if organization is None:
        raise ConfigureError(f"There is no organization {org_slug!r}.")
    try:
        metadata = discover(issuer)
    except DiscoveryError as exc:
        raise ConfigureError(exc.message) from None
    actor = Actor.system("configure_sso command")
    existing = (
        SSOConnection.objects.filter(organization=organization, protocol=SSOConnection.Protocol.OIDC)
        .order_by("pk")
        .first()
    )
    try:
        if existing is None:
            owner = (
                Membership.objects.active().filter(organization=organization, role=Role.OWNER).order_by("pk").first()
            )
            connection = actions.create_oidc_connection(
                organization,
                actor=actor,
                metadata=metadata,
                client_id=client_id,
                client_secret=client_secret,
                scopes=scopes or actions.DEFAULT_SCOPES,
                preset=preset or DEFAULT_PRESET,
                name=name,
                admin_owner=owner.user if owner else None,
            )
            return Configured(connection, created=True, changed=())
        changes = actions.update_oidc_settings(
            existing,
            actor=actor,
            metadata=metadata,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            preset=preset,
        )
    except ActionRefused as exc:
        raise ConfigureError(exc.message) from None
    existing.refresh_from_db()
    return Configured(existing, created=False, changed=tuple(changes))
