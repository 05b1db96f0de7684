"""Fixtures of the admin API tests: a clean cache (idempotency records, refusal throttles) per test."""

from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
