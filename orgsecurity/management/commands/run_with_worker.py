"""run_with_worker: the development server and the background worker together, as one command (``make run``).

Starts ``manage.py runserver ADDRPORT`` and ``manage.py run_huey`` (the Huey consumer, README "Operations") as child
processes, each in its own process group, and stops both when either ends or when this process is interrupted
(Ctrl-C, SIGINT), terminated (SIGTERM) or hung up (SIGHUP: the terminal closed): the web server gets SIGTERM, the
worker SIGINT (it finishes the task in hand), and whichever is still running after ``--grace`` seconds SIGKILL.
On Linux each child is also told to get SIGTERM when this process dies (``prctl(PR_SET_PDEATHSIG)``), so a
``kill -9`` of this process, or of its whole process group, leaves no server holding the port. Exits with the
status of the child that ended first (0 after Ctrl-C).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the development web server and the background worker (Huey consumer) together; Ctrl-C stops both."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="runserver's [address:]port")
        parser.add_argument("--grace", type=float, default=10.0, help="seconds the worker gets to stop (default 10)")

    def handle(self, *args: Any, **options: Any) -> None:
        manage = [sys.executable, os.path.abspath(sys.argv[0])]
        children = {
            "web": subprocess.Popen(  # noqa: S603
                [*manage, "runserver", options["addrport"]], start_new_session=True, preexec_fn=_die_with_parent
            ),
            "worker": subprocess.Popen(  # noqa: S603
                [*manage, "run_huey"], start_new_session=True, preexec_fn=_die_with_parent
            ),
        }
        stopping: list[int] = []

        def stop(signum: int, _frame: Any) -> None:
            stopping.append(signum)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGHUP, stop)
        self.stdout.write(
            f"Web server pid {children['web'].pid}, worker pid {children['worker'].pid}. Ctrl-C stops both."
        )
        status = 0
        try:
            while not stopping:
                ended = [name for name, child in children.items() if child.poll() is not None]
                if ended:
                    status = children[ended[0]].returncode or 0
                    self.stderr.write(f"The {ended[0]} process ended (status {status}): stopping the other.")
                    break
                time.sleep(0.2)
        finally:
            self._stop(children, options["grace"])
        sys.exit(status)

    @staticmethod
    def _stop(children: dict[str, subprocess.Popen], grace: float) -> None:
        for name, child in children.items():
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGINT if name == "worker" else signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in children.values():
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before it runs: ask Linux to send it SIGTERM when its parent (this command) dies, however it
    dies. Elsewhere (no prctl) nothing: Ctrl-C, SIGTERM and SIGHUP still stop both children."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
