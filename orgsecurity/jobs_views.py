"""The support console's Jobs page (/support/platform/jobs/): every periodic job of the background worker
(``orgsecurity.jobs``) with its schedule, its last run (start, outcome, duration, summary or error) and its recent
failures. Staff only (``audit.support.staff_only``); registered with ``audit.support.register_platform_page`` in
``OrgsecurityConfig.ready()``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from audit.support import record_support_view, staff_only
from orgsecurity.jobs import FAILURES_KEPT, job_reports


@staff_only
@require_safe
def jobs(request: HttpRequest) -> HttpResponse:
    """Each periodic job and how its runs went; viewing it is recorded in the platform log."""
    record_support_view(request, None, "the background jobs")
    context = {"reports": job_reports(), "now": timezone.now(), "failures_kept_days": FAILURES_KEPT.days}
    return render(request, "orgsecurity/support_jobs.html", context)
