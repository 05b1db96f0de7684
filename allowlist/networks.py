"""Parsing what admins type into an IP allowlist: addresses and CIDR blocks (RFC 4632, RFC 4291 §2.3), one per line.

Pure Python (``ipaddress`` and ``orgsecurity.client_ip``'s canonical forms), so the benchmark and the tests can use
it without a database. Every entry is
stored in one canonical form, ``ipaddress.ip_network(...).with_prefixlen`` after normalisation:

- a single address becomes a host block (``192.0.2.1`` → ``192.0.2.1/32``, ``2001:db8::1`` → ``2001:db8::1/128``);
- a block written with host bits set is normalised to the block it belongs to (``192.0.2.7/24`` →
  ``192.0.2.0/24``) and the admin is told;
- IPv6 is lower-case and compressed (RFC 5952);
- an IPv4-mapped or NAT64 well-known-prefix IPv6 address or block (``::ffff:192.0.2.0/120``,
  ``64:ff9b::c000:200/120``) becomes the IPv4 block (``192.0.2.0/24``), because such clients are matched as IPv4
  (``orgsecurity.client_ip.canonical_network``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from orgsecurity.client_ip import canonical_address, canonical_network
from orgsecurity.text import plain_text_problem

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_LABEL_LENGTH = 100
# Longest sensible entry text: a full IPv6 address with a /128 and spaces around it.
MAX_ENTRY_LENGTH = 64


class EntryError(ValueError):
    """An entry that cannot be stored; ``str(exc)`` says why in words meant for the admin."""


@dataclass(frozen=True)
class ParsedEntry:
    """One valid entry: its canonical ``network``, the ``text`` as typed, its ``label``, the source ``line``
    number (1-based; 0 for a single entry) and ``notices`` to show the admin (e.g. host bits normalised)."""

    network: Network
    text: str
    label: str = ""
    line: int = 0
    notices: tuple[str, ...] = ()

    @property
    def cidr(self) -> str:
        """The canonical form stored in the database, e.g. ``192.0.2.0/24``."""
        return self.network.with_prefixlen


@dataclass(frozen=True)
class LineError:
    """A line of a bulk paste that cannot be stored: 1-based ``line``, the ``text`` and the ``message``."""

    line: int
    text: str
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


@dataclass
class ParsedPaste:
    """The result of parsing a bulk paste: the valid ``entries`` and the ``errors``; save only when no errors."""

    entries: list[ParsedEntry] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def parse_entry(text: str, *, label: str = "", line: int = 0) -> ParsedEntry:
    """Parse one address or CIDR block (``text``) into its canonical ParsedEntry.

    Raises EntryError with a sentence for the admin when ``text`` is not an IPv4/IPv6 address or CIDR block,
    has a prefix length out of range, carries an IPv6 zone (``%eth0``), or ``label`` is too long or not plain text
    (``orgsecurity.text.plain_text_problem``: control characters, line breaks, bidirectional overrides).
    """
    raw = (text or "").strip()
    label = (label or "").strip()
    if not raw:
        raise EntryError("Enter an IPv4 or IPv6 address or CIDR block, e.g. 192.0.2.0/24 or 2001:db8::/32.")
    shown = raw if len(raw) <= MAX_ENTRY_LENGTH else raw[:MAX_ENTRY_LENGTH] + "…"
    if len(raw) > MAX_ENTRY_LENGTH or not raw.isascii() or not raw.isprintable():
        raise EntryError(f"“{shown}” is not an IPv4 or IPv6 address or CIDR block.")
    if any(character.isspace() for character in raw):
        raise EntryError(
            f"“{shown}” has more than one word. Write one address or CIDR block per line and put a label "
            "after '#', e.g. 192.0.2.0/24 # office."
        )
    if "%" in raw:
        raise EntryError(f"“{shown}” has an IPv6 zone (%…); zones are local to one host, so leave it out.")
    if len(label) > MAX_LABEL_LENGTH:
        raise EntryError(f"The label of {shown} is longer than {MAX_LABEL_LENGTH} characters.")
    label_problem = plain_text_problem(label)
    if label_problem:
        raise EntryError(f"The label of {shown} cannot be saved. {label_problem}")
    address_part, slash, prefix_part = raw.partition("/")
    try:
        address = ipaddress.ip_address(address_part)
    except ValueError:
        raise EntryError(f"“{shown}” is not an IPv4 or IPv6 address or CIDR block.") from None
    if slash and prefix_part.isdigit() and int(prefix_part) > address.max_prefixlen:
        raise EntryError(
            f"“{shown}”: the prefix length /{int(prefix_part)} is too long for IPv{address.version} "
            f"(at most /{address.max_prefixlen})."
        )
    try:
        network = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise EntryError(
            f"“{shown}”: after the '/' give a prefix length from 0 to {address.max_prefixlen}, e.g. "
            f"{address_part}/{24 if address.version == 4 else 64}."
        ) from None
    notices = []
    if network.network_address != address:
        notices.append(f"{raw} has host bits set; it was stored as {network.with_prefixlen}, the block it belongs to.")
    network = _unmap(network, raw, notices)
    if network.prefixlen == 0:
        notices.append(f"{network.with_prefixlen} matches every IPv{network.version} address.")
    return ParsedEntry(network=network, text=raw, label=label, line=line, notices=tuple(notices))


def _unmap(network: Network, raw: str, notices: list[str]) -> Network:
    """An IPv4-mapped or NAT64 well-known-prefix IPv6 block becomes its IPv4 block, since those clients are matched
    as IPv4 (``canonical_network``)."""
    ipv4 = canonical_network(network)
    if ipv4 is network:
        return network
    kind = "an IPv4-mapped" if network.network_address.ipv4_mapped is not None else "a NAT64 (64:ff9b::/96)"
    notices.append(f"{raw} is {kind} IPv6 address; it was stored as {ipv4.with_prefixlen}.")
    return ipv4


def parse_paste(text: str, *, default_label: str = "", max_lines: int | None = None) -> ParsedPaste:
    """Parse a bulk paste: one entry per line, anything after ``#`` is that entry's label (or a comment on a
    line with no entry), blank lines ignored. Lines without a ``#`` label get ``default_label``.

    Returns a ParsedPaste whose ``errors`` name every bad line (1-based numbers); raises nothing for bad input.
    ``max_lines`` bounds the number of entries in one paste.
    """
    result = ParsedPaste()
    for number, line in enumerate((text or "").splitlines(), start=1):
        entry_text, hash_sign, comment = line.partition("#")
        entry_text = entry_text.strip()
        if not entry_text:
            continue
        label = comment.strip() if hash_sign and comment.strip() else default_label
        try:
            result.entries.append(parse_entry(entry_text, label=label, line=number))
        except EntryError as exc:
            result.errors.append(LineError(line=number, text=entry_text[:MAX_ENTRY_LENGTH], message=str(exc)))
    if max_lines is not None and len(result.entries) > max_lines:
        result.errors.insert(
            0,
            LineError(
                line=result.entries[max_lines].line,
                text=result.entries[max_lines].text,
                message=f"a paste may hold at most {max_lines:,} entries; split it into several pastes.",
            ),
        )
    if not result.entries and not result.errors:
        result.errors.append(LineError(line=1, text="", message="Paste at least one address or CIDR block."))
    return result


def parse_client_address(text: str | None) -> Address | None:
    """Parse a client IP string as enforcement sees it (``orgsecurity.client_ip.canonical_address``): IPv4-mapped
    and NAT64 well-known-prefix IPv6 given as IPv4, an IPv6 zone dropped. Returns None for anything that is not an
    IP address."""
    return canonical_address(text) if text else None
