"""The drill-down lists: each set's rows with details from both sides, keyset-paginated.

A list is read in *segments*: ordered querysets walked one after another.
Sorting by address is one segment ordered by the address key. Sorting by
last scan puts the addresses without a scan time in one segment (ordered by
key) and the scanned ones in another (ordered by scan time, then key), so
every segment follows one index and a page never sorts the whole set. A
page position is a cursor (segment number and the last row's sort values);
no query uses OFFSET, so page 10,000 costs what page 1 costs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery

from integrations.models import ScannedAddress
from inventory.importers.base import ipv4_of_mapped
from inventory.models import Host
from inventory.querysets import (
    FIELD_SEARCH,
    address_search_error,
    field_search,
    search_error,
    search_text,
    typed_block,
)
from lumeta_qualys.ipset import AddressError, address_key, parse_address, parse_range

from . import querysets

PAGE_SIZE = 50
# Up to this many addresses with a matching name, a name filter reads them
# from the name indexes (see AddressFilter.apply).
NAME_MATCHES_CAP = 20_000

# --- The filter ``q`` --------------------------------------------------------

# The first group of an IPv6 address, which looks like a field's name before a colon.
HEX_GROUP = re.compile(r"[0-9A-Fa-f]+")
# Host names: letters, digits, dots, hyphens and underscores (NetBIOS names use them).
HOST_NAME_PREFIX = re.compile(r"^[A-Za-z0-9_.-]+$")
# Text with a slash that is meant as a block: address characters, a slash, digits.
CIDR_LIKE = re.compile(r"[0-9A-Fa-f.:]+/[0-9]*")
NOT_A_FILTER = (
    "“{value}” is not an IP address, a CIDR block or the start of a host name. "
    "Enter for example 192.0.2.7, 192.0.2.0/24, 2001:db8::/64 or web-."
)


class FilterError(ValueError):
    """A value of ``q`` that is neither an address, a CIDR block nor the start of a host name."""


@dataclass(frozen=True)
class AddressFilter:
    """A parsed ``q``: a key range (an address, a CIDR block or a range) or a host-name prefix."""

    text: str
    start_key: str | None = None
    end_key: str | None = None
    name_prefix: str | None = None
    # A search of one inventory field, as the host list takes it: "tag:pci".
    field: str | None = None

    @classmethod
    def parse(cls, text: str) -> AddressFilter | None:
        """Parse ``q``; return None when it is empty, raise FilterError when it is invalid."""
        value = search_text(text)
        if not value:
            return None
        named = field_search(value)
        if named is not None:
            problem = search_error(value)
            if problem is not None:
                raise FilterError(problem)
            if named[0] in ("ip", "name"):
                # The list's own reading: an address, block or range, or a name's start.
                return cls.parse(named[1])
            return cls(value, field=value)
        unknown = FIELD_SEARCH.fullmatch(value)
        if unknown is not None and not HEX_GROUP.fullmatch(unknown[1]):
            raise FilterError(search_error(value) or NOT_A_FILTER.format(value=value))
        if "/" in value and not CIDR_LIKE.fullmatch(value):
            raise FilterError(NOT_A_FILTER.format(value=value))
        if "/" in value:
            try:
                version, start, end = parse_range(value)
            except AddressError as error:
                raise FilterError(
                    f"“{value}” is not a valid CIDR block ({error.reason}). Enter a network "
                    "address with its prefix length, such as 192.0.2.0/24."
                ) from None
            return cls.of_range(value, version, start, end)
        try:
            version, number = parse_address(value)
        except AddressError:
            pass
        else:
            return cls.of_range(value, version, number, number)
        if "-" in value:
            try:
                version, start, end = parse_range(value)
            except AddressError:
                pass
            else:
                return cls.of_range(value, version, start, end)
        block = typed_block(value)
        if block is not None:
            # A block with host bits set (192.0.2.7/24 is refused above) or the
            # typed start of an address: "192.0.2." is 192.0.2.0/24 on every
            # list, as in the inventory's search, never the start of a name.
            version, start, end = block
            return cls.of_range(value, version, start, end)
        problem = address_search_error(value)
        if problem is not None:
            # Text such as 192.0.2.300 looks like an address but is not one. A
            # name search would only report that nothing matches.
            raise FilterError(problem)
        if ":" in value or not HOST_NAME_PREFIX.match(value):
            raise FilterError(NOT_A_FILTER.format(value=value))
        return cls(value, name_prefix=value.lower())

    @classmethod
    def of_range(cls, text: str, version: int, start: int, end: int) -> AddressFilter:
        """Return the filter of an address range; an IPv4-mapped one is its IPv4 range.

        The inventory stores ``::ffff:192.0.2.1`` as 192.0.2.1, and Qualys
        lists IPv4 hosts by their IPv4 address.
        """
        mapped = ipv4_of_mapped(version, start, end)
        if mapped is not None:
            version, (start, end) = 4, mapped
        return cls(text, address_key(version, start), address_key(version, end))

    @property
    def is_name(self) -> bool:
        return self.name_prefix is not None

    def host_names(self) -> Q:
        """Match inventory hosts whose primary host name starts with the prefix.

        The other names in ``Host.hostnames`` are left out: they have no
        index, and a prefix that few hosts have would read the whole list's
        JSON (0.2 to 0.3 s per million hosts). The inventory's own search
        reads them.
        """
        condition = Q(hostname__startswith=self.name_prefix)
        if connection.vendor != "sqlite":
            return condition
        # SQLite's LIKE cannot use the host-name index, but a range can: it
        # compares text byte by byte, so every name with the prefix sorts
        # before the prefix with its last character incremented. On
        # PostgreSQL the column has the "C" collation, whose index serves
        # LIKE 'prefix%' itself.
        prefix = self.name_prefix
        following = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return condition & Q(hostname__gte=prefix, hostname__lt=following)

    def qualys_names(self) -> Q:
        """Match scanned addresses whose Qualys DNS or NetBIOS name starts with the prefix."""
        return Q(host__dns__istartswith=self.name_prefix) | Q(
            host__netbios__istartswith=self.name_prefix
        )

    def apply(self, queryset: QuerySet, side: str, *, qualys_names: bool = False) -> QuerySet:
        """Restrict a segment's queryset.

        ``side`` is the segment's table: "host", or "scanned" and
        "scanned-indexed" for scanned addresses. A name prefix matches the
        inventory's primary host names on inventory rows, Qualys's DNS and
        NetBIOS names on Qualys-only rows, and with ``qualys_names`` both,
        for a list whose every row Qualys scanned.
        """
        if self.field is not None:
            # The inventory's own search; the database walks the list against its keys.
            return queryset.filter(
                key__in=Host.objects.matching(self.field).order_by().values("key")
            )
        if not self.is_name:
            return queryset.filter(key__gte=self.start_key, key__lte=self.end_key)
        if side == "scanned":
            return queryset.filter(self.qualys_names())
        matches = self.inventory_matches + (self.qualys_matches if qualys_names else 0)
        if matches <= NAME_MATCHES_CAP:
            # Few matches: the database reads them from the name indexes and
            # sorts them, so a rare prefix costs what its matches cost.
            if not qualys_names and side == "host":
                return queryset.filter(self.host_names())
            keys = Host.objects.filter(self.host_names()).order_by().values("key")
            if qualys_names:
                named = ScannedAddress.objects.filter(self.qualys_names()).order_by()
                keys = keys.union(named.values("key"), all=True)
            return queryset.filter(key__in=keys)
        # Many matches: the database walks the list in its own order and
        # looks up each row's names, and the common matches end a page early.
        prefix = self.name_prefix
        if side == "host":
            condition = Q(hostname__startswith=prefix)
            if qualys_names:
                scans = ScannedAddress.objects.filter(self.qualys_names(), key=OuterRef("key"))
                condition |= Q(Exists(scans))
        else:
            hosts = Host.objects.filter(key=OuterRef("key"), hostname__startswith=prefix)
            condition = Q(Exists(hosts))
            if qualys_names:
                condition |= self.qualys_names()
        return queryset.filter(condition)

    @cached_property
    def inventory_matches(self) -> int:
        """Inventory hosts whose primary name has the prefix, counted up to one above the cap."""
        return Host.objects.filter(self.host_names()).order_by()[: NAME_MATCHES_CAP + 1].count()

    @cached_property
    def qualys_matches(self) -> int:
        """Scanned addresses whose Qualys names have the prefix, counted up to one above the cap."""
        named = ScannedAddress.objects.filter(self.qualys_names()).order_by()
        return named[: NAME_MATCHES_CAP + 1].count()


# --- The filter ``state`` -----------------------------------------------------------

# The values of ``state`` on the lists of indexed hosts, and their labels.
STATES = {"": "Current and stale", "current": "Current only", "stale": "Stale only"}


def stale_selected(state: str) -> bool | None:
    """Return the ``stale`` value that ``state`` selects, or None for both (any other text)."""
    if state == "stale":
        return True
    if state == "current":
        return False
    return None


def apply_state(queryset: QuerySet, side: str, stale: bool | None) -> QuerySet:
    """Restrict a segment's queryset to current or stale inventory hosts; None keeps both.

    Stale hosts are few next to current ones, so their keys come from the
    partial index of stale hosts, and the list is walked in its own order
    against that set. Rows of scanned addresses (``side`` other than
    "host") are indexed hosts too, matched by key.
    """
    if stale is None:
        return queryset
    if side == "host" and not stale:
        return queryset.filter(stale=False)
    stale_keys = Host.objects.filter(stale=True).order_by().values("key")
    if stale:
        return queryset.filter(key__in=stale_keys)
    return queryset.exclude(key__in=stale_keys)


# --- Sets and their segments ---------------------------------------------------

SORTS = {
    "address": "Address",
    "-address": "Address, descending",
    "last_scan": "Last scan, oldest first",
    "-last_scan": "Last scan, newest first",
}


@dataclass(frozen=True)
class Segment:
    """One ordered part of a list: rows of ``queryset`` in ``fields`` order (the key last)."""

    queryset: QuerySet
    fields: tuple[str, ...]
    side: str  # "host": Host rows; "scanned" or "scanned-indexed": ScannedAddress rows
    # For a segment whose first sort value is a per-row lookup: returns the
    # queryset with that value NULL on rows not after a cursor (the cursor's
    # values and the direction), so the lookup is not repeated in the WHERE.
    after_lookup: Callable[[tuple, bool], QuerySet] | None = None


@dataclass(frozen=True)
class CoverageSet:
    """One dashboard widget's set: its name, its notation and how its list is read."""

    slug: str
    title: str
    notation: str
    description: str
    side: str  # the table whose rows the set is made of: "host" or "scanned"
    # Whether a name filter also matches the names Qualys reports: true for a
    # list of indexed hosts that Qualys scanned, where every row has both.
    qualys_names: bool = False

    def queryset(self) -> QuerySet:
        return SET_QUERIES[self.slug]()

    def segments(self, sort: str) -> list[Segment]:
        """Return the segments that read the set in ``sort`` order, ascending."""
        by_key = ("key",)
        by_scan = ("last_scan", "key")
        if sort.lstrip("-") == "address":
            return [Segment(self.queryset(), by_key, self.side)]
        if self.slug == "unmanaged-by-lumeta":
            scans = querysets.unmanaged_by_lumeta()
            return [
                Segment(scans.filter(last_scan__isnull=True), by_key, "scanned"),
                Segment(scans.filter(last_scan__isnull=False), by_scan, "scanned"),
            ]
        if self.slug == "managed-by-both":
            scans = querysets.scanned_indexed()
            return [
                Segment(scans.filter(last_scan__isnull=True), by_key, "scanned-indexed"),
                Segment(scans.filter(last_scan__isnull=False), by_scan, "scanned-indexed"),
            ]
        # I − S: most hosts have no scan, because Qualys scans inside S. The
        # few scanned ones outside S are sorted with their scan time looked
        # up per host, so the cost follows their number, whatever the scan
        # times. Those without a scan time are found through one set of keys,
        # which the database builds once, rather than by a second lookup per host.
        # A later page applies the cursor inside the lookup (see
        # Segment.after_lookup), so it still costs one lookup per host.
        # NOTE: the time grows with the number of scanned hosts outside S. At
        # 30,000 a page takes about 45 ms on SQLite and 80 ms on PostgreSQL.
        outside = querysets.unmanaged_by_qualys()
        scanned_outside = outside.filter(querysets.flag("scanned", True))
        without_scan_time = querysets.scanned_indexed().filter(last_scan__isnull=True)
        with_scan_time = scanned_outside.exclude(key__in=without_scan_time.values("key"))

        def scan_time(condition: Q | None = None) -> Subquery:
            scans = ScannedAddress.objects.filter(condition or Q(), key=OuterRef("key"))
            return Subquery(scans.values("last_scan")[:1])

        def after_scan_time(values: tuple, descending: bool) -> QuerySet:
            return with_scan_time.annotate(last_scan=scan_time(_after(by_scan, values, descending)))

        return [
            Segment(outside.filter(querysets.flag("scanned", False)), by_key, "host"),
            Segment(
                scanned_outside.filter(key__in=without_scan_time.values("key")), by_key, "host"
            ),
            Segment(
                with_scan_time.annotate(last_scan=scan_time()),
                by_scan,
                "host",
                after_lookup=after_scan_time,
            ),
        ]


