"""App config for SSO: SAML 2.0 and OIDC connections, rollout and enforcement."""

from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"

    def ready(self) -> None:
        from orgsecurity.actions import MEMBERSHIP_CHANGE_GUARDS
        from sessions_policy.reauth import register_provider
        from sso.oidc.handler import register_handler as register_oidc
        from sso.protocols import register
        from sso.recovery.accounts import guard_membership_change
        from sso.rollout import enforcement  # noqa: F401 (connects the test-session logout receiver)
        from sso.saml import schemas
        from sso.saml.handler import SAMLHandler
        from sso.signin.reauth import start_reauthentication

        register("saml", SAMLHandler())
        schemas.install()  # python3-saml's schema validation also knows XML Encryption 1.1 (xenc11:MGF)
        register_oidc()

        # Keep SSO's admin owner, and while enforced an owner recovery account, through member changes.
        if guard_membership_change not in MEMBERSHIP_CHANGE_GUARDS:
            MEMBERSHIP_CHANGE_GUARDS.append(guard_membership_change)

        # Sessions signed in through an IdP re-authenticate there, with a forced fresh login.
        for method in ("saml", "oidc"):
            register_provider(method, start_reauthentication)
