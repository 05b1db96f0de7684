"""The platform support console, under /support/ (staff only; everyone else gets 404).

Theme apps add their support pages and actions for one organization to ``org_patterns``, one include
each, so they live under /support/orgs/<org_slug>/<app>/..., for example::

    path("allowlist/", include("allowlist.support_urls")),   # e.g. .../allowlist/disable/
    path("domains/", include("sso.support_urls")),           # e.g. .../domains/<id>/verify/

Their views wear ``audit.support.staff_only`` and load the organization with
``audit.support.support_organization(org_slug)``; see ``audit.support``.
"""

from django.urls import include, path

from audit import support_views

app_name = "support"

org_patterns = [
    path("", support_views.organization_settings, name="org"),
    path("audit/", support_views.organization_audit, name="org_audit"),
    path("audit/export.csv", support_views.organization_audit_export, {"fmt": "csv"}, name="org_export_csv"),
    path("audit/export.jsonl", support_views.organization_audit_export, {"fmt": "jsonl"}, name="org_export_jsonl"),
    path("allowlist/", include("allowlist.support_urls")),
    path("domains/", include("sso.support_urls")),
]

urlpatterns = [
    path("", support_views.index, name="index"),
    path("platform/audit/", support_views.platform_audit, name="platform_audit"),
    path("platform/audit/export.csv", support_views.platform_audit_export, {"fmt": "csv"}, name="platform_export_csv"),
    path(
        "platform/audit/export.jsonl",
        support_views.platform_audit_export,
        {"fmt": "jsonl"},
        name="platform_export_jsonl",
    ),
    path("orgs/<slug:org_slug>/", include(org_patterns)),
]
