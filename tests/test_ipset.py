"""The IP interval set against a brute-force set of addresses, plus huge sets and known faults."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumeta_qualys.ipset import (
    IPV6_PLACEHOLDERS,
    AddressError,
    IPSet,
    IPSetBuilder,
    address_key,
    canonical_address,
    format_address,
    key_of,
    merge,
    merge_bounds,
    parse_address,
    parse_key,
    parse_range,
    parse_ranges,
)

V4_BASE = int(ipaddress.IPv4Address("192.0.2.0"))
V6_BASE = int(ipaddress.IPv6Address("2001:db8::"))
WINDOW = 96  # addresses per version in the small sets: enough for overlaps, gaps and CIDR blocks

Reference = frozenset[tuple[int, int]]


# Strategies ---------------------------------------------------------------


@st.composite
def raw_intervals(draw, base: int) -> list[tuple[int, int]]:
    """Draw up to eight intervals, which may overlap, touch or repeat, inside one window."""
    intervals = []
    for _ in range(draw(st.integers(0, 8))):
        start = draw(st.integers(0, WINDOW - 1))
        length = draw(st.integers(1, 24))
        intervals.append((base + start, base + min(WINDOW - 1, start + length - 1)))
    return intervals


@st.composite
def small_sets(draw) -> tuple[IPSet, Reference]:
    """Draw an IPSet and the brute-force set of ``(version, address)`` it must equal."""
    v4 = draw(raw_intervals(V4_BASE))
    v6 = draw(raw_intervals(V6_BASE))
    reference = frozenset(
        [(4, value) for start, end in v4 for value in range(start, end + 1)]
        + [(6, value) for start, end in v6 for value in range(start, end + 1)]
    )
    return IPSet.from_intervals(v4, v6), reference


def addresses_of(ip_set: IPSet) -> Reference:
    return frozenset(
        (version, value)
        for version, start, end in ip_set.ranges()
        for value in range(start, end + 1)
    )


def assert_well_formed(ip_set: IPSet) -> None:
    """Intervals are sorted, non-empty, and neither overlap nor touch."""
    for intervals in (ip_set.v4, ip_set.v6):
        for start, end in intervals:
            assert start <= end
        for (_, previous_end), (next_start, _) in zip(intervals, intervals[1:], strict=False):
            assert next_start > previous_end + 1


def minimal_cidr_count(reference: Reference) -> int:
    """Count the CIDR blocks of a greedy cover, which is minimal for a set of addresses."""
    count = 0
    for version in (4, 6):
        remaining = sorted(value for v, value in reference if v == version)
        present = set(remaining)
        index = 0
        while index < len(remaining):
            start = remaining[index]
            size = 1
            while start % (size * 2) == 0 and all(
                start + offset in present for offset in range(size * 2)
            ):
                size *= 2
            count += 1
            index += size
    return count


# Properties against the reference ---------------------------------------------


@given(small_sets())
def test_merge_matches_reference(drawn):
    ip_set, reference = drawn

    assert addresses_of(ip_set) == reference
    assert_well_formed(ip_set)


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 30))))
def test_merge_function_matches_reference(pairs):
    intervals = [(start, start + length) for start, length in pairs]
    expected = {value for start, end in intervals for value in range(start, end + 1)}

    merged = merge(intervals)

    assert {value for start, end in merged for value in range(start, end + 1)} == expected
    assert merged == sorted(merged)
    assert all(b[0] > a[1] + 1 for a, b in zip(merged, merged[1:], strict=False))


@given(small_sets(), small_sets())
def test_union_matches_reference(left, right):
    result = left[0] | right[0]

    assert addresses_of(result) == left[1] | right[1]
    assert_well_formed(result)


@given(small_sets(), small_sets())
def test_difference_matches_reference(left, right):
    result = left[0] - right[0]

    assert addresses_of(result) == left[1] - right[1]
    assert_well_formed(result)


@given(small_sets(), small_sets())
def test_intersection_matches_reference(left, right):
    result = left[0] & right[0]

    assert addresses_of(result) == left[1] & right[1]
    assert_well_formed(result)


@given(small_sets())
def test_size_matches_reference(drawn):
    ip_set, reference = drawn

    assert ip_set.size == len(reference)
    assert ip_set.size_v4 == sum(1 for version, _ in reference if version == 4)
    assert ip_set.size_v6 == sum(1 for version, _ in reference if version == 6)
    assert len(ip_set) == len(reference)
    assert bool(ip_set) == bool(reference)


@given(small_sets(), st.integers(-4, WINDOW + 4), st.sampled_from([4, 6]))
def test_contains_matches_reference(drawn, offset, version):
    ip_set, reference = drawn
    value = (V4_BASE if version == 4 else V6_BASE) + offset

    assert ip_set.contains(version, value) == ((version, value) in reference)
    assert (format_address(version, value) in ip_set) == ((version, value) in reference)
    assert (ipaddress.ip_address(format_address(version, value)) in ip_set) == (
        (version, value) in reference
    )


@given(small_sets())
def test_cidrs_cover_exactly_and_minimally(drawn):
    ip_set, reference = drawn

    blocks = list(ip_set.cidrs())

    covered = [
        (block.version, value)
        for block in blocks
        for value in range(int(block.network_address), int(block.broadcast_address) + 1)
    ]
    assert frozenset(covered) == reference
    assert len(covered) == len(reference)  # no block overlaps another
    assert len(blocks) == minimal_cidr_count(reference)


@given(small_sets())
def test_qualys_tokens_round_trip(drawn):
    ip_set, reference = drawn

    tokens = list(ip_set.qualys_tokens())

    assert IPSet.from_strings(tokens) == ip_set
    assert len(tokens) == len(ip_set.v4) + len(ip_set.v6)
    for token in tokens:
        version, start, end = parse_range(token)
        if start == end:
            assert "-" not in token
            assert token == format_address(version, start)
        else:
            first, last = token.split("-")
            assert (first, last) == (format_address(version, start), format_address(version, end))
    assert (
        frozenset(
            (version, value)
            for version, start, end in map(parse_range, tokens)
            for value in range(start, end + 1)
        )
        == reference
    )


@given(small_sets())
def test_iteration_lists_every_address_in_order(drawn):
    ip_set, reference = drawn

    listed = list(ip_set)

    assert listed == [format_address(version, value) for version, value in sorted(reference)]


@given(small_sets(), small_sets(), small_sets())
def test_set_algebra_laws(first, second, third):
    a, b, c = first[0], second[0], third[0]

    assert a | b == b | a
    assert a & b == b & a
    assert (a | b) | c == a | (b | c)
    assert a - (b | c) == (a - b) - c
    assert (a - b) | (a & b) == a
    assert (a - b) & b == IPSet()


@given(st.sampled_from([4, 6]), st.integers(0, 2**32 - 1), st.integers(0, 2**128 - 1))
def test_address_key_round_trip_and_order(version, v4_value, v6_value):
    value = v4_value if version == 4 else v6_value
    key = address_key(version, value)

    assert parse_key(key) == (version, value)
    assert key_of(format_address(version, value)) == key
    assert len(key) == (9 if version == 4 else 33)
    assert address_key(4, 2**32 - 1) < address_key(6, 0)


@settings(max_examples=50)
@given(st.integers(0, 2**32 - 2))
def test_address_keys_sort_like_addresses(value):
    assert address_key(4, value) < address_key(4, value + 1)


# Huge sets: these must run in well under a second; measured, not asserted. ---------


def huge_sets() -> tuple[IPSet, IPSet, IPSet]:
    holes = IPSet.from_strings(
        ["0.0.0.0", "10.1.2.3", "127.255.255.255", "2001:db8::", "2001:db8:ffff::1"]
    )
    v4 = IPSet.from_strings(["0.0.0.0/1"])
    v6 = IPSet.from_strings(["2001:db8::/32"])
    return v4, v6, holes


def test_huge_sets_difference_and_size():
    v4, v6, holes = huge_sets()

    result = (v4 | v6) - holes

    assert result.size_v4 == 2**31 - 3
    assert result.size_v6 == 2**96 - 2
    assert result.v4 == (
        (1, int(ipaddress.IPv4Address("10.1.2.2"))),
        (int(ipaddress.IPv4Address("10.1.2.4")), int(ipaddress.IPv4Address("127.255.255.254"))),
    )
    assert "10.1.2.3" not in result
    assert "10.1.2.4" in result
    assert "2001:db8::1" in result
    assert "2001:db8:ffff::1" not in result
    assert "128.0.0.0" not in result


def test_huge_sets_intersection_union_and_tokens():
    v4, v6, holes = huge_sets()
    whole = v4 | v6
    punched = whole - holes

    assert punched & holes == IPSet()
    assert punched | holes == whole
    assert (whole & punched) == punched
    assert list(punched.qualys_tokens()) == [
        "0.0.0.1-10.1.2.2",
        "10.1.2.4-127.255.255.254",
        "2001:db8::1-2001:db8:ffff::",
        "2001:db8:ffff::2-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
    ]


def test_huge_sets_cidrs_cover_the_size():
    v4, v6, holes = huge_sets()
    punched = (v4 | v6) - holes

    blocks = list(punched.cidrs())

    assert sum(block.num_addresses for block in blocks) == punched.size
    assert len(blocks) < 300
    assert all(
        block.subnet_of(ipaddress.ip_network("0.0.0.0/1")) for block in blocks if block.version == 4
    )


def test_huge_union_of_many_ranges():
    ranges = IPSet.from_intervals(v4=[(n * 4, n * 4 + 1) for n in range(50_000)])
    filler = IPSet.from_intervals(v4=[(n * 4 + 2, n * 4 + 3) for n in range(50_000)])

    joined = ranges | filler

    assert joined.v4 == ((0, 200_000 - 1),)
    assert (joined - ranges) == filler
    assert (joined & ranges) == ranges


# Known faults with exact values -------------------------------------------------------


def test_unaligned_range_keeps_every_address():
    ip_set = IPSet.from_strings(["192.0.2.1-192.0.2.20"])

    assert ip_set.size == 20
    assert [str(block) for block in ip_set.cidrs()] == [
        "192.0.2.1/32",
        "192.0.2.2/31",
        "192.0.2.4/30",
        "192.0.2.8/29",
        "192.0.2.16/30",
        "192.0.2.20/32",
    ]
    assert list(ip_set.qualys_tokens()) == ["192.0.2.1-192.0.2.20"]


def test_unaligned_ipv6_range_keeps_every_address():
    ip_set = IPSet.from_strings(["2001:db8::1-2001:db8::ff"])

    assert ip_set.size == 255
    assert list(ip_set.qualys_tokens()) == ["2001:db8::1-2001:db8::ff"]


@pytest.mark.parametrize(
    ("tokens", "size", "merged"),
    [
        (["192.0.2.10", "192.0.2.10-192.0.2.12"], 3, ["192.0.2.10-192.0.2.12"]),
        (["192.0.2.1-192.0.2.5", "192.0.2.4-192.0.2.8"], 8, ["192.0.2.1-192.0.2.8"]),
        (["192.0.2.7", "192.0.2.7"], 1, ["192.0.2.7"]),
        (["192.0.2.1-192.0.2.5", "192.0.2.6-192.0.2.10"], 10, ["192.0.2.1-192.0.2.10"]),
        (["192.0.2.1"], 1, ["192.0.2.1"]),
    ],
    ids=["ip-inside-range", "overlapping", "duplicate", "adjacent", "single"],
)
def test_overlaps_and_duplicates_count_once(tokens, size, merged):
    ip_set = IPSet.from_strings(tokens)

    assert ip_set.size == size
    assert list(ip_set.qualys_tokens()) == merged


def test_invalid_token_names_the_whole_text():
    with pytest.raises(AddressError) as raised:
        IPSet.from_strings(["192.0.2.1", "not-an-ip"])

    assert raised.value.value == "not-an-ip"
    assert "'not-an-ip'" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("192.0.2.9-192.0.2.2", "ends before it starts"),
        ("192.0.2.1-2001:db8::1", "mixes IPv4 and IPv6"),
        ("fe80::1%eth0", "zone ids"),
        ("192.0.2.01", "the octet '01' has a leading zero, which tools read as decimal or as oc"),
        ("010.0.0.1", "the octet '010' has a leading zero"),
        ("192.0.2.300", "the octet '300' is more than 255"),
        ("host-a.example.test", "does not appear to be an IPv4 or IPv6 address"),
        ("10.8.0.1-3", "write both ends in full, such as 10.8.0.1-10.8.0.3$"),
        ("2001:db8::1-ff", "write both ends in full, such as 2001:db8::1-2001:db8::ff$"),
        ("10.8.0.1-x", "does not appear to be an IPv4 or IPv6 address"),
        ("192.0.2.1-192.0.2.9/32", "a CIDR block or prefix is not one address"),
        ("192.0.2.7/24", "host bits set; the block that contains it is 192.0.2.0/24$"),
        ("192.0.2.0/33", "range: the prefix length 33 is more than 32$"),
        ("2001:db8::/129", "range: the prefix length 129 is more than 128$"),
        ("192.0.2.1\x00", "does not appear to be"),
        ("192.0.2.1-192.0.2.9\x00", "does not appear to be"),
    ],
)
def test_parse_range_rejects_bad_text(text, reason):
    with pytest.raises(AddressError, match=reason):
        parse_range(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("192.0.2.7/32", "a CIDR block or prefix is not one address"),
        ("192.0.2.1-192.0.2.9", "a range is not one address"),
        # A host name of hexadecimal letters is no range.
        ("dc-01", "does not appear to be an IPv4 or IPv6 address"),
        # A hyphenated name is no range.
        ("not-an-ip", "'not-an-ip' does not appear to be an IPv4 or IPv6 address"),
    ],
)
def test_block_is_not_one_address(text, reason):
    with pytest.raises(AddressError, match=reason):
        parse_address(text)


def test_placeholders_are_the_ipv6_mapping_range():
    assert IPV6_PLACEHOLDERS.size_v4 == int(ipaddress.IPv4Address("0.254.255.255"))
    assert "0.0.0.7" in IPV6_PLACEHOLDERS
    assert "0.0.0.0" not in IPV6_PLACEHOLDERS
    assert "1.0.0.0" not in IPV6_PLACEHOLDERS


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("::ffff:c000:201", "::ffff:192.0.2.1"),
        ("::FFFF:192.0.2.1", "::ffff:192.0.2.1"),
        ("0:0:0:0:0:ffff:0:0", "::ffff:0.0.0.0"),
        ("::ffff:ffff:ffff", "::ffff:255.255.255.255"),
        # Next to the mapped block, but not in it: hexadecimal as usual.
        ("::1:ffff:c000:201", "::1:ffff:c000:201"),
        ("::fffe:c000:201", "::fffe:c000:201"),
        ("::c000:201", "::c000:201"),
    ],
)
def test_ipv4_mapped_text_is_dotted(text, canonical):
    assert canonical_address(text) == canonical
    assert canonical_address(canonical) == canonical


@given(st.integers(0, 2**128 - 1))
def test_ipv6_text_round_trips(value):
    text = format_address(6, value)

    assert parse_address(text) == (6, value)
    if value >> 32 != 0xFFFF:
        assert text == str(ipaddress.IPv6Address(value))


def test_canonical_address_forms():
    assert canonical_address(" 2001:DB8:0:0:0:0:0:7 ") == "2001:db8::7"
    assert canonical_address("192.0.2.1") == "192.0.2.1"
    assert parse_address("::ffff:192.0.2.1") == (6, int(ipaddress.IPv6Address("::ffff:c000:201")))


# The IPv4 fast path against ipaddress -------------------------------------------

octets = st.one_of(
    st.integers(0, 300).map(str),
    st.from_regex(r"0[0-9]{1,2}", fullmatch=True),
    st.just(""),
)
dotted = st.lists(octets, min_size=3, max_size=5).map(".".join)
tokens = st.one_of(
    dotted, st.tuples(dotted, dotted).map("-".join), st.text("0123456789.-", max_size=20)
)


def slow_parse(text: str) -> tuple[int, int, int] | None:
    """Parse an IPv4 token with ipaddress only; None when it is invalid."""
    first, separator, last = text.strip().partition("-")
    try:
        start = int(ipaddress.IPv4Address(first))
        end = int(ipaddress.IPv4Address(last)) if separator else start
    except ValueError:
        return None
    return (4, start, end) if start <= end else None


@given(tokens)
def test_ipv4_fast_path_agrees_with_ipaddress(text):
    try:
        parsed = parse_range(text)
    except AddressError:
        parsed = None

    assert parsed == slow_parse(text)


def parse_one_by_one(texts):
    """Return what parse_ranges should: the IPv4 and IPv6 bounds and the rejected texts."""
    expected: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    rejected = []
    for text in texts:
        try:
            version, start, end = parse_range(text)
        except AddressError as error:
            rejected.append(error.value)
            continue
        expected[version].append((start, end))
    return expected[4], expected[6], rejected


@given(st.lists(st.one_of(tokens, st.sampled_from(["2001:db8::1-2001:db8::9", "192.0.2.0/30"]))))
def test_parse_ranges_matches_parse_range(texts):
    v4, v6, errors = parse_ranges(texts)

    expected_v4, expected_v6, expected_errors = parse_one_by_one(texts)
    assert v4 == expected_v4
    assert v6 == expected_v6
    assert [error.value for error in errors] == expected_errors


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 300), st.booleans())))
def test_parse_ranges_fast_batch_matches_parse_range(entries):
    texts = [
        format_address(4, start)
        if single
        else f"{format_address(4, start)}-{format_address(4, min(start + length, 2**32 - 1))}"
        for start, length, single in entries
    ]

    v4, v6, errors = parse_ranges(texts)

    assert v4 == [parse_range(text)[1:] for text in texts]
    assert v6 == []
    assert errors == []


@pytest.mark.parametrize(
    "texts",
    [
        ["192.0.2.1-192.0.2.5-192.0.2.9", "192.0.2.20"],
        ["192.0.2.1-", "192.0.2.2"],
        ["-192.0.2.1", "192.0.2.2-192.0.2.3"],
        ["192.0.2.1\n192.0.2.2", "192.0.2.3"],
        [" 192.0.2.1", "192.0.2.2 "],
        ["192.0.2.9-192.0.2.1", "192.0.2.4"],
        ["192.0.2.1-192.0.2.3", ""],
        ["192.0.2.1", "2001:db8::1"],
        ["192.0.2.1\x00", "192.0.2.2-192.0.2.3"],
        ["192.0.2.1-192.0.2.2\n192.0.2.3", "192.0.2.4"],
        [],
    ],
    ids=[
        "two-dashes",
        "open-end",
        "open-start",
        "newline-inside",
        "padded",
        "reversed",
        "empty-text",
        "ipv6-in-batch",
        "nul-character",
        "newline-in-range",
        "no-texts",
    ],
)
def test_parse_ranges_odd_batches_match_parse_range(texts):
    v4, v6, errors = parse_ranges(texts)

    expected_v4, expected_v6, expected_errors = parse_one_by_one(texts)
    assert v4 == expected_v4
    assert v6 == expected_v6
    assert [error.value for error in errors] == expected_errors


@given(
    st.lists(
        st.lists(st.one_of(tokens, st.sampled_from(["2001:db8::1-2001:db8::9", "10.0.0.0/31"])))
    )
)
def test_builder_equals_set_of_valid_texts(batches):
    builder = IPSetBuilder()
    errors = [error.value for batch in batches for error in builder.add_texts(batch)]

    valid = []
    expected_errors = []
    for text in (text for batch in batches for text in batch):
        try:
            valid.append(parse_range(text))
        except AddressError:
            expected_errors.append(text)
    assert builder.build() == IPSet.from_ranges(valid)
    assert errors == expected_errors


@given(
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 30))),
    st.booleans(),
)
def test_merge_bounds_equals_merge(pairs, presorted):
    intervals = [(start, start + length) for start, length in pairs]
    if presorted:
        intervals.sort(key=lambda interval: interval[0])
    starts = [start for start, _ in intervals]
    ends = [end for _, end in intervals]

    assert merge_bounds(starts, ends) == merge(intervals)
    assert merge_bounds(starts, ends) == brute_force_merge(intervals)


def brute_force_merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge by listing every covered value, then cutting the runs."""
    values = sorted({value for start, end in intervals for value in range(start, end + 1)})
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and runs[-1][1] + 1 == value:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def test_builder_merges_a_qualys_shaped_list_in_order():
    builder = IPSetBuilder()
    # Ascending like a Qualys IP list, with an address inside the range before it.
    builder.add_texts(["10.0.0.0-10.0.0.20", "10.0.0.16", "10.0.0.21", "10.0.0.40-10.0.0.42"])
    builder.add_texts(["10.0.0.43", "10.0.1.0-10.0.1.255"])

    ip_set = builder.build()

    assert list(ip_set.qualys_tokens()) == [
        "10.0.0.0-10.0.0.21",
        "10.0.0.40-10.0.0.43",
        "10.0.1.0-10.0.1.255",
    ]
    assert ip_set.size == 22 + 4 + 256


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_ipv4_format_matches_ipaddress(value):
    assert format_address(4, value) == str(ipaddress.IPv4Address(value))


@pytest.mark.parametrize("value", [-1, 2**32])
def test_ipv4_format_rejects_out_of_range_value(value):
    with pytest.raises(ValueError, match="not an IPv4 address value"):
        format_address(4, value)


@given(
    st.lists(st.tuples(st.integers(0, 300), st.integers(0, 300)), max_size=8),
    st.lists(st.integers(0, 300), max_size=40),
)
def test_contains_matches_python_set(bounds, values):
    ips = IPSet.from_intervals(v4=[(min(a, b), max(a, b)) for a, b in bounds])
    members = {value for a, b in bounds for value in range(min(a, b), max(a, b) + 1)}

    for value in values:
        assert ips.contains(4, value) == (value in members), value
        assert not ips.contains(6, value), value


def test_range_reason_says_which_half_failed():
    with pytest.raises(AddressError) as raised:
        parse_range("not-an-ip")

    assert raised.value.reason == (
        "read as an a-b range, its start 'not' does not appear to be an IPv4 or IPv6 address"
    )
