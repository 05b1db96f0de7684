"""``configure_sso --protocol saml``: create or update an organization's SAML connection from IdP metadata."""

from __future__ import annotations

from pathlib import Path

from audit.recorder import Actor
from orgsecurity.models import Membership, Organization
from orgsecurity.roles import Role
from sso.errors import ConfigureError
from sso.models import SSOConnection
from sso.saml import actions
from sso.saml.metadata import MAX_METADATA_BYTES, MetadataError, fetch_metadata, parse_idp_metadata
from sso.saml.presets import PRESETS, preset_map


def configure_saml(
    org_slug: str,
    *,
    metadata_url: str | None,
    metadata_file: str | None,
    name: str = "",
    preset: str | None = None,
) -> str:
    """Create the organization's SAML connection from the IdP metadata at ``metadata_url`` or in the file
    ``metadata_file`` (SAML Metadata §2.4.3, at most ``MAX_METADATA_BYTES``), or update the IdP of its first
    configured one; ``preset`` names an attribute mapping of ``sso.saml.presets``. Audited as the
    "configure_sso command". Returns a sentence for the person.

    Raises ConfigureError for an unknown preset or organization, a missing source, or unusable metadata.
    """
    if preset and preset not in PRESETS:
        raise ConfigureError(f"--preset for saml is one of: {', '.join(sorted(PRESETS))}.")
    organization = Organization.objects.filter(slug=org_slug).first()
    if organization is None:
        raise ConfigureError(f"There is no organization {org_slug!r}.")
    if not metadata_url and not metadata_file:
        raise ConfigureError("--protocol saml needs --metadata-url URL or --metadata-file PATH.")
    try:
        if metadata_url:
            idp = parse_idp_metadata(fetch_metadata(metadata_url))
        else:
            path = Path(metadata_file)
            if not path.is_file():
                raise ConfigureError(f"{metadata_file} is not a file.")
            if path.stat().st_size > MAX_METADATA_BYTES:
                raise ConfigureError(f"{metadata_file} is too large to be IdP metadata.")
            idp = parse_idp_metadata(path.read_bytes())
    except MetadataError as exc:
        raise ConfigureError(f"The metadata cannot be used: {exc}") from None
    actor = Actor.system("configure_sso command")
    source = "url" if metadata_url else "xml"
    existing = SSOConnection.objects.filter(organization=organization, protocol="saml", saml__isnull=False).first()
    if existing is not None:
        changes = actions.update_idp(existing, actor=actor, idp=idp, source=source, metadata_url=metadata_url or "")
        return (
            f"Updated SAML connection {existing.pk} of {organization.slug}: "
            + (", ".join(sorted(changes)) if changes else "nothing changed")
            + "."
        )
    owner = Membership.objects.active().filter(organization=organization, role=Role.OWNER).order_by("pk").first()
    connection = actions.create_saml_connection(
        organization,
        actor=actor,
        admin_owner=owner.user if owner else None,
        idp=idp,
        source=source,
        name=name,
        metadata_url=metadata_url or "",
        attribute_map=preset_map(preset) if preset else {},
    )
    return (
        f"Created SAML connection {connection.pk} for {organization.slug} (status off) with IdP {idp.entity_id} "
        f"and {len(idp.certificates)} signing certificate(s). Run Test SSO, then turn it on."
    )
