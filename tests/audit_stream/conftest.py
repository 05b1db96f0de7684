"""Fixtures of the audit streaming tests: one CA, one HTTPS receiver and one rsyslog for the whole session."""

from __future__ import annotations

import os

import pytest

from audit_stream import senders
from tests.helpers.audit_stream import HTTPSReceiver, Rsyslog, free_port, rsyslog_available, start_https_receiver
from tests.helpers.tls import TestPKI, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("audit-stream-pki"))


@pytest.fixture(scope="session")
def _https_receiver(pki):
    receiver = start_https_receiver(pki)
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver(_https_receiver) -> HTTPSReceiver:
    """The session's HTTPS receiver, with no secrets, faults or requests left from another test."""
    _https_receiver.state.reset()
    return _https_receiver


@pytest.fixture(scope="session")
def _rsyslog(pki, tmp_path_factory):
    if not rsyslog_available():
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:  # the guard of tests/conftest.py: never skip in CI
            pytest.fail("rsyslogd with rsyslog-gnutls is needed (apt-get install rsyslog rsyslog-gnutls)")
        pytest.skip("rsyslogd with rsyslog-gnutls is not installed")
    server = Rsyslog(tmp_path_factory.mktemp("rsyslog"), free_port())
    server.start(pki)
    yield server
    server.stop()


@pytest.fixture
def rsyslog(_rsyslog, pki) -> Rsyslog:
    """The session's rsyslog (started again if a test stopped it), its received messages cleared."""
    if _rsyslog.process is None:
        _rsyslog.start(pki)
    if _rsyslog.output.exists():
        _rsyslog.output.write_text("")
    return _rsyslog


@pytest.fixture(autouse=True)
def _local_receivers_and_short_timeouts(settings, monkeypatch):
    """Receivers run on 127.0.0.1 (allowed for these tests only) and answer within half a second."""
    settings.AUDIT_STREAM_ALLOW_PRIVATE_TARGETS = True
    monkeypatch.setattr(senders, "READ_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(senders, "CONNECT_TIMEOUT_SECONDS", 0.5)
