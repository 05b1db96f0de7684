"""Fixed-window counts per client network in the shared cache (orgsecurity.ratelimit)."""

from __future__ import annotations

import pytest

from orgsecurity.ratelimit import client_network, hit

WINDOW_START = 1_800_000_000.0  # a multiple of 60: a window starts here


def test_events_within_the_limit_are_allowed_and_the_rest_refused_until_the_window_ends():
    decisions = [hit("b", limit=3, window_seconds=60, now=WINDOW_START + n) for n in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4, 5]
    assert decisions[3].retry_after == 57  # the window ends at +60
    later = hit("b", limit=3, window_seconds=60, now=WINDOW_START + 60)
    assert later.allowed and later.count == 1


def test_buckets_are_counted_apart():
    for _ in range(2):
        hit("one", limit=2, window_seconds=60, now=WINDOW_START)
    assert not hit("one", limit=2, window_seconds=60, now=WINDOW_START).allowed
    assert hit("two", limit=2, window_seconds=60, now=WINDOW_START).allowed


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::", "2001:db8:1:2::/64"),
        ("64:ff9b::c000:280", "192.0.2.128"),  # NAT64: its IPv4 client, not a /64 every IPv4 client shares
        ("::ffff:192.0.2.128", "192.0.2.128"),
        ("fe80::1%eth0", "fe80::/64"),
        (None, "unknown"),
        ("", "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_a_client_counts_in_its_ipv4_address_or_ipv6_64(ip, network):
    assert client_network(ip) == network


def test_the_ipv6_network_size_is_a_setting(settings):
    settings.IPV6_CLIENT_PREFIX = 48
    assert client_network("2001:db8:1:2::1") == "2001:db8:1::/48"
    settings.IPV6_CLIENT_PREFIX = 128
    assert client_network("2001:db8:1:2::1") == "2001:db8:1:2::1/128"
