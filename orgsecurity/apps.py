"""App config for the core app (users, organizations, memberships, the enforcement pipeline)."""

from django.apps import AppConfig


class OrgsecurityConfig(AppConfig):
    name = "orgsecurity"
    verbose_name = "Organizations"

    def ready(self) -> None:
        from orgsecurity import throttle  # noqa: F401  (connects the failed-check and lockout receivers)
