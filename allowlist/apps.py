"""App config for IP allowlists on administrative surfaces."""

from django.apps import AppConfig


class AllowlistConfig(AppConfig):
    name = "allowlist"
    verbose_name = "IP allowlists"

    def ready(self) -> None:
        from allowlist.checks import recovery_landing
        from sso.recovery.accounts import register_landing

        # From outside the list, a recovery sign-in lands on the allowlist page (the one page it may open).
        register_landing(recovery_landing)
