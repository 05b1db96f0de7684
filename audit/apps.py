"""App config for the audit trail: loads every app's ``audit_events`` module at start-up."""

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Each app declares its events in <app>/audit_events.py; registering a name twice fails here.
        autodiscover_modules("audit_events")
