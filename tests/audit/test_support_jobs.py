"""The support console's Jobs page: every periodic job of the worker with its last run, outcome, duration and recent
failures; staff only (everyone else gets 404), linked from the console's index, viewing it recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from orgsecurity.jobs import periodic, run_job

JOBS = "/support/platform/jobs/"
broken: list[Exception] = []


@periodic("tests.sometimes_broken", lambda moment: False, every="never (tests)")
def sometimes_broken(now):
    """A job the tests break on purpose."""
    if broken:
        raise broken.pop()
    return "all fine"


def test_it_checks_access(client_for, staff, owner, outsider):
    assert client_for(owner).get(JOBS).status_code == 404
    assert client_for(outsider).get(JOBS).status_code == 404
    assert client_for(None).get(JOBS).status_code == 404
    assert client_for(staff).get(JOBS).status_code == 200


def test_each_job_shows_its_last_run_outcome_duration_and_failures(client_for, staff, org):
    now = timezone.now()
    run_job("sso.purge_expired", now=now)
    broken.append(RuntimeError("the database went away"))
    with pytest.raises(RuntimeError):
        run_job("tests.sometimes_broken", now=now - timedelta(minutes=5))
    browser = client_for(staff)
    assert JOBS in browser.get("/support/").content.decode()
    html = browser.get(JOBS).content.decode()
    purge = html[html.index('id="job-ssopurge_expired"') :]
    purge = purge[: purge.index("</tr>")]
    assert "every 5 minutes" in purge and f"{now:%Y-%m-%d %H:%M}" in purge
    assert "0 pending logins, 0 held links, 0 replay records deleted" in purge and " ms" in purge
    failing = html[html.index('id="job-testssometimes_broken"') :]
    assert "⚠ failed" in failing and "RuntimeError: the database went away" in failing
    assert "1 in a row" in failing and "Recent failures of tests.sometimes_broken" in failing
    assert 'id="job-keysstale_digest"' in html and "never ran" in html
    assert AuditEvent.objects.filter(action="support.viewed", details__page="the background jobs").count() == 1
