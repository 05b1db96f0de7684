"""node-oidc-provider for the tests: started by the test session on 127.0.0.1, stopped at its end.

The provider's code is pinned in tests/e2e/oidc_provider/package-lock.json and installed with ``npm ci`` there
(``.ci/run`` does it); nothing is fetched at run time. Without node or the installed package the tests skip
locally and fail when ``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.ports import free_port

OP_DIR = Path(__file__).resolve().parent / "oidc_provider"
RUN_DIR = Path(__file__).resolve().parent / ".run"
CLIENT_ID = "orgsecurity-e2e"
CLIENT_SECRET = "e2e-client-secret-0b7a4c"  # a test client registered only in this throwaway provider
PEOPLE = {
    "admin": {"email": "admin@acme.test", "email_verified": True, "name": "Adam Admin", "groups": ["it"]},
    "member": {"email": "member@acme.test", "email_verified": True, "name": "Mia Member", "groups": ["staff"]},
}


def missing(what: str) -> None:
    """Skip locally, fail in CI (CI=true): the e2e tests must never silently not run there."""
    message = f"{what} (run `npm ci --prefix tests/e2e/oidc_provider`)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass
class RunningProvider:
    """A started node-oidc-provider: its issuer, the test client, and the process to stop."""

    issuer: str
    process: subprocess.Popen
    log_path: Path
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_provider(redirect_uris: list[str], people: dict[str, Any] | None = None) -> RunningProvider:
    """Start node-oidc-provider on a free port with one confidential client and ``people`` as accounts."""
    node = shutil.which("node")
    if node is None:
        missing("node is not installed")
    if not (OP_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        missing("the oidc-provider npm package is not installed")
    port = free_port()
    RUN_DIR.mkdir(exist_ok=True)
    log_path = RUN_DIR / f"oidc-provider-{port}.log"
    client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": redirect_uris}
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OIDC_PROVIDER_PORT": str(port),
        "OIDC_PROVIDER_CLIENTS": json.dumps([client]),
        "OIDC_PROVIDER_USERS": json.dumps(people if people is not None else PEOPLE),
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [node, "server.js"], cwd=OP_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = RunningProvider(issuer=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"node-oidc-provider exited with {process.returncode}:\n{running.log()}", pytrace=False)
        try:
            if requests.get(f"{running.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                return running
        except requests.RequestException:
            pass
        time.sleep(0.2)
    running.stop()
    pytest.fail(f"node-oidc-provider did not start within 30 seconds:\n{running.log()}", pytrace=False)
