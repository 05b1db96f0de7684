"""Destinations cannot point audit streaming into our own network (server-side request forgery)."""

from __future__ import annotations

import socket

import pytest

from audit_stream import actions, delivery, ssrf
from orgsecurity.actions import ActionRefused

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _production_rules(settings):
    settings.AUDIT_STREAM_ALLOW_PRIVATE_TARGETS = False
    settings.AUDIT_STREAM_ALLOW_HTTP = False


@pytest.mark.parametrize(
    ("kind", "url", "problem"),
    [
        ("webhook", "https://127.0.0.1/hook", "a loopback address"),
        ("webhook", "https://localhost:8443/hook", "a loopback address"),
        ("hec", "https://10.0.0.1:8088/services/collector/event", "a private network address"),
        ("webhook", "https://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("webhook", "https://[::ffff:169.254.169.254]/", "a link-local address"),
        ("syslog", "tls://10.0.0.1:6514", "a private network address"),
        ("syslog", "127.0.0.1:6514", "a loopback address"),
    ],
)
def test_literal_internal_addresses_are_refused_with_a_clear_message(org, owner, kind, url, problem):
    with pytest.raises(ActionRefused) as refused:
        actions.create_destination(org, actor=owner, kind=kind, url=url, token="t")
    assert problem in refused.value.message
    assert "audit events are sent only to public addresses" in refused.value.message
    assert not org.audit_destinations.exists()


@pytest.mark.parametrize(
    ("kind", "url", "expected"),
    [
        ("webhook", "http://siem.example.com/hook", "is not an https:// URL"),
        ("webhook", "https://user:pw@siem.example.com/hook", "user name or password"),
        ("webhook", "ftp://siem.example.com/", "is not an https:// URL"),
        ("syslog", "https://siem.example.com/", "is not tls://host:port"),
        ("webhook", "https://siem.example.com:99999/", "not a valid URL"),
    ],
)
def test_urls_of_the_wrong_shape_are_refused(org, owner, kind, url, expected):
    with pytest.raises(ActionRefused) as refused:
        actions.create_destination(org, actor=owner, kind=kind, url=url, token="t")
    assert expected in refused.value.message


def test_plain_http_only_when_the_platform_allows_it(settings):
    settings.AUDIT_STREAM_ALLOW_HTTP = True
    assert ssrf.check_target("http://siem.example.com/hook", "webhook").scheme == "http"


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "169.254.169.254"])
def test_a_name_resolving_to_an_internal_address_is_refused_when_sending(org, owner, monkeypatch, address):
    destination = actions.create_destination(
        org, actor=owner, kind="webhook", url="https://siem.attacker.test/hook"
    ).destination
    real_getaddrinfo = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if host == "siem.attacker.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 443))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)

    result = delivery.deliver_next_batch(destination)

    assert result.outcome == delivery.FAILED
    assert f"siem.attacker.test resolves to {address}" in result.message
    accepted, answer = actions.send_test_event(destination, actor=owner)
    assert not accepted and f"resolves to {address}" in answer


def test_the_connection_goes_to_the_checked_address(monkeypatch):
    """Resolution happens once per connection and the socket connects to the address that was checked, so a
    second, different DNS answer (rebinding) is never used."""
    answers = iter(["93.184.215.14", "127.0.0.1"])
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))],
    )
    connected = []

    def create_connection(address, timeout):
        connected.append(address)
        return socket.socket(socket.AF_UNIX)

    monkeypatch.setattr(socket, "create_connection", create_connection)

    ssrf.connect("siem.example.com", 443, 1.0).close()

    assert connected == [("93.184.215.14", 443)]
