"""App config for session policies: timeouts, re-authentication, single session, revocation."""

from django.apps import AppConfig


class SessionsPolicyConfig(AppConfig):
    name = "sessions_policy"
    verbose_name = "Session policies"

    def ready(self) -> None:
        from sessions_policy import signals  # noqa: F401  (ends the tracked session on every logout)
