"""Benchmark-only settings: production settings plus a URLconf with the baseline view (never in production)."""

from orgsecurity.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
