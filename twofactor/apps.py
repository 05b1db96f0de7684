"""App config for two-factor authentication: where it plugs into sign-in, re-authentication and the members page."""

from django.apps import AppConfig


class TwoFactorConfig(AppConfig):
    name = "twofactor"
    verbose_name = "Two-factor authentication"

    def ready(self) -> None:
        from audit.support import SupportSection, register_section
        from orgsecurity.auth import register_after_sign_in, register_second_step, register_sign_in_option
        from orgsecurity.directory import MemberFilter, register_member_annotations, register_member_filter
        from orgsecurity.overview import register_pending_states
        from orgsecurity.roles import Capability
        from orgsecurity.themes import Theme, register_theme
        from orgsecurity.throttle import register_failure_reason
        from sessions_policy.reauth import register_factor_reauth
        from twofactor import (
            audit_events,  # noqa: F401  (registers this app's audit events)
            directory,
            support,
        )
        from twofactor.enforcement import passkey_sign_in_option, second_step, setup_landing
        from twofactor.factors import STATUS_LABELS
        from twofactor.summary import members_without_factor_row, status
        from twofactor.views import TWO_FACTOR_FORM, start_reauthentication

        # A wrong code or a refused passkey reads as such in the audit log and the overview, not "wrong password".
        register_failure_reason(TWO_FACTOR_FORM, "wrong second factor")
        register_failure_reason("passkey", "passkey not accepted")
        # After a correct password or recovery code: the account's second factor, before anyone is signed in.
        register_second_step(second_step)
        # "Sign in with a passkey" on the sign-in page (unless PUBLIC_BASE_URL is an IP address).
        register_sign_in_option(passkey_sign_in_option)
        # A sign-in without a factor in an organization that requires one lands on set-up.
        register_after_sign_in(setup_landing)
        # Accounts with a factor re-authenticate with it (SSO sessions still go to their IdP first).
        register_factor_reauth(start_reauthentication)
        # The members page's 2FA column, and its filter.
        register_member_annotations(directory.member_annotations)
        register_member_filter(
            MemberFilter("two_factor", "2FA", tuple(STATUS_LABELS.items()), directory.filter_by_status)
        )
        register_theme(
            Theme(
                "Two-factor authentication",
                "twofactor_org:index",
                "Require a passkey or an authenticator app for password sign-ins",
                Capability.MANAGE_SECURITY,
                status,
                position=25,
            )
        )
        # Members a requirement stops (or will stop) show on the security overview's pending states.
        register_pending_states(members_without_factor_row)
        register_section(
            SupportSection("Two-factor authentication", "twofactor", position=25, settings_rows=support.settings_rows)
        )
