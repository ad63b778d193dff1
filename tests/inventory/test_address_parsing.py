"""The importers' quick IPv4 path accepts exactly what the IP-set module accepts."""

from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.importers.base import format_host_address, parse_host_address
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
