"""App config for audit streaming: delivery of each organization's audit trail to its SIEM."""

from django.apps import AppConfig


class AuditStreamConfig(AppConfig):
    name = "audit_stream"
    verbose_name = "Audit streaming"

    def ready(self) -> None:
        from audit import retention
        from audit_stream import (  # noqa: F401  (audit_events registers this app's events, tasks its periodic jobs)
            audit_events,
            tasks,
        )
        from audit_stream.summary import paused_destinations, prune_hold, status
        from orgsecurity.overview import register_pending_states
        from orgsecurity.roles import Capability
        from orgsecurity.themes import Theme, register_theme

        # Retention never deletes an event an active or paused destination has not delivered.
        retention.register_prune_hold(prune_hold)
        register_theme(
            Theme(
                "Audit streaming and retention",
                "audit_stream:streaming",
                "Where the audit log is streamed (your SIEM) and how long it is kept",
                Capability.MANAGE_AUDIT_LOG,
                status=status,
                position=55,
            )
        )
        register_pending_states(paused_destinations)
