"""App config for the audit trail: the event registry, the chain, the log viewer and the support console's shell."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from audit import audit_events  # noqa: F401  (registers this app's events; a name twice fails)
        from orgsecurity.roles import Capability
        from orgsecurity.themes import Theme, register_theme

        register_theme(
            Theme(
                "Audit log",
                "audit:log",
                "Who changed members, keys, billing and policies",
                Capability.VIEW_AUDIT,
                status=lambda org: "Recording",
                position=50,
            )
        )
