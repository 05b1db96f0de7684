"""Every support console page about an organization is recorded in that organization's log (README: "every view
audited"), theme pages included: walk the console's URL map, so a new page cannot be forgotten."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver

from audit.models import AuditEvent


def _org_page_paths(patterns, prefix: str = "") -> list[str]:
    """The console's page paths under /support/orgs/acme/ that take no id but the organization's slug."""
    paths = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            paths += _org_page_paths(pattern.url_patterns, route)
        elif (
            isinstance(pattern, URLPattern)
            and route.startswith("support/orgs/<slug:org_slug>/")
            and route.count("<") == 1
        ):
            paths.append("/" + route.replace("<slug:org_slug>", "acme"))
    return paths


def test_every_support_page_about_an_organization_is_recorded_in_its_log(client_for, staff, org):
    paths = _org_page_paths(get_resolver().url_patterns)
    assert "/support/orgs/acme/allowlist/disable/" in paths and "/support/orgs/acme/domains/" in paths
    client = client_for(staff)
    for path in paths:
        before = AuditEvent.objects.filter(organization=org).count()
        response = client.get(path)
        if response.status_code == 405:  # an action without a page of its own
            continue
        assert response.status_code == 200, path
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        recorded = AuditEvent.objects.filter(organization=org).order_by("seq")[before:]
        assert [event.actor_type for event in recorded] == ["support"], path