SET_QUERIES = {
    "unmanaged-by-qualys": querysets.unmanaged_by_qualys,
    "unmanaged-by-lumeta": querysets.unmanaged_by_lumeta,
    "managed-by-both": querysets.managed_by_both,
}

COVERAGE_SETS = {
    coverage_set.slug: coverage_set
    for coverage_set in [
        CoverageSet(
            "unmanaged-by-qualys",
            "IPs Unmanaged by Qualys",
            "I − S",
            "Indexed by Lumeta but outside the Qualys subscription: Qualys cannot scan them.",
            "host",
        ),
        CoverageSet(
            "unmanaged-by-lumeta",
            "IPs Unmanaged by Lumeta",
            "M − I",
            "Scanned by Qualys but not in the Lumeta index: discovery has not found them.",
            "scanned",
        ),
        CoverageSet(
            "managed-by-both",
            "Qualys and Lumeta Managed IPs",
            "I ∩ M",
            "Indexed by Lumeta and scanned by Qualys.",
            "host",
            qualys_names=True,
        ),
    ]
}


# --- Cursors -------------------------------------------------------------------


class CursorError(ValueError):
    """A page cursor that this list did not make (edited or from another sort)."""


@dataclass(frozen=True)
class Cursor:
    """A position in a list: the segment and the sort values of a row."""

    segment: int
    values: tuple

    def encode(self) -> str:
        parts = [str(self.segment)]
        for value in self.values:
            parts.append(value.isoformat() if isinstance(value, datetime) else str(value))
        return "~".join(parts)

    @classmethod
    def decode(cls, text: str, segments: list[Segment]) -> Cursor:
        parts = text.split("~")
        try:
            segment = int(parts[0])
            fields = segments[segment].fields
        except (ValueError, IndexError):
            raise CursorError(text) from None
        if len(parts) != len(fields) + 1:
            raise CursorError(text)
        values: list = []
        for name, raw in zip(fields, parts[1:], strict=True):
            if name == "last_scan":
                try:
                    values.append(datetime.fromisoformat(raw))
                except ValueError:
                    raise CursorError(text) from None
            elif not re.fullmatch(r"[46][0-9a-f]{8}([0-9a-f]{24})?", raw):
                raise CursorError(text)
            else:
                values.append(raw)
        return cls(segment, tuple(values))


