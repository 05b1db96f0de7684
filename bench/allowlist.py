"""Benchmark: allowlist checks with 1, 100 and 10,000 entries (mixed IPv4/IPv6) against a linear ipaddress scan.

Run: ``.venv/bin/python bench/allowlist.py``. Prints the time per check (parsing the client IP string included,
as a request does) for the compiled matcher (``allowlist.matching``: sorted ranges + bisect) and for a linear
scan over ``ipaddress`` networks, side by side from one run, then the ratios. Exits 1 when a target is missed:

- 10,000 entries cost at most 2x one entry;
- at 10,000 entries the matcher is at least 50x faster than the linear scan.

The per-request database cost (one small query) does not depend on the list size; tests/allowlist prove it.
"""

from __future__ import annotations

import ipaddress
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from allowlist.matching import EntryRef, compile_allowlist
from allowlist.networks import parse_client_address

SIZES = (1, 100, 10_000)
PROBES = 1_000
ROUNDS = 40
MAX_GROWTH = 2.0  # 10,000 entries vs 1 entry
MIN_SPEEDUP = 50.0  # matcher vs linear scan at 10,000 entries

rng = random.Random(20261129)


def random_network(version: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if version == 4:
        return ipaddress.IPv4Network((rng.getrandbits(32), rng.randint(8, 32)), strict=False)
    return ipaddress.IPv6Network((rng.getrandbits(128), rng.randint(32, 128)), strict=False)


def make_networks(size: int) -> list:
    networks: set = set()
    while len(networks) < size:
        networks.add(random_network(4 if len(networks) % 2 == 0 else 6))
    return sorted(networks, key=lambda net: (net.version, net))


def make_probes(networks: list) -> list[str]:
    """The same mix for every size: half IPv4, half IPv6; half inside some entry of that family (when the list
    has one), half anywhere; every tenth IPv4 probe written as IPv4-mapped IPv6, as dual-stack servers report it."""
    by_family = {4: [net for net in networks if net.version == 4], 6: [net for net in networks if net.version == 6]}
    probes = []
    for n in range(PROBES):
        version = 4 if n % 2 == 0 else 6
        family = by_family[version]
        if n % 4 < 2 and family:
            net = family[rng.randrange(len(family))]
            address = net.network_address + rng.randrange(net.num_addresses)
        else:
            address = ipaddress.ip_address(rng.getrandbits(32) if version == 4 else rng.getrandbits(128))
            if version == 6:
                address = ipaddress.IPv6Address(int(address) | (1 << 125))  # global unicast, never mapped
        text = str(address)
        if version == 4 and n % 20 == 0:
            text = f"::ffff:{text}"
        probes.append(text)
    return probes


def linear_allows(networks: list, ip: str) -> bool:
    """The straightforward way: parse, then test every network of the same family."""
    address = parse_client_address(ip)
    return address is not None and any(net.version == address.version and address in net for net in networks)


def best_seconds_per_check(check, probes: list[str]) -> float:
    """One timed pass over all probes, in seconds per check."""
    start = time.perf_counter()
    for ip in probes:
        check(ip)
    return (time.perf_counter() - start) / len(probes)


def main() -> int:
    setups = []
    for size in SIZES:
        networks = make_networks(size)
        probes = make_probes(networks)
        refs = [EntryRef(id=n, cidr=net.with_prefixlen) for n, net in enumerate(networks)]
        started = time.perf_counter()
        matcher = compile_allowlist(refs)
        compile_seconds = time.perf_counter() - started
        # Both must agree before either is timed.
        assert all(matcher.allows(ip) == linear_allows(networks, ip) for ip in probes[:500])
        setups.append((size, networks, probes, matcher, compile_seconds))

    # The machine is shared: interleave short passes over every size and keep each size's best, so a busy
    # moment slows one pass, not one size.
    fast = {size: float("inf") for size in SIZES}
    for _ in range(ROUNDS):
        for size, _networks, probes, matcher, _compile in setups:
            fast[size] = min(fast[size], best_seconds_per_check(matcher.allows, probes))
    slow = {}
    for size, networks, probes, _matcher, _compile in setups:
        linear_probes = probes if size <= 100 else probes[:100]
        slow[size] = min(
            best_seconds_per_check(lambda ip, nets=networks: linear_allows(nets, ip), linear_probes) for _ in range(3)
        )

    print(
        f"{'entries':>8} | {'compiled (µs/check)':>20} | {'linear scan (µs/check)':>23} | {'speed-up':>9} | "
        f"{'compile once (ms)':>17}"
    )
    print("-" * 90)
    for size, _networks, _probes, _matcher, compile_seconds in setups:
        print(
            f"{size:>8,} | {fast[size] * 1e6:>20.3f} | {slow[size] * 1e6:>23.3f} | {slow[size] / fast[size]:>8.1f}x | "
            f"{compile_seconds * 1e3:>17.2f}"
        )
    growth = fast[SIZES[-1]] / fast[SIZES[0]]
    speedup = slow[SIZES[-1]] / fast[SIZES[-1]]
    print()
    print(f"10,000 entries vs 1 entry: {growth:.2f}x the time per check (target ≤ {MAX_GROWTH:.0f}x)")
    print(f"speed-up over the linear scan at 10,000 entries: {speedup:,.0f}x (target ≥ {MIN_SPEEDUP:.0f}x)")
    missed = []
    if growth > MAX_GROWTH:
        missed.append("growth")
    if speedup < MIN_SPEEDUP:
        missed.append("speed-up")
    print("result:", "MISSED " + ", ".join(missed) if missed else "all targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
