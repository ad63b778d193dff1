"""IP address sets as sorted, merged intervals, IPv4 and IPv6 kept apart.

Pure Python with no Django or project imports, so every layer can use it.
A set never expands a range address by address: a Qualys subscription can
hold whole /8s, and IPv6 ranges can be astronomically large. Sizes are exact
Python integers, never floats.

Addresses are handled as ``(version, int)``; intervals as inclusive
``(start, end)`` integer pairs in ascending order, with no two intervals
overlapping or touching.
"""

from __future__ import annotations

import bisect
import ipaddress
import operator
import re
import socket
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import compress, islice

V4_MAX = (1 << 32) - 1
V6_MAX = (1 << 128) - 1
MAX_BY_VERSION = {4: V4_MAX, 6: V6_MAX}

Interval = tuple[int, int]


class AddressError(ValueError):
    """A text that is not an IP address, CIDR block or ``a-b`` range."""

    def __init__(self, value: str, reason: str):
        self.value = value
        self.reason = reason
        super().__init__(f"{value!r} is not a valid IP address or range: {reason}")


# Four groups of ASCII digits: an IPv4 address, or meant as one.
# Two address-like parts joined by a hyphen: meant as an a-b range. A host name
# such as not-an-ip also has hyphens and gets ipaddress's own reason.
# A range's start contains a dot or a colon, so a host name such as "dc-01" is no range.
RANGE_LIKE = re.compile(r"[0-9A-Fa-f]*[.:][0-9A-Fa-f.:]*\s*-\s*[0-9A-Fa-f.:]+")
DOTTED_QUAD = re.compile(r"[0-9]+(?:\.[0-9]+){3}")
# The end of a range in short form: the last group of the start address only.
SHORT_IPV4_END = re.compile(r"[0-9]{1,3}")
SHORT_IPV6_END = re.compile(r"[0-9A-Fa-f]{1,4}")


def parse_address(text: str) -> tuple[int, int]:
    """Parse one IPv4 or IPv6 address into ``(version, int)``.

    Only surrounding whitespace is removed. Zone ids (``fe80::1%eth0``),
    IPv4 octets with leading zeros and anything that is not an address are
    rejected, never guessed at.
    """
    value = text.strip()
    if not value:
        raise AddressError(text, "the value is empty")
    if ":" not in value:
        # Fast path for dotted-quad IPv4: inet_pton takes exactly four decimal
        # parts up to 255 without leading zeros, the rule ipaddress applies.
        try:
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, value), "big")
        except (OSError, ValueError):
            # inet_pton raises ValueError for a NUL character. Let ipaddress
            # reject the value with its specific reason.
            pass
    if "%" in value:
        raise AddressError(text, "IPv6 zone ids are not supported")
    if "/" in value:
        raise AddressError(text, "a CIDR block or prefix is not one address")
    if "-" in value and RANGE_LIKE.fullmatch(value):
        raise AddressError(text, "a range is not one address")
    try:
        address = ipaddress.ip_address(value)
    except ValueError as error:
        reason = _octet_reason(value) if DOTTED_QUAD.fullmatch(value) else None
        raise AddressError(text, reason or str(error)) from None
    return address.version, int(address)


def _octet_reason(value: str) -> str | None:
    """Return why a text of four groups of digits is no IPv4 address, naming the octet."""
    for octet in value.split("."):
        if len(octet) > 1 and octet[0] == "0":
            # 010 is ten to some tools and eight (octal) to others.
            return (
                f"the octet {octet!r} has a leading zero, which tools read as decimal or as "
                "octal; write it without"
            )
        if int(octet) > 255:
            return f"the octet {octet!r} is more than 255"
    return None


def format_address(version: int, value: int) -> str:
    """Return the canonical text of an address (RFC 5952's compressed form for IPv6).

    IPv4 is formatted here, about three times faster than through
    ``ipaddress.IPv4Address``: a sync formats every range end it stores or
    sends, some millions of addresses.
    """
    if version == 4:
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{value} is not an IPv4 address value (0 to 2**32 - 1)")
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
    if value >> 32 == 0xFFFF:
        # An IPv4-mapped address ends in dotted decimal (RFC 5952, section 5):
        # ::ffff:192.0.2.1. Python 3.11 writes ::ffff:c000:201, later versions
        # the dotted form (CPython gh-87799): the text must not change with them.
        return f"::ffff:{format_address(4, value & 0xFFFFFFFF)}"
    return str(ipaddress.IPv6Address(value))