def _after(fields: tuple[str, ...], values: tuple, descending: bool) -> Q:
    """Rows strictly after ``values`` in ``fields`` order.

    Written as ``first >= a AND (first > a OR rest > b)`` rather than a plain
    OR, so the database can start an index range at ``a`` on both backends.
    """
    greater = "lt" if descending else "gt"
    greater_or_equal = "lte" if descending else "gte"
    if len(fields) == 1:
        return Q(**{f"{fields[0]}__{greater}": values[0]})
    first, second = fields
    return Q(**{f"{first}__{greater_or_equal}": values[0]}) & (
        Q(**{f"{first}__{greater}": values[0]}) | Q(**{f"{second}__{greater}": values[1]})
    )


def read_keys(
    segments: list[Segment],
    *,
    after: Cursor | None,
    limit: int,
    descending: bool,
    address_filter: AddressFilter | None,
    qualys_names: bool = False,
    stale: bool | None = None,
) -> list[tuple[Cursor, str]]:
    """Return up to ``limit`` (cursor, key) pairs after ``after``, in list order.

    ``descending`` walks the segments and their rows backwards. ``stale``
    keeps only stale (True) or current (False) inventory hosts.
    """
    order = list(range(len(segments)))
    if descending:
        order.reverse()
    results: list[tuple[Cursor, str]] = []
    for index in order:
        if after is not None and (
            index < after.segment if not descending else index > after.segment
        ):
            continue
        segment = segments[index]
        in_cursor_segment = after is not None and index == after.segment
        queryset = segment.queryset
        if in_cursor_segment and segment.after_lookup is not None:
            queryset = segment.after_lookup(after.values, descending)
        if address_filter is not None:
            queryset = address_filter.apply(queryset, segment.side, qualys_names=qualys_names)
        queryset = apply_state(queryset, segment.side, stale)
        if in_cursor_segment and segment.after_lookup is None:
            queryset = queryset.filter(_after(segment.fields, after.values, descending))
        ordering = [f"-{name}" if descending else name for name in segment.fields]
        if segment.after_lookup is not None:
            # Rows before the cursor have a NULL sort value: they sort last
            # and end the read. Other segments keep the plain ordering, which
            # PostgreSQL can read backwards from an index.
            ordering = [
                F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
                for name in segment.fields
            ]
        rows = queryset.order_by(*ordering).values_list(*segment.fields)[: limit - len(results)]
        for values in rows:
            if segment.after_lookup is not None and values[0] is None:
                break
            results.append((Cursor(index, tuple(values)), values[-1]))
        if len(results) >= limit:
            break
    return results


