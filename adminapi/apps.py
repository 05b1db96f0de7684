"""The admin API app: security settings, allowlists and the audit log of one organization over
``/api/v1/orgs/<org_slug>/`` for key-authenticated programs (issue 22)."""

from django.apps import AppConfig


class AdminApiConfig(AppConfig):
    name = "adminapi"
    verbose_name = "Admin API"
