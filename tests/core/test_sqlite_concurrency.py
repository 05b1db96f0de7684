"""The embedded default (SQLite in a file) under the concurrency of a local trial: refusals are 4xx, never a 500
"database is locked" (the scenarios run in a separate process: see tests/core/sqlite_trial.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_concurrent_requests_on_the_embedded_sqlite_queue_instead_of_failing(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'trial.sqlite3'}",
        "CACHE_URL": "",  # a cache of its own (audit throttle windows), not the test run's Redis
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    env.pop("SQLITE_BUSY_TIMEOUT", None)
    trial = subprocess.run(
        [sys.executable, "-m", "tests.core.sqlite_trial"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert trial.returncode == 0, trial.stderr[-4000:]
    outcome = json.loads(trial.stdout)
    # One signed SAML answer posted 32 times at once: one sign-in, and every replay a clear refusal.
    statuses = Counter(outcome["replays"])
    assert statuses[302] == 1, (statuses, trial.stderr[-4000:])
    assert sum(count for status, count in statuses.items() if 400 <= status < 500) == 31, statuses
    # Two requests that read and then write at the same moment: the second waits for the first.
    assert outcome["read_then_write"] == ["ok", "ok"]