# --- Rows with details from both sides ---------------------------------------------

HOST_FIELDS = (
    "key",
    "address",
    "hostname",
    "hostnames",
    "mac",
    "mac_vendor",
    "os_name",
    "first_seen",
    "last_seen",
    "source",
    "tags",
    "stale",
    "subscribed",
)
SCANNED_FIELDS = (
    "key",
    "address",
    "last_scan",
    "host__qualys_id",
    "host__dns",
    "host__netbios",
    "host__os",
    "host__tracking_method",
    "host__network_id",
)


@dataclass
class Row:
    """One address of a list: its inventory row and its Qualys row, either may be missing."""

    key: str
    host: dict | None = None
    scan: dict | None = None
    cursor: Cursor | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return (self.host or self.scan or {}).get("address", "")


def hosts_by_key(keys: list[str]) -> dict[str, dict]:
    rows = Host.objects.filter(key__in=keys).values(*HOST_FIELDS)
    return {row["key"]: row for row in rows}


def scans_by_key(keys: list[str]) -> dict[str, dict]:
    rows = ScannedAddress.objects.filter(key__in=keys).values(*SCANNED_FIELDS)
    return {row["key"]: row for row in rows}


def build_rows(page: list[tuple[Cursor, str]], side: str) -> list[Row]:
    """Join a page of keys with the inventory and the Qualys details (two queries)."""
    keys = [key for _, key in page]
    # M − I contains no indexed address by definition, so no inventory query is needed.
    hosts = hosts_by_key(keys) if side == "host" else {}
    scans = scans_by_key(keys)
    return [
        Row(key=key, host=hosts.get(key), scan=scans.get(key), cursor=cursor)
        for cursor, key in page
    ]


