"""Template tags of two-factor authentication: the banner for members whose organization requires a factor."""

from __future__ import annotations

from typing import Any

from django import template

from twofactor.enforcement import grace_banner

register = template.Library()


@register.inclusion_tag("twofactor/_banner.html", takes_context=True)
def two_factor_banner(context: dict[str, Any]) -> dict[str, Any]:
    """For a password session of an account without a factor: which organizations require one, and from when."""
    request = context.get("request")
    return {"rows": grace_banner(request) if request is not None else []}
