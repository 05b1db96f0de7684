"""App config for IP allowlists on administrative surfaces."""

from django.apps import AppConfig


class AllowlistConfig(AppConfig):
    name = "allowlist"
    verbose_name = "IP allowlists"
