"""The one client-IP resolver: REMOTE_ADDR unless our own proxies are configured, then right to left."""

from __future__ import annotations

import ipaddress

import pytest
from django.test import RequestFactory, override_settings

from orgsecurity.client_ip import canonical_address, canonical_network, client_ip, resolve_client_ip_with_reason

factory = RequestFactory()


def ip_of(remote: str, forwarded: str | None = None, header: str = "HTTP_X_FORWARDED_FOR") -> str | None:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra[header] = forwarded
    return client_ip(factory.get("/", **extra))


def nets(*cidrs: str) -> list:
    return [ipaddress.ip_network(cidr) for cidr in cidrs]


def test_without_proxies_forwarded_headers_are_ignored():
    assert ip_of("203.0.113.9", "1.2.3.4") == "203.0.113.9"
    assert ip_of("203.0.113.9", "1.2.3.4", header="HTTP_X_REAL_IP") == "203.0.113.9"


def test_ipv4_mapped_ipv6_is_given_as_ipv4():
    assert ip_of("::ffff:192.0.2.1") == "192.0.2.1"
    assert ip_of("2001:db8::5") == "2001:db8::5"


def test_nat64_well_known_prefix_is_given_as_ipv4():
    assert ip_of("64:ff9b::c000:280") == "192.0.2.128"
    assert ip_of("64:FF9B:0:0:0:0:C000:280") == "192.0.2.128"
    with override_settings(TRUSTED_PROXIES=nets("10.0.0.0/8")):
        assert ip_of("10.0.0.2", "64:ff9b::c000:280") == "192.0.2.128"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("192.0.2.128", "192.0.2.128"),
        (" 192.0.2.128 ", "192.0.2.128"),
        ("::ffff:192.0.2.128", "192.0.2.128"),
        ("::ffff:c000:280", "192.0.2.128"),
        ("64:ff9b::192.0.2.128", "192.0.2.128"),
        ("64:ff9b::c000:280", "192.0.2.128"),
        ("fe80::1%eth0", "fe80::1"),
        ("2001:DB8::1", "2001:db8::1"),
        # Not an IPv4 client: the deprecated IPv4-compatible form, a network-specific NAT64 prefix (RFC 8215).
        ("::192.0.2.128", "::c000:280"),
        ("64:ff9b:1::c000:280", "64:ff9b:1::c000:280"),
        ("not an address", None),
        ("", None),
    ],
)
def test_one_canonical_form_of_a_client_address(text, canonical):
    address = canonical_address(text)
    assert (str(address) if address is not None else None) == canonical


def test_canonical_networks():
    assert str(canonical_network(ipaddress.ip_network("64:ff9b::c000:200/120"))) == "192.0.2.0/24"
    assert str(canonical_network(ipaddress.ip_network("::ffff:0:0/96"))) == "0.0.0.0/0"
    assert str(canonical_network(ipaddress.ip_network("64:ff9b::/64"))) == "64:ff9b::/64"


@override_settings(TRUSTED_PROXIES=nets("10.0.0.0/8"))
def test_trusted_proxies_are_skipped_right_to_left():
    # client, then a spoofed hop the client wrote itself, then our two proxies
    assert ip_of("10.0.0.2", "6.6.6.6, 198.51.100.4, 10.0.0.1") == "198.51.100.4"
    assert ip_of("10.0.0.2", "198.51.100.4") == "198.51.100.4"


@override_settings(TRUSTED_PROXIES=nets("10.0.0.0/8"))
def test_header_from_an_untrusted_peer_is_ignored():
    assert ip_of("203.0.113.50", "198.51.100.4") == "203.0.113.50"


@override_settings(TRUSTED_PROXIES=nets("10.0.0.0/8"))
def test_garbage_header_falls_back_to_the_peer():
    assert ip_of("10.0.0.2", "not an ip, <script>") == "10.0.0.2"


@override_settings(TRUSTED_PROXIES=nets("10.0.0.0/8"), CLIENT_IP_HEADER="X-Real-IP")
def test_only_the_named_header_is_read():
    assert ip_of("10.0.0.2", "198.51.100.4") == "10.0.0.2"
    assert ip_of("10.0.0.2", "198.51.100.4", header="HTTP_X_REAL_IP") == "198.51.100.4"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_proxy_count_takes_the_hop_that_many_from_the_right():
    assert ip_of("10.9.9.9", "6.6.6.6, 198.51.100.4") == "198.51.100.4"
    assert ip_of("10.9.9.9", "") == "10.9.9.9"


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_proxy_count_two():
    assert ip_of("10.9.9.9", "6.6.6.6, 198.51.100.4, 10.1.1.1") == "198.51.100.4"


@override_settings(TRUSTED_PROXIES=nets("2001:db8:ffff::/48"))
def test_ipv6_proxies_and_mapped_clients():
    assert ip_of("2001:db8:ffff::1", "::ffff:198.51.100.4") == "198.51.100.4"
    assert ip_of("2001:db8:ffff::1", "[2001:db8::7]:443") == "2001:db8::7"


