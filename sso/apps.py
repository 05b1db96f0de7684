"""App config for SSO: SAML 2.0 and OIDC connections, rollout and enforcement."""

from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"