def canonical_address(text: str) -> str:
    """Return the canonical text of one address, raising AddressError if invalid."""
    return format_address(*parse_address(text))


def address_key(version: int, value: int) -> str:
    """Return a fixed-width text key that sorts like the address.

    IPv4 keys are ``"4"`` and 8 hex digits, IPv6 keys ``"6"`` and 32, so a
    plain text index orders addresses numerically (IPv4 first) and a CIDR or
    range query is a ``BETWEEN`` on the key, on SQLite and PostgreSQL alike.
    """
    if version == 4:
        return f"4{value:08x}"
    return f"6{value:032x}"


def key_of(text: str) -> str:
    """Return the sort key of an address given as text."""
    return address_key(*parse_address(text))


def parse_key(key: str) -> tuple[int, int]:
    """Invert :func:`address_key`."""
    return int(key[0]), int(key[1:], 16)


def parse_range(text: str) -> tuple[int, int, int]:
    """Parse an address, a CIDR block or an ``a-b`` range into ``(version, start, end)``.

    A CIDR block must be a network address with no host bits set
    (``192.0.2.0/24``, not ``192.0.2.7/24``): a host address with a prefix
    is ambiguous and is rejected rather than guessed at.
    """
    value = text.strip()
    if ":" not in value and "/" not in value:
        # Fast path for IPv4 "a" and "a-b"; anything unusual takes the checks below.
        first, separator, last = value.partition("-")
        try:
            start = int.from_bytes(socket.inet_pton(socket.AF_INET, first), "big")
            end = (
                int.from_bytes(socket.inet_pton(socket.AF_INET, last), "big")
                if separator
                else start
            )
        except (OSError, ValueError):
            pass
        else:
            if start <= end:
                return 4, start, end
    if "-" in value:
        first, _, last = value.partition("-")
        try:
            start_version, start = parse_address(first)
        except AddressError as error:
            # The error names the whole range, and its reason is about the first
            # half, because "not-an-ip" is read as a range that starts at "not".
            raise AddressError(text, f"read as an a-b range, its start {error.reason}") from None
        try:
            end_version, end = parse_address(last)
        except AddressError as error:
            raise AddressError(
                text, _short_end_reason(first.strip(), last.strip()) or error.reason
            ) from None
        if start_version != end_version:
            raise AddressError(text, "the range mixes IPv4 and IPv6")
        if end < start:
            raise AddressError(text, "the range ends before it starts")
        return start_version, start, end
    if "/" in value:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError as error:
            reason = str(error)
            address, _, prefix = value.partition("/")
            longest = 128 if ":" in address else 32
            if prefix.strip().isdigit() and int(prefix) > longest:
                reason = f"the prefix length {int(prefix)} is more than {longest}"
            elif "host bits set" in reason:
                block = ipaddress.ip_network(value, strict=False)
                reason = f"it has host bits set; the block that contains it is {block}"
            raise AddressError(text, reason) from None
        return (
            network.version,
            int(network.network_address),
            int(network.broadcast_address),
        )
    version, number = parse_address(value)
    return version, number, number


def _short_end_reason(first: str, end: str) -> str | None:
    """Return the reason for a range written in short form, such as nmap's ``10.0.0.1-3``."""
    if ":" in first:
        separator, short = ":", SHORT_IPV6_END.fullmatch(end)
    else:
        separator, short = ".", SHORT_IPV4_END.fullmatch(end)
    if not short:
        return None
    # Which part of the address the short end replaces is a guess, so the
    # range is rejected with the full form that the last group would give.
    full = f"{first.rsplit(separator, 1)[0]}{separator}{end}"
    return (
        f"the range end {end!r} is not a full address; write both ends in full, "
        f"such as {first}-{full}"
    )


