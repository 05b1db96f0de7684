"""App config for the core app (users, organizations, memberships, the enforcement pipeline)."""

from django.apps import AppConfig


class OrgsecurityConfig(AppConfig):
    name = "orgsecurity"
    verbose_name = "Organizations"

    def ready(self) -> None:
        from orgsecurity import auth  # noqa: F401  (connects the sign-in failure and lockout receivers)
