"""The platform support console, under /support/ (staff only; everyone else gets 404).

Theme apps add their support pages for one organization with the ``urls`` of the section they register
(``audit.support.register_section``), included under /support/orgs/<org_slug>/<url_prefix>/..., e.g.
.../allowlist/disable/ or .../domains/<id>/verify/.

Their views wear ``audit.support.staff_only`` and load the organization with
``audit.support.support_organization(org_slug)``; see ``audit.support``.
"""

from django.urls import include, path

from audit import support_views
from audit.support import registered_platform_pages, registered_sections

app_name = "support"

org_patterns = [
    path("", support_views.organization_settings, name="org"),
    path("audit/", support_views.organization_audit, name="org_audit"),
    path("audit/export.csv", support_views.organization_audit_export, {"fmt": "csv"}, name="org_export_csv"),
    path("audit/export.jsonl", support_views.organization_audit_export, {"fmt": "jsonl"}, name="org_export_jsonl"),
    *(
        path(f"{section.url_prefix or section.app}/", include(section.urls))
        for section in registered_sections()
        if section.urls
    ),
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
    *(path(f"platform/{page.url_prefix}/", include(page.urls)) for page in registered_platform_pages()),
]
