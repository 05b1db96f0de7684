"""Matching a client address against an allowlist in O(log n): sorted integer ranges and binary search.

An allowlist is compiled once per (organization, version) into, for IPv4 and IPv6 separately, the sorted,
merged, disjoint integer ranges its CIDR blocks cover. A check is one ``bisect`` over those starts, so 10,000
entries cost about what one does. CIDR blocks (RFC 4632) are either nested or disjoint, so explaining which
entries contain an address is a walk over its at most 33 (IPv4) or 129 (IPv6) enclosing blocks, each a dict
lookup. Client addresses and blocks are matched in the canonical form of ``orgsecurity.client_ip``: IPv4-mapped
(``::ffff:a.b.c.d``) and NAT64 well-known-prefix (``64:ff9b::a.b.c.d``) IPv6 as IPv4.

Pure Python (``socket.inet_pton``, ``bisect``), so the benchmark measures exactly what requests run.
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from allowlist.networks import Address
from orgsecurity.client_ip import EMBEDDED_IPV4_PREFIXES

_V4_WIDTH = 32
_V6_WIDTH = 128
# The top 96 bits of ::ffff:0:0/96 (RFC 4291 §2.5.5.2) and 64:ff9b::/96 (RFC 6052 §2.1): the last 32 are an IPv4 client.
_EMBEDDED_IPV4 = frozenset(int(prefix.network_address) >> 32 for prefix in EMBEDDED_IPV4_PREFIXES)


@dataclass(frozen=True)
class EntryRef:
    """What the matcher remembers of an entry: its database ``id`` (None outside the database), canonical
    ``cidr`` and ``label``."""

    id: int | None
    cidr: str
    label: str = ""

    def __str__(self) -> str:
        return f"{self.cidr} ({self.label})" if self.label else self.cidr


def client_key(ip: str | None) -> tuple[int, int] | None:
    """``(version, integer value)`` of a client IP string in the canonical form of
    ``orgsecurity.client_ip.canonical_address`` (IPv4-mapped and NAT64 well-known-prefix IPv6 given as IPv4, an IPv6
    zone ``%eth0`` dropped); None for anything that is not an address. Uses the C parser (``inet_pton``), which is
    strict (no leading zeros, no shorthand IPv4) and several times faster than ``ipaddress``."""
    if not ip:
        return None
    try:
        if ":" not in ip:
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
        value = int.from_bytes(socket.inet_pton(socket.AF_INET6, ip.split("%", 1)[0]), "big")
    except (OSError, ValueError):
        return None
    if value >> 32 in _EMBEDDED_IPV4:
        return 4, value & 0xFFFFFFFF
    return 6, value


def parse_block(cidr: str) -> tuple[int, int, int]:
    """``(version, first address as int, prefix length)`` of a canonical CIDR block (RFC 4632) such as
    ``192.0.2.0/24`` or ``2001:db8::/32``; a /96-or-longer IPv4-mapped or NAT64 block stored before those were
    turned into IPv4 gives the IPv4 block, as clients are matched. Raises ValueError for anything else, host bits
    set included."""
    address, _, prefix = cidr.partition("/")
    family, version, width = (socket.AF_INET6, 6, _V6_WIDTH) if ":" in address else (socket.AF_INET, 4, _V4_WIDTH)
    try:
        start = int.from_bytes(socket.inet_pton(family, address), "big")
    except OSError:
        raise ValueError(f"{cidr!r} is not a CIDR block") from None
    if not (prefix.isascii() and prefix.isdigit() and int(prefix) <= width):
        raise ValueError(f"{cidr!r} has no valid prefix length")
    prefixlen = int(prefix)
    if start & ((1 << (width - prefixlen)) - 1):
        raise ValueError(f"{cidr!r} has host bits set")
    if version == 6 and prefixlen >= _V6_WIDTH - _V4_WIDTH and start >> 32 in _EMBEDDED_IPV4:
        return 4, start & 0xFFFFFFFF, prefixlen - (_V6_WIDTH - _V4_WIDTH)
    return version, start, prefixlen


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

    __slots__ = ("_by_block", "_ranges", "size")

    def __init__(self, blocks: Iterable[tuple[int, int, int, EntryRef]]) -> None:
        by_block: dict[tuple[int, int, int], EntryRef] = {}
        ranges: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for version, start, prefixlen, ref in blocks:
            by_block[(version, start, prefixlen)] = ref
            host_bits = (_V4_WIDTH if version == 4 else _V6_WIDTH) - prefixlen
            ranges[version].append((start, start | ((1 << host_bits) - 1)))
        self._by_block = by_block
        self._ranges = {version: _Ranges(spans) for version, spans in ranges.items()}
        self.size = len(by_block)

    def allows(self, ip: str | None) -> bool:
        """True when the client IP string ``ip`` is inside some entry; False for None or a non-address."""
        key = client_key(ip)
        return key is not None and self._ranges[key[0]].covers(key[1])

    def allows_address(self, address: Address) -> bool:
        """True when ``address`` (an ``ipaddress`` object, already unmapped) is inside some entry."""
        return self._ranges[address.version].covers(int(address))

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
    return CompiledAllowlist((*parse_block(ref.cidr), ref) for ref in entries)
