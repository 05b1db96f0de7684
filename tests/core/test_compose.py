"""docker-compose.yml cannot be run here (no Docker engine), so check that it matches what the app reads."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import yaml

from orgsecurity import env

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_has_postgres_redis_the_web_app_and_a_worker():
    services = compose()["services"]
    assert set(services) == {"db", "redis", "web", "worker"}
    assert services["db"]["image"].startswith("postgres:")
    assert int(services["db"]["image"].split(":")[1]) >= 15
    assert services["redis"]["image"].startswith("redis:")


def test_web_environment_uses_only_variables_the_settings_read():
    environment = compose()["services"]["web"]["environment"]
    unknown = set(environment) - env.READ
    assert not unknown, f"docker-compose sets variables the app never reads: {unknown}"
    for required in ("DATABASE_URL", "CACHE_URL", "SECRET_KEY", "ALLOWED_HOSTS", "PUBLIC_BASE_URL"):
        assert required in environment


def test_web_points_at_the_compose_database_and_cache():
    config = compose()
    environment = config["services"]["web"]["environment"]
    database = urlsplit(environment["DATABASE_URL"])
    assert database.scheme == "postgres"
    assert database.hostname == "db"
    db_env = config["services"]["db"]["environment"]
    assert (database.username, database.password, database.path.lstrip("/")) == (
        db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"], db_env["POSTGRES_DB"]
    )  # fmt: skip
    assert urlsplit(environment["CACHE_URL"]).hostname == "redis"
    assert set(config["services"]["web"]["depends_on"]) == {"db", "redis"}


def test_web_runs_migrations_then_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()
    command = dockerfile.split("CMD", 1)[1]
    assert command.index("migrate") < command.index("gunicorn orgsecurity.wsgi")


def test_the_worker_runs_the_consumer_with_the_web_apps_settings_and_a_redis_queue():
    services = compose()["services"]
    worker, web = services["worker"], services["web"]
    assert worker["command"] == ["python", "manage.py", "run_huey"]
    assert worker["environment"] == web["environment"]
    queue = urlsplit(web["environment"]["HUEY_URL"])
    assert (queue.scheme, queue.hostname) == ("redis", "redis")
    assert queue.path != urlsplit(web["environment"]["CACHE_URL"]).path, "the queue is not the cache's database"
    assert "ports" not in worker or not worker["ports"]