def parse_ranges(
    texts: Sequence[str],
) -> tuple[list[Interval], list[Interval], list[AddressError]]:
    """Parse many address, range or CIDR texts; return IPv4 and IPv6 intervals and the errors.

    Gives the same result as :func:`parse_range` on each text, in the same
    order. A batch made only of clean dotted-quad IPv4 addresses and ``a-b``
    ranges, the bulk of a Qualys IP list, is converted with C-level calls.
    Any other batch is parsed text by text.
    """
    bounds = _parse_ipv4_batch(texts)
    if bounds is not None:
        starts, ends = bounds
        return list(zip(starts, ends, strict=True)), [], []
    return _parse_ranges_one_by_one(texts)


def _parse_ipv4_batch(texts: Sequence[str]) -> tuple[Sequence[int], Sequence[int]] | None:
    """Return the starts and ends of a batch of clean IPv4 texts, or None if any text is not one.

    A clean text is a dotted-quad address or two of them joined by one
    "-", with nothing around them. Every address goes through inet_pton,
    which accepts exactly four decimal parts up to 255 without leading
    zeros, the rule parse_address applies.
    """
    count = len(texts)
    joined = "\n".join(texts)
    addresses = joined.replace("-", "\n").split("\n") if "-" in joined else texts
    try:
        packed = b"".join([_inet_pton(_AF_INET, address) for address in addresses])
    except (OSError, ValueError):
        return None
    values = struct.unpack(f"!{len(addresses)}I", packed)
    if addresses is texts:
        return values, values

    # Every address parsed, so the joined text is ASCII digits and dots
    # between "\n" (end of a text) and "-" (inside a range) separators. A text
    # that contains "\n" or two "-" would pair the wrong addresses, so its
    # batch goes to the text-by-text parser, which rejects that text.
    if joined.count("\n") != count - 1:
        return None
    separators = joined.encode("ascii").translate(None, _ADDRESS_CHARACTERS)
    if b"--" in separators:
        return None
    # After a "\n" separator a new text starts; before one, a text ends.
    ends_text = separators.translate(_ENDS_TEXT)
    starts = list(compress(values, b"\x01" + ends_text))
    ends = list(compress(values, ends_text + b"\x01"))
    if not all(map(operator.le, starts, ends)):
        return None
    return starts, ends


_inet_pton = socket.inet_pton
_AF_INET = socket.AF_INET
_ADDRESS_CHARACTERS = b"0123456789."
_ENDS_TEXT = bytes.maketrans(b"\n-", b"\x01\x00")


def _parse_ranges_one_by_one(
    texts: Iterable[str],
) -> tuple[list[Interval], list[Interval], list[AddressError]]:
    v4: list[Interval] = []
    v6: list[Interval] = []
    errors: list[AddressError] = []
    for text in texts:
        try:
            version, start, end = parse_range(text)
        except AddressError as error:
            errors.append(error)
            continue
        (v4 if version == 4 else v6).append((start, end))
    return v4, v6, errors


