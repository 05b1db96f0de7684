"""System check: ``SCIM_ACCEPT_ANY_EMAIL_DOMAIN`` (provision emails of any domain) exists for the scim2-tester
compliance run only, whose generated users have random domains; anywhere but the test settings it is an error."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def refuse_any_domain_outside_tests(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """scim.E001 when ``SCIM_ACCEPT_ANY_EMAIL_DOMAIN`` is on outside the test settings (``tests.settings``)."""
    if not getattr(settings, "SCIM_ACCEPT_ANY_EMAIL_DOMAIN", False):
        return []
    if settings.SETTINGS_MODULE == "tests.settings":
        return []
    return [
        Error(
            "SCIM_ACCEPT_ANY_EMAIL_DOMAIN is on: SCIM would provision accounts for emails of domains the "
            "organization never verified.",
            hint="It is for the test suite's scim2-tester run only; remove it.",
            id="scim.E001",
        )
    ]
