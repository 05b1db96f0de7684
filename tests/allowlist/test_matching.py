"""The compiled matcher: IPv4 and IPv6, mapped clients, nested and adjacent blocks, and agreement with a
plain linear scan over ``ipaddress`` networks for arbitrary lists."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allowlist.matching import EntryRef, compile_allowlist
from allowlist.networks import parse_client_address
from orgsecurity.client_ip import EMBEDDED_IPV4_PREFIXES, canonical_address, canonical_network


def matcher(*cidrs: str):
    return compile_allowlist(EntryRef(id=n, cidr=cidr, label=f"e{n}") for n, cidr in enumerate(cidrs))


def test_ipv4_and_ipv6_entries_match_only_their_family():
    compiled = matcher("198.51.100.0/24", "2001:db8:1200::/40", "192.0.2.9/32")
    assert compiled.allows("198.51.100.0")
    assert compiled.allows("198.51.100.255")
    assert not compiled.allows("198.51.101.0")
    assert not compiled.allows("198.51.99.255")
    assert compiled.allows("192.0.2.9")
    assert not compiled.allows("192.0.2.10")
    assert compiled.allows("2001:db8:12ff:ffff::1")
    assert not compiled.allows("2001:db8:1300::")
    # The IPv6 address with the same integer value as 198.51.100.1 is not matched: families never mix.
    assert not compiled.allows("::c633:6401")


def test_mapped_ipv6_clients_match_as_ipv4():
    compiled = matcher("198.51.100.0/24")
    assert compiled.allows("::ffff:198.51.100.7")
    assert not compiled.allows("::ffff:198.51.101.7")


def test_nat64_clients_match_as_ipv4():
    # 64:ff9b::c000:280 is 192.0.2.128 behind a NAT64 (RFC 6052 well-known prefix), as the client IP resolver says.
    compiled = matcher("192.0.2.0/25", "192.0.2.128/25")
    assert compiled.allows("64:ff9b::c000:280")
    assert [entry.cidr for entry in compiled.entries_containing(parse_client_address("64:ff9b::c000:280"))] == [
        "192.0.2.128/25"
    ]
    assert not matcher("64:ff9b::/32").allows("64:ff9b::c000:280")
    # A NAT64 block stored as IPv6 (before such entries were saved as IPv4) still matches its clients.
    assert matcher("64:ff9b::c000:200/120").allows("192.0.2.128")


embedded_ipv4_addresses = st.builds(
    lambda prefix, value: ipaddress.IPv6Address(int(prefix.network_address) | value),
    st.sampled_from(EMBEDDED_IPV4_PREFIXES),
    st.integers(0, 2**32 - 1),
)


@settings(max_examples=300, deadline=None)
@given(address=st.one_of(embedded_ipv4_addresses, st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)))
def test_the_matcher_and_the_check_tool_see_one_canonical_address(address):
    """Enforcement matches strings through client_key; the check tool parses with parse_client_address. Both must
    give every address the canonical form of orgsecurity.client_ip, whatever its text."""
    canonical = canonical_address(address)
    compiled = compile_allowlist([EntryRef(id=1, cidr=ipaddress.ip_network(canonical).with_prefixlen)])
    for text in {str(address), address.exploded, str(address).upper()}:
        assert parse_client_address(text) == canonical
        assert compiled.allows(text)


def test_nonsense_and_missing_clients_never_match():
    compiled = matcher("0.0.0.0/0", "::/0")
    assert compiled.allows("203.0.113.1")
    assert compiled.allows("2001:db8::1")
    assert not compiled.allows(None)
    assert not compiled.allows("")
    assert not compiled.allows("not-an-ip")


def test_client_strings_are_read_strictly():
    compiled = matcher("0.0.0.0/0", "::/0")
    for nonsense in ("1.2.3", "01.2.3.4", "1.2.3.4 ", "0x1.2.3.4", "1::2::3", "\uff11.2.3.4", "1.2.3.4/32"):
        assert not compiled.allows(nonsense), nonsense
    assert compiled.allows("fe80::1%eth0")


def test_compiling_refuses_non_canonical_blocks():
    for bad in ("192.0.2.1/24", "192.0.2.0/33", "192.0.2.0", "2001:db8::1/64", "nonsense/8"):
        with pytest.raises(ValueError):
            compile_allowlist([EntryRef(id=1, cidr=bad)])


def test_empty_list_allows_nothing():
    assert not matcher().allows("192.0.2.1")


def test_nested_and_adjacent_blocks():
    compiled = matcher("10.0.0.0/25", "10.0.0.128/25", "10.0.0.64/26", "10.0.2.0/24")
    assert all(compiled.allows(f"10.0.0.{n}") for n in (0, 127, 128, 255))
    assert not compiled.allows("10.0.1.0")
    assert compiled.allows("10.0.2.1")


def test_entries_containing_lists_most_specific_first():
    compiled = matcher("10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32", "2001:db8::/32")
    address = parse_client_address("10.1.2.3")
    assert [entry.cidr for entry in compiled.entries_containing(address)] == [
        "10.1.2.3/32",
        "10.1.0.0/16",
        "10.0.0.0/8",
    ]
    assert compiled.entries_containing(parse_client_address("11.0.0.1")) == []
    assert [entry.label for entry in compiled.entries_containing(parse_client_address("2001:db8::5"))] == ["e3"]


v4_networks = st.builds(
    lambda value, prefix: ipaddress.IPv4Network((value, prefix), strict=False),
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)
v6_networks = st.builds(
    lambda value, prefix: ipaddress.IPv6Network((value, prefix), strict=False),
    st.integers(0, 2**128 - 1),
    st.integers(0, 128),
)
addresses = st.one_of(
    st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address), st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)
)


@settings(max_examples=200, deadline=None)
@given(networks=st.lists(st.one_of(v4_networks, v6_networks), max_size=30, unique=True), probe=addresses)
def test_agrees_with_a_linear_scan(networks, probe):
    # Entries are stored in the canonical form (allowlist.networks), as clients are matched (orgsecurity.client_ip).
    networks = list(dict.fromkeys(canonical_network(net) for net in networks))
    compiled = compile_allowlist(EntryRef(id=n, cidr=net.with_prefixlen) for n, net in enumerate(networks))
    # Probe the given address and the edges of every block, where off-by-one mistakes live.
    probes = [probe]
    for net in networks:
        probes += [net.network_address, net.broadcast_address]
        if int(net.network_address) > 0:
            probes.append(net.network_address - 1)
        if int(net.broadcast_address) < 2**net.max_prefixlen - 1:
            probes.append(net.broadcast_address + 1)
    for address in map(canonical_address, probes):
        expected = [net for net in networks if net.version == address.version and address in net]
        assert compiled.allows_address(address) == bool(expected)
        # As a client string, an IPv4-mapped IPv6 address is matched as its IPv4 address.
        seen = parse_client_address(str(address))
        assert compiled.allows(str(address)) == any(net.version == seen.version and seen in net for net in networks)
        if address.version == 4:
            assert compiled.allows(f"::ffff:{address}") == bool(expected)
        found = compiled.entries_containing(address)
        assert sorted(entry.cidr for entry in found) == sorted(net.with_prefixlen for net in expected)
