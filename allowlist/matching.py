"""Matching a client address against an allowlist in O(log n): sorted integer ranges and binary search.

An allowlist is compiled once per (organization, version) into, for IPv4 and IPv6 separately, the sorted,
merged, disjoint integer ranges its CIDR blocks cover. A check is one ``bisect`` over those starts, so 10,000
entries cost about what one does. CIDR blocks (RFC 4632) are either nested or disjoint, so explaining which
entries contain an address is a walk over its at most 33 (IPv4) or 129 (IPv6) enclosing blocks, each a dict
lookup. IPv4-mapped IPv6 clients (``::ffff:a.b.c.d``) are matched as IPv4.

Pure Python (``ipaddress``, ``bisect``), so the benchmark measures exactly what requests run.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from allowlist.networks import Address, Network, parse_client_address


@dataclass(frozen=True)
class EntryRef:
    """What the matcher remembers of an entry: its database ``id`` (None outside the database), canonical
    ``cidr`` and ``label``."""

    id: int | None
    cidr: str
    label: str = ""

    def __str__(self) -> str:
        return f"{self.cidr} ({self.label})" if self.label else self.cidr


class _Ranges:
    """Disjoint, sorted ``[start, end]`` integer ranges of one address family, searched with bisect."""

    __slots__ = ("ends", "starts")

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for start, end in sorted(ranges):
            if self.ends and start <= self.ends[-1] + 1:
                # Nested or adjacent blocks merge; only "is it covered" matters here.
                self.ends[-1] = max(self.ends[-1], end)
            else:
                self.starts.append(start)
                self.ends.append(end)

    def covers(self, value: int) -> bool:
        index = bisect_right(self.starts, value) - 1
        return index >= 0 and value <= self.ends[index]


class CompiledAllowlist:
    """An allowlist ready for matching. Build it with ``compile_allowlist``; it never changes afterwards
    (a change to the list gives a new version and a new CompiledAllowlist)."""

    __slots__ = ("_by_block", "_v4", "_v6", "size")

    def __init__(self, entries: Iterable[tuple[Network, EntryRef]]) -> None:
        by_block: dict[tuple[int, int, int], EntryRef] = {}
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        for network, ref in entries:
            start = int(network.network_address)
            by_block[(network.version, start, network.prefixlen)] = ref
            (v4 if network.version == 4 else v6).append((start, int(network.broadcast_address)))
        self._by_block = by_block
        self._v4 = _Ranges(v4)
        self._v6 = _Ranges(v6)
        self.size = len(by_block)

    def allows_address(self, address: Address) -> bool:
        """True when ``address`` (already unmapped, see ``parse_client_address``) is inside some entry."""
        ranges = self._v4 if address.version == 4 else self._v6
        return ranges.covers(int(address))

    def allows(self, ip: str | None) -> bool:
        """True when the client IP string ``ip`` is inside some entry; False for None or a non-address."""
        address = parse_client_address(ip)
        return address is not None and self.allows_address(address)

    def entries_containing(self, address: Address) -> list[EntryRef]:
        """Every entry whose block contains ``address``, most specific (longest prefix) first."""
        value = int(address)
        width = address.max_prefixlen
        found = []
        for prefixlen in range(width, -1, -1):
            host_bits = width - prefixlen
            ref = self._by_block.get((address.version, (value >> host_bits) << host_bits, prefixlen))
            if ref is not None:
                found.append(ref)
        return found


def compile_allowlist(entries: Iterable[EntryRef]) -> CompiledAllowlist:
    """Compile entries whose ``cidr`` is canonical (see ``allowlist.networks``) into a CompiledAllowlist.
    Raises ValueError for a ``cidr`` that is not an IPv4/IPv6 block without host bits."""
    return CompiledAllowlist((ipaddress.ip_network(ref.cidr), ref) for ref in entries)