@dataclass
class Page:
    """One page of a list with the cursors of its neighbours."""

    rows: list[Row]
    next_cursor: str | None
    previous_cursor: str | None


def read_page(
    coverage_set: CoverageSet,
    *,
    sort: str,
    after: str | None = None,
    before: str | None = None,
    address_filter: AddressFilter | None = None,
    size: int = PAGE_SIZE,
    stale: bool | None = None,
) -> Page:
    """Read one page of a set's list, after or before a cursor (neither: the first page).

    ``stale`` keeps only stale (True) or current (False) inventory hosts.
    Raises CursorError for a cursor the list cannot read.
    """
    with querysets.without_jit():
        return _read_page(coverage_set, sort, after, before, address_filter, size, stale)


def _read_page(
    coverage_set: CoverageSet,
    sort: str,
    after: str | None,
    before: str | None,
    address_filter: AddressFilter | None,
    size: int,
    stale: bool | None,
) -> Page:
    segments = coverage_set.segments(sort)
    descending = sort.startswith("-")
    if before:
        cursor = Cursor.decode(before, segments)
        found = read_keys(
            segments,
            after=cursor,
            limit=size + 1,
            descending=not descending,
            address_filter=address_filter,
            qualys_names=coverage_set.qualys_names,
            stale=stale,
        )
        has_previous = len(found) > size
        found = list(reversed(found[:size]))
        rows = build_rows(found, coverage_set.side)
        return Page(
            rows,
            next_cursor=rows[-1].cursor.encode() if rows else None,
            previous_cursor=rows[0].cursor.encode() if rows and has_previous else None,
        )
    cursor = Cursor.decode(after, segments) if after else None
    found = read_keys(
        segments,
        after=cursor,
        limit=size + 1,
        descending=descending,
        address_filter=address_filter,
        qualys_names=coverage_set.qualys_names,
        stale=stale,
    )
    has_next = len(found) > size
    rows = build_rows(found[:size], coverage_set.side)
    return Page(
        rows,
        next_cursor=rows[-1].cursor.encode() if rows and has_next else None,
        previous_cursor=rows[0].cursor.encode() if rows and cursor is not None else None,
    )