class IPSetBuilder:
    """An accumulator that parses address texts batch by batch into one IPSet.

    Meant for long lists such as a Qualys IP list. Batches of clean IPv4
    texts are kept as two plain lists of starts and ends, which saves a
    tuple per entry. When the entries come in ascending order, as Qualys
    lists them, the build also needs no sort.
    """

    def __init__(self) -> None:
        self._v4_starts: list[int] = []
        self._v4_ends: list[int] = []
        self._v4_intervals: list[Interval] = []
        self._v6_intervals: list[Interval] = []

    def add_texts(self, texts: Sequence[str]) -> list[AddressError]:
        """Add addresses, CIDR blocks and ``a-b`` ranges; return the errors of invalid texts."""
        bounds = _parse_ipv4_batch(texts)
        if bounds is not None:
            self._v4_starts.extend(bounds[0])
            self._v4_ends.extend(bounds[1])
            return []
        v4, v6, errors = _parse_ranges_one_by_one(texts)
        self._v4_intervals.extend(v4)
        self._v6_intervals.extend(v6)
        return errors

    def build(self) -> IPSet:
        """Return the set of every address added so far."""
        v4 = merge_bounds(self._v4_starts, self._v4_ends)
        if self._v4_intervals:
            v4 = merge(v4 + self._v4_intervals)
        return IPSet(tuple(v4), tuple(merge(self._v6_intervals)))


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort intervals and merge those that overlap or touch."""
    return _merge_ordered(sorted(intervals))


def merge_bounds(starts: Sequence[int], ends: Sequence[int]) -> list[Interval]:
    """Merge the intervals ``(starts[i], ends[i])``, which may overlap and come in any order.

    Each start must not be greater than its end. Starts already in
    ascending order, as in Qualys lists, are merged in one pass without a sort.
    """
    pairs = zip(starts, ends, strict=True)
    if all(map(operator.le, starts, islice(starts, 1, None))):
        return _merge_ordered(pairs)
    return _merge_ordered(sorted(pairs))


def _merge_ordered(ordered: Iterable[Interval]) -> list[Interval]:
    """Merge intervals sorted by start; equal starts may come with their ends in any order."""
    merged: list[Interval] = []
    append = merged.append
    iterator = iter(ordered)
    first = next(iterator, None)
    if first is None:
        return merged
    current_start, current_end = first
    for start, end in iterator:
        if start > current_end + 1:
            append((current_start, current_end))
            current_start = start
            current_end = end
        elif end > current_end:
            current_end = end
    append((current_start, current_end))
    return merged


def _union(left: list[Interval], right: list[Interval]) -> list[Interval]:
    return merge(left + right)


def _intersection(left: list[Interval], right: list[Interval]) -> list[Interval]:
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start <= end:
            result.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return result


def _difference(left: list[Interval], right: list[Interval]) -> list[Interval]:
    result: list[Interval] = []
    j = 0
    for start, end in left:
        # Skip subtrahend intervals that end before this one starts.
        while j < len(right) and right[j][1] < start:
            j += 1
        cursor = start
        k = j
        while k < len(right) and right[k][0] <= end:
            cut_start, cut_end = right[k]
            if cut_start > cursor:
                result.append((cursor, cut_start - 1))
            cursor = max(cursor, cut_end + 1)
            if cursor > end:
                break
            k += 1
        if cursor <= end:
            result.append((cursor, end))
    return result


def _size(intervals: Sequence[Interval]) -> int:
    # Two C-level sums instead of a Python-level loop, because sets can hold
    # a million intervals.
    ends = sum(map(operator.itemgetter(1), intervals))
    starts = sum(map(operator.itemgetter(0), intervals))
    return ends - starts + len(intervals)


@dataclass(frozen=True)
class IPSet:
    """An immutable set of IPv4 and IPv6 addresses stored as merged intervals."""

    v4: tuple[Interval, ...] = ()
    v6: tuple[Interval, ...] = ()

    # Construction -------------------------------------------------------

    @classmethod
    def from_intervals(cls, v4: Iterable[Interval] = (), v6: Iterable[Interval] = ()) -> IPSet:
        """Build a set from raw intervals, which may overlap and come in any order."""
        return cls(tuple(merge(v4)), tuple(merge(v6)))

    @classmethod
    def from_ranges(cls, ranges: Iterable[tuple[int, int, int]]) -> IPSet:
        """Build a set from ``(version, start, end)`` triples."""
        v4: list[Interval] = []
        v6: list[Interval] = []
        for version, start, end in ranges:
            (v4 if version == 4 else v6).append((start, end))
        return cls.from_intervals(v4, v6)

    @classmethod
    def from_strings(cls, tokens: Iterable[str]) -> IPSet:
        """Build a set from addresses, CIDR blocks and ``a-b`` ranges.

        Raises AddressError on the first invalid token; callers that must
        skip bad values parse each token with :func:`parse_range` themselves.
        """
        return cls.from_ranges(parse_range(token) for token in tokens)

    def _by_version(self, version: int) -> tuple[Interval, ...]:
        return self.v4 if version == 4 else self.v6

    # Set algebra --------------------------------------------------------

    def union(self, other: IPSet) -> IPSet:
        return IPSet(
            tuple(_union(list(self.v4), list(other.v4))),
            tuple(_union(list(self.v6), list(other.v6))),
        )

    def intersection(self, other: IPSet) -> IPSet:
        return IPSet(
            tuple(_intersection(list(self.v4), list(other.v4))),
            tuple(_intersection(list(self.v6), list(other.v6))),
        )

    def difference(self, other: IPSet) -> IPSet:
        return IPSet(
            tuple(_difference(list(self.v4), list(other.v4))),
            tuple(_difference(list(self.v6), list(other.v6))),
        )

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    def only(self, version: int) -> IPSet:
        """Return the part of the set of one IP version."""
        return IPSet(self.v4, ()) if version == 4 else IPSet((), self.v6)

    # Size and membership ---------------------------------------------------

    @property
    def size(self) -> int:
        """Number of addresses, exact (IPv6 sizes can pass 2**64)."""
        return _size(self.v4) + _size(self.v6)

    @property
    def size_v4(self) -> int:
        return _size(self.v4)

    @property
    def size_v6(self) -> int:
        return _size(self.v6)

    def __bool__(self) -> bool:
        return bool(self.v4 or self.v6)

    def __len__(self) -> int:
        # len() must fit in a C ssize_t; use .size for IPv6-sized sets.
        return self.size

    def contains(self, version: int, value: int) -> bool:
        """Return whether the address ``value`` of IP ``version`` is in the set."""
        starts = self._starts_v4 if version == 4 else self._starts_v6
        index = bisect.bisect_right(starts, value) - 1
        return index >= 0 and value <= self._by_version(version)[index][1]

    # Start values of the intervals, built on the first membership test. A
    # sync tests half a million scanned hosts against S, and bisecting plain
    # integers takes half the time of bisecting the interval tuples.
    @cached_property
    def _starts_v4(self) -> list[int]:
        return [start for start, _ in self.v4]

    @cached_property
    def _starts_v6(self) -> list[int]:
        return [start for start, _ in self.v6]

    def __contains__(self, address: object) -> bool:
        if isinstance(address, str):
            return self.contains(*parse_address(address))
        if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return self.contains(address.version, int(address))
        raise TypeError(f"cannot test membership of {type(address).__name__}")

    # Iteration and formatting ----------------------------------------------

    def ranges(self) -> Iterator[tuple[int, int, int]]:
        """Yield ``(version, start, end)`` for every interval, IPv4 first."""
        for start, end in self.v4:
            yield 4, start, end
        for start, end in self.v6:
            yield 6, start, end

    def cidrs(self) -> Iterator[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """Yield the smallest list of CIDR blocks that covers the set exactly."""
        for version, start, end in self.ranges():
            address_class = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
            yield from ipaddress.summarize_address_range(address_class(start), address_class(end))

    def qualys_tokens(self) -> Iterator[str]:
        """Yield Qualys ``ips`` tokens: ``a`` for one address, ``a-b`` for a range."""
        for version, start, end in self.ranges():
            if start == end:
                yield format_address(version, start)
            else:
                yield f"{format_address(version, start)}-{format_address(version, end)}"

    def __iter__(self) -> Iterator[str]:
        """Yield every address as text. Only for sets known to be small."""
        for version, start, end in self.ranges():
            for value in range(start, end + 1):
                yield format_address(version, value)

    def __repr__(self) -> str:
        tokens = list(self.qualys_tokens())
        shown = ", ".join(tokens[:5]) + (", …" if len(tokens) > 5 else "")
        return f"IPSet([{shown}], intervals={len(tokens)}, size={self.size})"


EMPTY = IPSet()

# Qualys maps IPv6 hosts to placeholder IPv4 addresses in this range; the
# placeholders stand for the IPv6 addresses they map to and never count as
# IPv4 hosts.
IPV6_PLACEHOLDERS = IPSet.from_intervals(
    v4=[(int(ipaddress.IPv4Address("0.0.0.1")), int(ipaddress.IPv4Address("0.254.255.255")))]
)
