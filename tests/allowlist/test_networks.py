"""What admins type: addresses and CIDR blocks, canonical forms, host bits, mapped addresses, bad input."""

from __future__ import annotations

import pytest

from allowlist.networks import EntryError, parse_client_address, parse_entry, parse_paste


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("192.0.2.1", "192.0.2.1/32"),
        ("192.0.2.0/24", "192.0.2.0/24"),
        ("  10.0.0.0/8 ", "10.0.0.0/8"),
        ("192.0.2.0/255.255.255.0", "192.0.2.0/24"),
        ("2001:DB8::1", "2001:db8::1/128"),
        ("2001:0db8:0000:0000:0000:0000:0000:0000/32", "2001:db8::/32"),
        ("::/0", "::/0"),
    ],
)
def test_entries_are_stored_in_canonical_form(typed, stored):
    entry = parse_entry(typed)
    assert entry.cidr == stored


def test_host_bits_are_normalised_and_the_admin_is_told():
    entry = parse_entry("192.0.2.77/24")
    assert entry.cidr == "192.0.2.0/24"
    assert entry.notices == (
        "192.0.2.77/24 has host bits set; it was stored as 192.0.2.0/24, the block it belongs to.",
    )
    v6 = parse_entry("2001:db8::1234/64")
    assert v6.cidr == "2001:db8::/64"
    assert "host bits" in v6.notices[0]
    assert parse_entry("192.0.2.0/24").notices == ()


def test_ipv4_mapped_entries_become_ipv4():
    assert parse_entry("::ffff:192.0.2.1").cidr == "192.0.2.1/32"
    entry = parse_entry("::ffff:192.0.2.0/120")
    assert entry.cidr == "192.0.2.0/24"
    assert "IPv4-mapped" in entry.notices[-1]


def test_nat64_entries_become_ipv4():
    # Clients behind a NAT64 (RFC 6052 well-known prefix) are matched as IPv4, so such an entry must be IPv4 too.
    assert parse_entry("64:ff9b::c000:280").cidr == "192.0.2.128/32"
    entry = parse_entry("64:ff9b::c000:200/120")
    assert entry.cidr == "192.0.2.0/24"
    assert "NAT64" in entry.notices[-1] and "192.0.2.0/24" in entry.notices[-1]
    # Shorter blocks and other prefixes are not one IPv4 network: they stay IPv6.
    assert parse_entry("64:ff9b::/32").cidr == "64:ff9b::/32"
    assert parse_entry("64:ff9b:1::c000:280").cidr == "64:ff9b:1::c000:280/128"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Enter an IPv4 or IPv6 address"),
        ("10.0.0.300/24", "is not an IPv4 or IPv6 address or CIDR block"),
        ("192.0.2.0/33", "the prefix length /33 is too long for IPv4 (at most /32)"),
        ("2001:db8::/129", "the prefix length /129 is too long for IPv6 (at most /128)"),
        ("192.0.2.0/", "after the '/' give a prefix length from 0 to 32"),
        ("192.0.2.0/24/8", "after the '/' give a prefix length"),
        ("192.0.2.0/abc", "after the '/' give a prefix length"),
        ("192.0.2.0/255.0.255.0", "after the '/' give a prefix length"),
        ("010.0.0.1", "is not an IPv4 or IPv6 address"),
        ("fe80::1%eth0", "IPv6 zone"),
        ("example.com", "is not an IPv4 or IPv6 address"),
        ("192.0.2.0/24 office", "put a label after '#'"),
        ("\uff11\uff19\uff12.0.2.1", "is not an IPv4 or IPv6 address"),  # full-width digits
        ("1" * 500, "is not an IPv4 or IPv6 address"),
        ("192.0.2.1\x00", "is not an IPv4 or IPv6 address"),
    ],
)
def test_bad_entries_get_a_clear_message(typed, says):
    with pytest.raises(EntryError) as caught:
        parse_entry(typed)
    assert says in str(caught.value)


def test_too_long_label_is_refused():
    with pytest.raises(EntryError, match="longer than 100 characters"):
        parse_entry("192.0.2.1", label="x" * 101)


def test_a_paste_reads_one_entry_per_line_with_labels_after_hash():
    paste = parse_paste(
        "# office networks\n198.51.100.0/24   # Berlin office\n\n2001:db8:1200::/40\n203.0.113.5 #   \n",
        default_label="pasted",
    )
    assert paste.errors == []
    assert [(entry.cidr, entry.label, entry.line) for entry in paste.entries] == [
        ("198.51.100.0/24", "Berlin office", 2),
        ("2001:db8:1200::/40", "pasted", 4),
        ("203.0.113.5/32", "pasted", 5),
    ]


def test_a_paste_names_every_bad_line():
    paste = parse_paste("192.0.2.0/24\n300.1.1.1\n# fine\n2001:db8::/200\n10.0.0.1\n")
    assert [(error.line, error.text) for error in paste.errors] == [(2, "300.1.1.1"), (4, "2001:db8::/200")]
    assert (
        str(paste.errors[1]) == "Line 4: “2001:db8::/200”: the prefix length /200 is too long for IPv6 (at most /128)."
    )


def test_an_empty_paste_is_an_error():
    assert parse_paste("# only a comment\n\n").errors[0].message == "Paste at least one address or CIDR block."


def test_a_paste_has_a_size_limit():
    paste = parse_paste("\n".join(f"10.0.{n}.0/24" for n in range(5)), max_lines=3)
    assert paste.errors[0].line == 4
    assert "at most 3 entries" in paste.errors[0].message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("nonsense", None),
        (None, None),
    ],
)
def test_client_addresses_as_the_matcher_sees_them(text, expected):
    address = parse_client_address(text)
    assert (str(address) if address else None) == expected
