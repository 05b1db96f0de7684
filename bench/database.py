"""The throwaway PostgreSQL database a benchmark measures on: created afresh before a run, dropped after it."""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlsplit


def _admin_connection(url: str) -> tuple[str, Any]:
    """The database name in ``url`` and an autocommit connection to the server's ``postgres`` database."""
    import psycopg

    parts = urlsplit(url)
    params = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 5432, "user": parts.username or "postgres"}
    if parts.password:
        params["password"] = parts.password
    return parts.path.lstrip("/"), psycopg.connect(dbname="postgres", autocommit=True, **params)


def create_database(url: str) -> None:
    """Drop and create the database ``url`` names (a ``postgres://`` URL; anything else exits: benchmarks measure
    PostgreSQL)."""
    if not url.startswith("postgres"):
        sys.exit("BENCH_DATABASE_URL must be a PostgreSQL URL: this benchmark measures PostgreSQL.")
    name, admin = _admin_connection(url)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    """Close Django's connections and drop the database ``url`` names."""
    from django.db import connections

    connections.close_all()
    name, admin = _admin_connection(url)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
