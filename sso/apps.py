"""App config for SSO: SAML 2.0 and OIDC connections, rollout and enforcement."""

from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"

    def ready(self) -> None:
        from orgsecurity.actions import register_membership_guard
        from orgsecurity.directory import register_member_annotations
        from orgsecurity.lifecycle import register_deprovision_guard
        from sessions_policy.reauth import register_provider
        from sso import directory
        from sso.connections import actions
        from sso.oidc import checks  # noqa: F401 (registers the check --deploy warning)
        from sso.oidc.handler import OIDCHandler
        from sso.protocols import register
        from sso.recovery.accounts import guard_deprovisioning, guard_membership_change
        from sso.rollout import (
            enforcement,  # noqa: F401 (connects the test-session logout receiver)
            scheduling,
        )
        from sso.saml import schemas
        from sso.saml.handler import SAMLHandler
        from sso.signin.reauthentication import start_reauthentication

        register(SAMLHandler())
        register_member_annotations(directory.member_annotations)  # the members page's SSO link and its email
        schemas.install()  # python3-saml's schema validation also knows XML Encryption 1.1 (xenc11:MGF)
        register(OIDCHandler())

        # Keep SSO's admin owner, and while enforced an owner recovery account, through member changes.
        register_membership_guard(guard_membership_change)
        # The IdP (SCIM) never deprovisions a named recovery account.
        register_deprovision_guard(guard_deprovisioning)

        # Rollout follows the connection actions: key reviews and member emails on enforcement, a key review on
        # unlinking, and the test plan on each finished test run.
        for hooks, hook in (
            (actions.ENFORCEMENT_STARTED_HOOKS, scheduling.on_enforcement_started),
            (actions.IDENTITY_UNLINKED_HOOKS, scheduling.on_identity_unlinked),
            (actions.TEST_RUN_FINISHED_HOOKS, scheduling.on_test_run_finished),
        ):
            if hook not in hooks:
                hooks.append(hook)

        # Sessions signed in through an IdP re-authenticate there, with a forced fresh login.
        for method in ("saml", "oidc"):
            register_provider(method, start_reauthentication)

        # Signing out also ends the IdP session: SAML single logout where the IdP has an SLO URL, OIDC RP-initiated
        # logout where the connection asks for it.
        from orgsecurity.auth import register_idp_sign_out
        from sso.oidc.logout import rp_initiated_logout
        from sso.saml.logout import sp_initiated_logout

        register_idp_sign_out(sp_initiated_logout)
        register_idp_sign_out(rp_initiated_logout)

        # The dashboard's SSO theme and SSO's section (and pages) of the support console.
        from audit.support import SupportSection, register_section
        from orgsecurity.roles import Capability
        from orgsecurity.themes import Theme, register_theme
        from sso import (
            audit_events,  # noqa: F401  (registers this app's audit events)
            overview,  # noqa: F401  (registers certificate expiry and scheduled enforcement on the security overview)
            summary,
            support,
            tasks,  # noqa: F401  (declares SSO's periodic jobs, orgsecurity.jobs)
        )

        about = "Centralized identity through your identity provider"
        register_theme(Theme("SSO", "sso:index", about, Capability.VIEW_ORG, summary.status, position=10))
        register_section(
            SupportSection(
                "SSO",
                "sso",
                position=10,
                settings_rows=support.settings_rows,
                actions=support.actions,
                urls="sso.support_urls",
                url_prefix="domains",
            )
        )
