"""App config for the core app (users, organizations, memberships, the enforcement pipeline).

Plug-in points for the other apps are two: ordered pipelines are settings lists (``ORG_PIPELINE_CHECKS``,
``API_PIPELINE_CHECKS``); everything else is a registry that each app fills in its own ``AppConfig.ready()``:
dashboard themes (``orgsecurity.themes.register_theme``), support console sections
(``audit.support.register_section``), audit events (``audit.events.register``, from the app's ``audit_events``
module imported in ``ready()``), membership-change guards and effects (``orgsecurity.actions``), the
re-authentication guard (``orgsecurity.access.register_reauth_guard``) and re-authentication providers
(``sessions_policy.reauth.register_provider``).
"""

from django.apps import AppConfig


class OrgsecurityConfig(AppConfig):
    name = "orgsecurity"
    verbose_name = "Organizations"

    def ready(self) -> None:
        from audit.support import PlatformPage, register_platform_page
        from orgsecurity import (
            audit_events,  # noqa: F401  (registers this app's audit events)
            tasks,  # noqa: F401  (declares this app's periodic jobs, orgsecurity.jobs)
            throttle,  # noqa: F401  (connects the failed-check and lockout receivers)
        )

        # The support console's Jobs page: the background worker's periodic jobs and how their runs went.
        register_platform_page(
            PlatformPage(
                "Background jobs",
                "jobs",
                "orgsecurity.jobs_support_urls",
                "platform_jobs",
                position=10,
                description="Each periodic job of the worker: its last run, outcome and duration, and recent failures.",
            )
        )