# Attack: a client behind our proxy puts a malformed hop in the forwarded header (nginx appends the real address
# after it). A strict parse of the whole header used to throw the header away and fall back to the proxy's own
# address, so the client looked like our proxy: its real IP vanished from the audit log, and an allowlist entry
# covering the proxy's network (an office or VPN range) let it in.


@override_settings(TRUSTED_PROXIES=nets("10.0.0.0/8"))
def test_a_malformed_hop_left_of_the_client_does_not_hide_the_client():
    for spoof in ("garbage", "<script>", "for=unknown", "", "1.2.3.4.5", "[::1", "unknown, 6.6.6.6"):
        assert ip_of("10.0.0.2", f"{spoof}, 198.51.100.4") == "198.51.100.4", spoof
        assert ip_of("10.0.0.2", f"{spoof}, 198.51.100.4, 10.0.0.1") == "198.51.100.4", spoof


@override_settings(TRUSTED_PROXIES=nets("10.0.0.0/8"), CLIENT_IP_HEADER="Forwarded")
def test_a_malformed_forwarded_element_left_of_the_client_does_not_hide_the_client():
    header = 'for=_hidden, for="[2001:db8::7]:443";proto=https'
    assert ip_of("10.0.0.2", header, header="HTTP_FORWARDED") == "2001:db8::7"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_proxy_count_ignores_malformed_hops_it_does_not_read():
    assert ip_of("10.9.9.9", "garbage, 198.51.100.4") == "198.51.100.4"
    assert ip_of("10.9.9.9", "garbage,, 198.51.100.4") == "198.51.100.4"


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_proxy_count_two_ignores_malformed_hops_it_does_not_read():
    assert ip_of("10.9.9.9", "<x>, 198.51.100.4, 10.1.1.1") == "198.51.100.4"


def test_an_ipv6_zone_is_dropped_wherever_the_address_comes_from():
    # A link-local peer comes with its zone (``fe80::1%eth0``); nothing downstream stores or matches zones.
    assert ip_of("fe80::1%eth0") == "fe80::1"
    assert ip_of("fe80::1%25eth0") == "fe80::1"
    with override_settings(TRUSTED_PROXY_COUNT=1):
        assert ip_of("10.9.9.9", "6.6.6.6, fe80::7%eth1") == "fe80::7"
    with override_settings(TRUSTED_PROXIES=nets("fe80::/10")):
        assert ip_of("fe80::2%eth0", "198.51.100.4, fe80::3%eth0") == "198.51.100.4"


def test_a_request_from_a_zoned_address_keeps_the_audit_chain_verifiable(org, owner):
    # The audit event's hash covered "fe80::1%eth0" while the database stored "fe80::1", so one request from a
    # link-local client made audit_verify report the organization's chain as tampered with.
    from io import StringIO

    from django.core.management import call_command
    from django.test import Client

    from audit.models import AuditEvent
    from keys import tokens
    from keys.actions import create_api_key

    key, _ = create_api_key(org, actor=owner, name="probe")
    body = tokens.PREFIX + key.key_id + "B" * tokens.SECRET_LENGTH
    response = Client(REMOTE_ADDR="fe80::1%eth0").get(
        "/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {body}{tokens.checksum(body)}"
    )
    assert response.status_code == 401
    assert AuditEvent.objects.filter(action="key.use_denied").get().ip == "fe80::1"
    out = StringIO()
    call_command("audit_verify", stdout=out)  # unknown keys are audited in the platform log
    assert "platform: ok" in out.getvalue()


# --- why that address (the allowlist page says it) -----------------------------------------------------------


def reason(**meta: str) -> tuple[str | None, str]:
    address, why = resolve_client_ip_with_reason({"REMOTE_ADDR": "10.1.2.3", **meta})
    return (str(address) if address else None), why


def test_without_proxies_the_reason_is_the_connection_itself():
    assert reason(HTTP_X_FORWARDED_FOR="192.0.2.9") == (
        "10.1.2.3",
        "It is the address of the connection itself (10.1.2.3); no proxy is configured, so forwarded headers are "
        "ignored.",
    )


@override_settings(TRUSTED_PROXIES=nets("10.0.0.0/8"))
def test_with_trusted_proxies_the_reason_names_the_proxy_and_the_header():
    assert reason(HTTP_X_FORWARDED_FOR="198.51.100.1, 192.0.2.9, 10.0.0.7") == (
        "192.0.2.9",
        "Our proxy 10.1.2.3 forwarded it in the X-Forwarded-For header (the first hop that is not ours).",
    )
    assert (
        reason()[1]
        == "It is the address of the connection itself (10.1.2.3): our proxy 10.1.2.3 sent no X-Forwarded-For header."
    )


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_with_a_proxy_count_the_reason_names_the_hop():
    address, why = reason(HTTP_X_FORWARDED_FOR="198.51.100.1, 192.0.2.9")
    assert address == "192.0.2.9"
    assert why.startswith("It is hop 1 from the right of the X-Forwarded-For header")
    assert "(the connection came from 10.1.2.3)" in why
