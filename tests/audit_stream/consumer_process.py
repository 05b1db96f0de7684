"""A second delivery consumer for the process tests: delivers one batch of the destination named on the command
line, against the database named by DATABASE_URL, printing "started" and then the step's outcome."""

from __future__ import annotations

import os
import sys
import warnings

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
warnings.filterwarnings("ignore", message="No directory at")
django.setup()

from django.conf import settings  # noqa: E402

from audit_stream import delivery, senders  # noqa: E402

settings.AUDIT_STREAM_ALLOW_PRIVATE_TARGETS = True  # the test receiver runs on 127.0.0.1
senders.READ_TIMEOUT_SECONDS = 120.0  # wait for the receiver's answer until killed

if __name__ == "__main__":
    print("started", flush=True)
    print(delivery.deliver_next_batch(int(sys.argv[1]), ignore_schedule=True).outcome, flush=True)
