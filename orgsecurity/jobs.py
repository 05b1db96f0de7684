"""Periodic background jobs on the Huey worker, and what each run did (for the support console's Jobs page).

Every app declares its periodic work with ``periodic``, in its own ``tasks`` module (imported by the app's
``AppConfig.ready()``; ``manage.py run_huey`` also autodiscovers ``tasks`` modules)::

    from huey import crontab
    from orgsecurity.jobs import periodic

    @periodic("sso.apply_due_enforcements", crontab(), every="every minute")
    def apply_due(now: datetime) -> str:
        return f"{len(apply_due_enforcements(now))} decided"

The decorated function takes the time of the run (``now``, an aware UTC datetime) and returns a one-line summary
(or None). ``periodic`` returns the Huey task (``huey.contrib.djhuey.db_periodic_task``) that the consumer
schedules by ``schedule`` (a ``huey.crontab``, in UTC); each run goes through ``run_job``, which records the run
(``JobState``: last start, outcome, duration, summary, consecutive failures; ``JobFailure``: each failure, kept
``FAILURES_KEPT``) and re-raises a failure so Huey retries it (``retries`` times, ``retry_delay`` seconds, doubled
each time).

Design rule (README "Operations"): the database is the source of truth. A job derives everything from stored state
and is idempotent, so a lost, late, repeated or concurrent run loses nothing: the next run finds what a lost one
missed. Jobs that change security state call action functions (which audit). Tests call ``run_job(name, now=...)``
with an injected clock; they never wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from huey import crontab  # noqa: F401  (re-exported for apps declaring jobs)
from huey.contrib.djhuey import db_periodic_task

from orgsecurity.models import JobFailure, JobState

logger = logging.getLogger(__name__)

FAILURES_KEPT = timedelta(days=30)
"""How long ``JobFailure`` rows are kept (``orgsecurity.tasks`` purges older ones)."""

JobFunction = Callable[[datetime], Any]


@dataclass(frozen=True)
class PeriodicJob:
    """One declared periodic job: its ``name`` (dotted, app first), when it runs (``every``, for people, and the
    Huey ``task``), what it does (``description``) and the function that does it (``run(now) -> summary``)."""

    name: str
    every: str
    description: str
    run: JobFunction
    task: Any


_JOBS: dict[str, PeriodicJob] = {}


def registered_jobs() -> tuple[PeriodicJob, ...]:
    """Every declared periodic job, by name."""
    return tuple(_JOBS[name] for name in sorted(_JOBS))


def periodic(
    name: str,
    schedule: Callable[[datetime], bool],
    *,
    every: str,
    description: str = "",
    retries: int = 2,
    retry_delay: int = 30,
) -> Callable[[JobFunction], Any]:
    """Declare ``fn(now) -> summary`` as the periodic job ``name`` run by the worker on ``schedule`` (a
    ``huey.crontab``, UTC), recorded by ``run_job``. ``every`` says when in words for the Jobs page ("every
    minute"); ``description`` defaults to the function's first docstring line. Returns the Huey task (its
    ``call_local()`` runs the job now, recorded). Declaring a name twice replaces the first declaration."""

    def decorate(fn: JobFunction) -> Any:
        def run_periodic() -> Any:
            return run_job(name)

        run_periodic.__module__ = fn.__module__
        run_periodic.__qualname__ = run_periodic.__name__ = f"periodic_{name.replace('.', '_')}"
        task = db_periodic_task(schedule, name=name, retries=retries, retry_delay=retry_delay, retry_backoff=2)(
            run_periodic
        )
        summary = (fn.__doc__ or "").strip().splitlines()
        _JOBS[name] = PeriodicJob(name, every, description or (summary[0] if summary else ""), fn, task)
        return task

    return decorate


def run_job(name: str, *, now: datetime | None = None) -> Any:
    """Run the periodic job ``name`` once, as of ``now`` (default: the current time, UTC), and record the run.

    Runs of one job may overlap (several consumers, a retry beside the next scheduled run): jobs are idempotent
    and decide each row under its lock, so no lock is taken here (a lock left by a dead consumer would stop the
    job). A failure is recorded (outcome ``failed``, with the error) and re-raised. Returns the job's summary.
    Raises KeyError for an unknown name."""
    job = _JOBS[name]
    started = now or timezone.now()
    clock = time.monotonic()
    try:
        summary = job.run(started)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        logger.exception("periodic job %s failed", name)
        _record(name, started, clock, JobState.Outcome.FAILED, "", error)
        raise
    _record(name, started, clock, JobState.Outcome.OK, "" if summary is None else str(summary), "")
    return summary


def _record(name: str, started: datetime, clock: float, outcome: str, summary: str, error: str) -> None:
    duration_ms = max(0, round((time.monotonic() - clock) * 1000))
    values = {
        "last_started_at": started,
        "last_finished_at": started + timedelta(milliseconds=duration_ms),
        "last_outcome": outcome,
        "last_duration_ms": duration_ms,
        "last_summary": summary[:500],
        "last_error": error[:2000],
    }
    with transaction.atomic():
        try:
            with transaction.atomic():
                state, _ = JobState.objects.select_for_update().get_or_create(name=name)
        except IntegrityError:  # another consumer created it first
            state = JobState.objects.select_for_update().get(name=name)
        for field, value in values.items():
            setattr(state, field, value)
        state.runs += 1
        if outcome == JobState.Outcome.FAILED:
            state.failures += 1
            state.consecutive_failures += 1
            JobFailure.objects.create(name=name, started_at=started, duration_ms=duration_ms, error=error[:2000])
        elif outcome == JobState.Outcome.OK:
            state.consecutive_failures = 0
            state.last_success_at = started
        state.save()


@dataclass(frozen=True)
class JobReport:
    """A job as the Jobs page shows it: its declaration, its state (None: never ran) and its latest failures."""

    job: PeriodicJob
    state: JobState | None
    failures: list[JobFailure]


def job_reports(*, failures_per_job: int = 5) -> list[JobReport]:
    """Every declared job with its recorded state and up to ``failures_per_job`` latest failures (newest first);
    then any job recorded but no longer declared is left out. Two queries plus one per job with failures."""
    states = {state.name: state for state in JobState.objects.all()}
    reports = []
    for job in registered_jobs():
        state = states.get(job.name)
        failures = (
            list(JobFailure.objects.filter(name=job.name).order_by("-started_at")[:failures_per_job])
            if state and state.failures
            else []
        )
        reports.append(JobReport(job, state, failures))
    return reports
