"""App config for session policies: timeouts, re-authentication, single session, revocation."""

from django.apps import AppConfig


class SessionsPolicyConfig(AppConfig):
    name = "sessions_policy"
    verbose_name = "Session policies"
