"""What the members page shows of each member's SSO link (``orgsecurity.directory``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Subquery

from orgsecurity.models import Organization
from sso.models import SSOIdentity


def member_annotations(organization: Organization) -> dict[str, Any]:
    """``sso_linked``: whether the membership's person has an identity at one of ``organization``'s SSO connections
    (``SSOIdentity`` is unique per connection and user); ``sso_email``: the email that IdP last asserted for it."""
    identities = SSOIdentity.objects.filter(user=OuterRef("user"), connection__organization=organization)
    return {
        "sso_linked": Exists(identities),
        "sso_email": Subquery(identities.order_by("-last_login_at", "-pk").values("asserted_email")[:1]),
    }
