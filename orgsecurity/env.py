"""Environment-variable readers for settings: each one fails loudly on a value it cannot use.

Every name read through here is remembered in ``READ`` so tests can check that deployment files
(docker-compose.yml) only set variables the application actually reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

READ: set[str] = set()
# Where the readers look: the process environment, except while ``reading_from`` gives them another mapping.
_source: Mapping[str, str] = os.environ


@contextmanager
def reading_from(environment: Mapping[str, str]) -> Iterator[None]:
    """Make the readers below see only ``environment`` instead of ``os.environ`` while the block runs.

    For settings that must not depend on the shell they are imported from (tests/settings.py pins what the tests
    assume with it); ``os.environ`` itself is left as it is, so child processes inherit the real environment.
    """
    global _source
    previous, _source = _source, environment
    try:
        yield
    finally:
        _source = previous


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    """Return ``$NAME``, else the contents of the file named by ``$NAME_FILE``, else ``default``.

    The ``_FILE`` form lets container secrets be mounted as files. Raises ImproperlyConfigured
    when both forms are set or the file cannot be read.
    """
    READ.update({name, f"{name}_FILE"})
    value = _source.get(name)
    file_name = _source.get(f"{name}_FILE")
    if value is not None and file_name:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    """Return ``$NAME`` as a boolean (1/0, true/false, yes/no, on/off); anything else raises."""
    raw = env_str(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``$NAME`` as an integer within [minimum, maximum]; anything else raises."""
    raw = env_str(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from exc
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum {maximum}.")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """Return ``$NAME`` split on commas, each item stripped, empty items dropped."""
    raw = env_str(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]
