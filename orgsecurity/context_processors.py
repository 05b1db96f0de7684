"""Template context shared by every page: the signed-in user's organizations for the org switcher."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from orgsecurity.models import Membership


def navigation(request: HttpRequest) -> dict[str, Any]:
    """``my_memberships`` (lazy: queried only when a template shows the switcher)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"my_memberships": []}
    return {
        "my_memberships": SimpleLazyObject(
            lambda: list(
                Membership.objects.active()
                .filter(user=user)
                .select_related("organization")
                .order_by("organization__name")
            )
        )
    }
