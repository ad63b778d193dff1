"""Address parsing in the importers: the quick IPv4 path, the blocks that no host has, MACs."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.importers.base import (
    format_host_address,
    non_host_reason,
    normalise_mac,
    parse_host_address,
)
from lumeta_qualys.ipset import AddressError, format_address, parse_address

PARTS = st.one_of(
    st.integers(0, 300).map(str),
    st.sampled_from(["00", "01", "007", "", "\u0661", "\u00b2", " 1", "+1", "-0", "0x1", "1e2"]),
)


def reference(text: str):
    try:
        version, value = parse_address(text)
    except AddressError:
        return None
    return version, value, format_address(version, value)


def quick(text: str):
    try:
        return parse_host_address(text)
    except AddressError:
        return None


@settings(max_examples=3000, deadline=None)
@given(st.lists(PARTS, min_size=3, max_size=5).map(".".join))
def test_quick_path_matches_reference(text):
    assert quick(text) == reference(text)


@given(st.integers(0, 2**32 - 1))
def test_quick_ipv4_format_matches_reference(value):
    assert format_host_address(4, value) == format_address(4, value)


def test_ipv6_goes_through_reference():
    assert parse_host_address("2001:DB8:0::1") == (6, 0x20010DB8 << 96 | 1, "2001:db8::1")


@pytest.mark.parametrize(
    ("address", "block"),
    [
        ("0.255.255.255", '0.0.0.0/8 ("this network")'),
        ("1.0.0.0", None),
        ("126.255.255.255", None),
        ("127.0.0.0", "loopback"),
        ("127.255.255.255", "loopback"),
        ("128.0.0.0", None),
        ("169.253.255.255", None),
        ("169.254.0.0", "link-local"),
        ("169.254.255.255", "link-local"),
        ("169.255.0.0", None),
        ("223.255.255.255", None),
        ("224.0.0.0", "multicast"),
        ("239.255.255.255", "multicast"),
        ("240.0.0.0", "reserved"),
        ("255.255.255.254", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("::2", None),
        ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("fe80::", "link-local"),
        ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"),
        ("fec0::", None),
        ("feff::", None),
        ("::ffff:127.0.0.1", "its IPv4 address is a loopback address"),
        ("::ffff:169.254.0.1", "its IPv4 address is a link-local address"),
        ("::ffff:224.0.0.1", "its IPv4 address is a multicast group address"),
        ("::ffff:192.0.2.1", None),
        ("::fffe:ffff:ffff", None),
        ("ff00::", "multicast"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"),
    ],
)
def test_non_host_blocks_end_where_they_should(address, block):
    parsed = ipaddress.ip_address(address)

    reason = non_host_reason(parsed.version, int(parsed))

    if block is None:
        assert reason is None
    else:
        assert block in reason


def test_range_into_mapped_block_meets_its_blocks():
    # From the last address below ::ffff:0:0 into ::ffff:0.0.0.1, "this network".
    first = (0xFFFF << 32) - 1

    reason = non_host_reason(6, first, first + 2)

    assert reason == 'IPv4-mapped, and its IPv4 address is in 0.0.0.0/8 ("this network")'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("::ffff:192.0.2.1", (4, 0xC0000201, "192.0.2.1")),
        ("::FFFF:c000:201", (4, 0xC0000201, "192.0.2.1")),
        ("::fffe:c000:201", (6, 0xFFFEC0000201, "::fffe:c000:201")),
    ],
)
def test_mapped_address_is_its_ipv4_address(text, expected):
    assert parse_host_address(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:5E:00:53:01", "00:00:5E:00:53:01"),
        ("00-00-5e-00-53-01", "00:00:5E:00:53:01"),
        # arp on macOS and BSD leaves out leading zeros.
        ("0:0:5e:0:53:1", "00:00:5E:00:53:01"),
        # Cisco IOS writes three dotted groups.
        ("0000.5e00.5301", "00:00:5E:00:53:01"),
        ("00005E005301", "00:00:5E:00:53:01"),
        ("\u00a000:00:5e:00:53:01 ", "00:00:5E:00:53:01"),
        ("00:00:5e-00:53:01", None),
        ("00:00:5e:00:53", None),
        ("000:00:5e:00:53:01", None),
        ("0000.5e00.530", None),
        ("00005E00530", None),
        ("not-a-mac", None),
    ],
)
def test_mac_notations_normalised(text, expected):
    assert normalise_mac(text) == expected
