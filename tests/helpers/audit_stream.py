"""Real receivers for the audit streaming tests: an HTTPS server that verifies Standard Webhooks signatures with the
``standardwebhooks`` library and checks the Splunk HEC shape, and Debian's rsyslog listening for RFC 5425 syslog over
TLS. Both use a throw-away CA (``tests.helpers.tls``); a test trusts it through the destination's CA."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook

from tests.helpers.tls import TestPKI

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    """One request the receiver accepted or failed: its path, the events it carried, the answer given."""

    path: str
    message_id: str
    events: list[dict[str, Any]]
    status: int


@dataclass
class ReceiverState:
    secrets: dict[str, str] = field(default_factory=dict)  # webhook path -> whsec_ secret
    tokens: dict[str, str] = field(default_factory=dict)  # HEC path -> token
    faults: deque = field(default_factory=deque)  # "500", "timeout", "close", "redirect", "hang"
    requests: list[Received] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    delay_seconds: float = 0.8
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.secrets.clear()
            self.tokens.clear()
            self.faults.clear()
            self.requests.clear()
            self.errors.clear()

    def events(self, path: str, *, accepted_only: bool = False) -> list[dict[str, Any]]:
        """Every event that arrived at ``path``, in arrival order (duplicates included)."""
        return [
            event
            for request in self.requests
            if request.path == path and (not accepted_only or 200 <= request.status < 300)
            for event in request.events
        ]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        with state.lock:
            fault = state.faults.popleft() if state.faults else None
        if fault == "close":
            self.rfile.read(max(1, length // 2))
            self.close_connection = True
            self.request.shutdown(socket.SHUT_RDWR)
            return
        body = self.rfile.read(length)
        path = self.path
        try:
            if path in state.secrets:
                payload = Webhook(state.secrets[path]).verify(body, dict(self.headers))
                events = payload["events"]
            elif path in state.tokens:
                if self.headers.get("Authorization") != f"Splunk {state.tokens[path]}":
                    self._answer(401, {"text": "Invalid token", "code": 4})
                    return
                events = _hec_events(body)
            else:
                self._answer(404, {"text": "unknown path"})
                return
        except Exception as exc:  # a bad signature or shape: refuse, and let the test see why
            state.errors.append(f"{path}: {type(exc).__name__}: {exc}")
            self._answer(400, {"text": f"rejected: {exc}"})
            return
        status = {"500": 500, "redirect": 302}.get(fault or "", 200)
        with state.lock:
            state.requests.append(Received(path, self.headers.get("webhook-id", ""), events, status))
        if fault in {"timeout", "hang"}:
            time.sleep(state.delay_seconds if fault == "timeout" else 60)
        if status == 302:
            self._answer(302, {}, {"Location": "https://example.com/elsewhere"})
        elif status == 500:
            self._answer(500, {"text": "Internal error"})
        else:
            self._answer(200, {"text": "Success", "code": 0})


def _hec_events(body: bytes) -> list[dict[str, Any]]:
    """The events of an HEC request body (JSON objects one after another), checking each has the HEC shape."""
    decoder = json.JSONDecoder()
    text = body.decode()
    position, events = 0, []
    while position < len(text):
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        item, position = decoder.raw_decode(text, position)
        if not isinstance(item, dict) or not isinstance(item.get("event"), dict):
            raise ValueError("an HEC item without an event object")
        if not isinstance(item.get("time"), int | float) or item.get("sourcetype") != "orgsecurity:audit":
            raise ValueError("an HEC item without time or sourcetype")
        events.append(item["event"])
    return events


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ReceiverState

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the sender's timeout) is part of the tests, not an error to print


@dataclass
class HTTPSReceiver:
    """A running HTTPS receiver at ``https://127.0.0.1:<port>``."""

    server: _Server
    thread: threading.Thread
    port: int

    @property
    def state(self) -> ReceiverState:
        return self.server.state

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_https_receiver(pki: TestPKI) -> HTTPSReceiver:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = ReceiverState()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return HTTPSReceiver(server, thread, server.server_address[1])


RSYSLOG_CONF = """
global(workDirectory="{dir}" DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{ca}"
       DefaultNetstreamDriverCertFile="{cert}" DefaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" port="{port}" address="127.0.0.1")
template(name="raw" type="string" string="%rawmsg%\\n")
*.* action(type="omfile" file="{out}" template="raw" flushOnTXEnd="on" asyncWriting="off")
"""


@dataclass
class Rsyslog:
    """rsyslogd listening for RFC 5425 (syslog over TLS) on ``port``, writing each raw message to ``output``."""

    directory: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def output(self) -> Path:
        return self.directory / "received.log"

    @property
    def url(self) -> str:
        return f"tls://127.0.0.1:{self.port}"

    def start(self, pki: TestPKI) -> None:
        conf = self.directory / "rsyslog.conf"
        conf.write_text(
            RSYSLOG_CONF.format(
                dir=self.directory,
                ca=pki.ca_file,
                cert=pki.cert_file,
                key=pki.key_file,
                port=self.port,
                out=self.output,
            )
        )
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(conf), "-i", str(self.directory / "rsyslogd.pid")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"rsyslogd exited: {self.process.stderr.read().decode()[:500]}") from None
                time.sleep(0.05)
        raise RuntimeError("rsyslogd did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
        self.process = None

    def messages(self, *, wait_for: int = 0, timeout: float = 10.0) -> list[str]:
        """The raw RFC 5424 messages received so far, waiting until at least ``wait_for`` arrived."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.output.read_text().splitlines() if self.output.exists() else []
            if len(lines) >= wait_for or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def events(self, **kwargs: Any) -> list[dict[str, Any]]:
        """The event JSON carried by each received message, in arrival order."""
        return [json.loads(line[line.index("] {") + 2 :]) for line in self.messages(**kwargs)]


def rsyslog_available() -> bool:
    return os.path.exists(RSYSLOGD) and os.path.exists("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so")
