"""App config for session policies: timeouts, re-authentication, single session, revocation."""

from django.apps import AppConfig


class SessionsPolicyConfig(AppConfig):
    name = "sessions_policy"
    verbose_name = "Session policies"

    def ready(self) -> None:
        from audit.support import SupportSection, register_section
        from orgsecurity.access import register_reauth_guard
        from orgsecurity.actions import register_membership_preview
        from orgsecurity.directory import register_member_annotations
        from orgsecurity.lifecycle import register_deprovision_effect
        from orgsecurity.pipeline import register_suspended_member_handler
        from orgsecurity.roles import Capability
        from orgsecurity.themes import Theme, register_theme
        from sessions_policy import (
            audit_events,  # noqa: F401  (registers this app's audit events)
            directory,
            signals,  # noqa: F401  (ends the tracked session on every logout)
            support,
        )
        from sessions_policy.actions import bar_sessions_on_deprovision
        from sessions_policy.decorators import require_recent_auth
        from sessions_policy.enforcement import end_deprovisioned_session
        from sessions_policy.preview import preview_membership_sessions
        from sessions_policy.summary import status

        # Step 3 of every security view's access checks (membership → role → recent re-authentication).
        register_reauth_guard(require_recent_auth)
        # The members page's last sign-in and sign-in method.
        register_member_annotations(directory.member_annotations, method_labels=directory.METHOD_LABELS)
        # A removal's confirmation page lists the sessions that lose the organization.
        register_membership_preview(preview_membership_sessions)
        # A deprovisioned member's sessions are barred from the organization, and end at their next request there.
        register_deprovision_effect(bar_sessions_on_deprovision)
        register_suspended_member_handler(end_deprovisioned_session)
        register_theme(
            Theme(
                "Session management",
                "sessions_policy:index",
                "How long people stay signed in and when they must re-authenticate",
                Capability.MANAGE_SECURITY,
                status,
                position=20,
            )
        )
        register_section(
            SupportSection("Session management", "sessions_policy", position=20, settings_rows=support.settings_rows)
        )
