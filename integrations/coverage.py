"""Keep each indexed host's coverage flags, and each scanned address's ``indexed`` flag, current.

The dashboard counts I − S, M − I and I ∩ M as indexed queries on these
flags instead of set arithmetic over a million rows per page view. The flags
change when the stored Qualys tables are replaced (a sync: full refresh) and
when hosts enter or leave the inventory (an import or a delete: refresh of
the hosts concerned only).
"""

import logging
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import Max, Min

from inventory.models import Host
from lumeta_qualys.ipset import IPSet, parse_key

from .models import ScannedAddress, SubscribedRange

logger = logging.getLogger(__name__)

# Rows per UPDATE ... WHERE id IN (...): below SQLite's default limit of
# 32,766 bound variables and small enough for PostgreSQL's planner.
BATCH = 2000
# Rows fetched per round trip when streaming a table in key order.
FETCH = 10_000


def stored_subscription() -> IPSet:
    """Return S as stored in ``qualys_subscribed_ips``."""
    rows = SubscribedRange.objects.order_by("start_key").values_list("start_key", "end_key")
    return IPSet.from_ranges(
        (parse_key(start)[0], parse_key(start)[1], parse_key(end)[1])
        for start, end in rows.iterator(FETCH)
    )


def _chunks(values: list, size: int = BATCH) -> Iterator[list]:
    for index in range(0, len(values), size):
        yield values[index : index + size]


def _set_flag(model, field: str, ids: list[int], value: bool) -> None:
    for chunk in _chunks(ids):
        model.objects.filter(pk__in=chunk).update(**{field: value})


@transaction.atomic
def refresh_all() -> dict[str, int]:
    """Recompute every flag from the stored Qualys tables and the inventory.

    One ordered pass over hosts and scanned addresses (both sorted by key),
    membership in S by walking the merged ranges alongside. Only rows whose
    flag changes are written. Returns how many flags changed, by name.
    """
    subscription = stored_subscription()
    ranges = [(4, start, end) for start, end in subscription.v4] + [
        (6, start, end) for start, end in subscription.v6
    ]
    range_index = 0

    scanned_rows = (
        ScannedAddress.objects.order_by("key").values_list("pk", "key", "indexed").iterator(FETCH)
    )
    scanned = next(scanned_rows, None)
    scanned_seen_indexed: list[int] = []
    changes = {"subscribed": [[], []], "scanned": [[], []]}  # [to set true, to set false]

    hosts = Host.objects.order_by("key").values_list("pk", "key", "subscribed", "scanned")
    for pk, key, was_subscribed, was_scanned in hosts.iterator(FETCH):
        version, value = parse_key(key)

        # S membership: advance past ranges that end before this address.
        while range_index < len(ranges) and (ranges[range_index][0], ranges[range_index][2]) < (
            version,
            value,
        ):
            range_index += 1
        is_subscribed = (
            range_index < len(ranges)
            and ranges[range_index][0] == version
            and ranges[range_index][1] <= value
        )

        # M membership: advance scanned addresses to this key.
        while scanned is not None and scanned[1] < key:
            scanned = next(scanned_rows, None)
        is_scanned = scanned is not None and scanned[1] == key
        if is_scanned:
            scanned_seen_indexed.append(scanned[0])

        if is_subscribed != was_subscribed:
            changes["subscribed"][0 if is_subscribed else 1].append(pk)
        if is_scanned != was_scanned:
            changes["scanned"][0 if is_scanned else 1].append(pk)

    for field, (to_true, to_false) in changes.items():
        _set_flag(Host, field, to_true, True)
        _set_flag(Host, field, to_false, False)

    indexed_now = set(scanned_seen_indexed)
    previously = set(ScannedAddress.objects.filter(indexed=True).values_list("pk", flat=True))
    _set_flag(ScannedAddress, "indexed", sorted(indexed_now - previously), True)
    _set_flag(ScannedAddress, "indexed", sorted(previously - indexed_now), False)

    summary = {
        "subscribed": len(changes["subscribed"][0]) + len(changes["subscribed"][1]),
        "scanned": len(changes["scanned"][0]) + len(changes["scanned"][1]),
        "indexed": len(indexed_now ^ previously),
    }
    logger.info("Coverage flags refreshed: %s changed", summary)
    return summary


def refresh_hosts(hosts) -> int:
    """Recompute the flags of the given hosts (a Host queryset), and ``indexed`` of their addresses.

    Used after an import for the hosts it added and after a single save.
    Only the subscribed ranges and scanned addresses between the hosts'
    lowest and highest key are read. Hosts and scanned addresses are walked
    side by side in key order, so a small import costs a few queries and a
    million-host import one pass. Returns the number of hosts
    looked at.
    """
    bounds = hosts.aggregate(low=Min("key"), high=Max("key"))
    low, high = bounds["low"], bounds["high"]
    if low is None:
        return 0

    ranges = SubscribedRange.objects.filter(start_key__lte=high, end_key__gte=low)
    subscription = IPSet.from_ranges(
        (*parse_key(start), parse_key(end)[1])
        for start, end in ranges.values_list("start_key", "end_key").iterator(FETCH)
    )
    scanned_rows = (
        ScannedAddress.objects.filter(key__gte=low, key__lte=high)
        .order_by("key")
        .values_list("pk", "key", "indexed")
        .iterator(FETCH)
    )
    scanned = next(scanned_rows, None)

    updates: dict[tuple[bool, bool], list[int]] = {}
    newly_indexed: list[int] = []
    seen = 0
    rows = hosts.order_by("key").values_list("pk", "key", "subscribed", "scanned")
    for pk, key, was_subscribed, was_scanned in rows.iterator(FETCH):
        seen += 1
        while scanned is not None and scanned[1] < key:
            scanned = next(scanned_rows, None)
        is_scanned = scanned is not None and scanned[1] == key
        if is_scanned and not scanned[2]:
            newly_indexed.append(scanned[0])
        flags = (subscription.contains(*parse_key(key)), is_scanned)
        if flags != (was_subscribed, was_scanned):
            updates.setdefault(flags, []).append(pk)

    for (is_subscribed, is_scanned), ids in updates.items():
        for chunk in _chunks(ids):
            Host.objects.filter(pk__in=chunk).update(subscribed=is_subscribed, scanned=is_scanned)
    _set_flag(ScannedAddress, "indexed", newly_indexed, True)
    return seen


def forget_hosts(keys: Iterable[str]) -> None:
    """Clear ``indexed`` on scanned addresses whose hosts left the inventory."""
    keys = list(keys)
    for chunk in _chunks(keys):
        ScannedAddress.objects.filter(key__in=chunk, indexed=True).update(indexed=False)
