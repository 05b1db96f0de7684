#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgsecurity.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:  # a setting from the environment is missing or wrong: say which, briefly
        debug_on = os.environ.get("DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
        hint = "" if debug_on else " For a local development run, set DEBUG=1 (as `make run` does)."
        sys.exit(f"Configuration error: {exc}{hint}")


if __name__ == "__main__":
    main()
