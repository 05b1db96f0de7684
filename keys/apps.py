"""App config for API keys and their restrictions."""

from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = "API keys"

    def ready(self) -> None:
        from audit.support import SupportSection, register_section
        from keys import audit_events, overview, support  # noqa: F401  (audit_events registers this app's audit events)
        from keys.actions import revoke_keys_after_membership_change, revoke_keys_on_deprovision
        from keys.preview import preview_membership_keys
        from keys.summary import status
        from orgsecurity.actions import register_membership_effect, register_membership_preview
        from orgsecurity.lifecycle import register_deprovision_effect
        from orgsecurity.roles import Capability
        from orgsecurity.themes import Theme, register_theme

        # Keys a person may no longer hold die in the same transaction as their role change or removal.
        register_membership_effect(revoke_keys_after_membership_change)
        register_membership_preview(preview_membership_keys)
        # A deprovisioned (SCIM) member's personal keys are revoked in bulk with the suspension.
        register_deprovision_effect(revoke_keys_on_deprovision)
        overview.register()  # keys expiring soon on the security overview
        register_theme(
            Theme(
                "API keys",
                "keys:index",
                "Which keys can be used for which teams, projects or workloads",
                Capability.VIEW_ORG,
                status,
                position=40,
            )
        )
        register_section(
            SupportSection("API keys", "keys", position=40, settings_rows=support.settings_rows, search=support.search)
        )
