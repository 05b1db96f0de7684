"""App config for IP allowlists on administrative surfaces."""

from django.apps import AppConfig


class AllowlistConfig(AppConfig):
    name = "allowlist"
    verbose_name = "IP allowlists"

    def ready(self) -> None:
        from allowlist import (
            audit_events,  # noqa: F401  (registers this app's audit events)
            support,
        )
        from allowlist.checks import recovery_landing
        from allowlist.summary import status
        from audit.support import SupportSection, register_section
        from orgsecurity.roles import Capability
        from orgsecurity.themes import Theme, register_theme
        from sso.recovery.accounts import register_landing

        # From outside the list, a recovery sign-in lands on the allowlist page (the one page it may open).
        register_landing(recovery_landing)
        register_theme(
            Theme(
                "IP allowlist",
                "allowlist:index",
                "Network locations allowed to reach administrative pages",
                Capability.MANAGE_SECURITY,
                status,
                position=30,
            )
        )
        register_section(
            SupportSection(
                "IP allowlist",
                "allowlist",
                position=30,
                settings_rows=support.settings_rows,
                actions=support.actions,
                urls="allowlist.support_urls",
            )
        )
