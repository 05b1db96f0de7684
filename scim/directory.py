"""SCIM markers outside the SCIM pages: "managed by SCIM" on the members page (``register_member_annotations``) and
a warning in every membership-change preview of a SCIM-managed member (``register_membership_preview``): the IdP
overwrites manual role and membership changes at its next sync."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Exists, OuterRef

from orgsecurity.impact import ImpactGroup, ImpactItem
from orgsecurity.models import Membership, Organization
from scim.models import ScimUser


def member_annotations(organization: Organization) -> Mapping[str, Any]:
    """``scim_managed``: the member was provisioned by SCIM in this organization (one indexed sub-query)."""
    return {"scim_managed": Exists(ScimUser.objects.filter(organization=organization, user_id=OuterRef("user_id")))}


def preview_managed(membership: Membership, new_role: str | None) -> Iterable[ImpactGroup]:
    """A warning group when ``membership`` is SCIM-managed: the IdP will overwrite the manual change."""
    if not ScimUser.objects.filter(organization=membership.organization_id, user_id=membership.user_id).exists():
        return ()
    what = "removal (it provisions them again while they are assigned)" if new_role is None else "role change"
    item = ImpactItem(
        ref=str(membership.user_id),
        name=membership.user.email,
        detail=f"Managed by SCIM: the IdP will overwrite this {what} at its next sync. Change it at the IdP instead.",
    )
    return (ImpactGroup("scim", "Managed by the IdP (SCIM)", "The identity provider is the source of truth.", (item,)),)
