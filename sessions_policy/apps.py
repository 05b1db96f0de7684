"""App config for session policies: timeouts, re-authentication, single session, revocation."""

from django.apps import AppConfig


class SessionsPolicyConfig(AppConfig):
    name = "sessions_policy"
    verbose_name = "Session policies"

    def ready(self) -> None:
        from orgsecurity.access import register_reauth_guard
        from sessions_policy import signals  # noqa: F401  (ends the tracked session on every logout)
        from sessions_policy.decorators import require_recent_auth

        # Step 3 of every security view's access checks (membership → role → recent re-authentication).
        register_reauth_guard(require_recent_auth)
