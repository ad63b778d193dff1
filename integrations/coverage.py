"""Keep each indexed host's coverage flags, and each scanned address's ``indexed`` flag, current.

The dashboard counts I − S, M − I and I ∩ M as indexed queries on these
flags instead of set arithmetic over a million rows per page view. The flags
change when the stored Qualys tables are replaced (a sync: full refresh) and
when hosts enter or leave the inventory (an import or a delete: refresh of
the hosts concerned only).
"""

import logging
from collections.abc import Iterable, Iterator

from django.db import connection, transaction
from django.db.models import Max, Min, Q

from inventory.models import Host
from lumeta_qualys.ipset import MAX_BY_VERSION, IPSet, address_key, parse_key

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


# Every IPv4 and IPv6 address. The complement of S is taken within it.
ADDRESS_SPACE = IPSet.from_ranges([(4, 0, MAX_BY_VERSION[4]), (6, 0, MAX_BY_VERSION[6])])
# Temporary tables of S and of its complement, as inclusive key ranges.
INSIDE_TABLE = "coverage_inside_ranges"
OUTSIDE_TABLE = "coverage_outside_ranges"


@transaction.atomic
def refresh_all(*, indexed: bool = True, subscription: IPSet | None = None) -> dict[str, int]:
    """Recompute every flag from the stored Qualys tables and the inventory, in SQL.

    Only rows whose flag is wrong are written. ``subscribed`` comes from the
    stored ranges (see :func:`refresh_subscribed`); ``scanned`` and
    ``indexed`` come from joins on ``key`` between hosts and scanned
    addresses. A caller that has just inserted every scanned address with
    its ``indexed`` flag passes ``indexed=False`` to skip that check (about
    1 s on PostgreSQL with half a million addresses). A caller that has just
    stored S may pass it as ``subscription``, which saves reading it back on
    SQLite. Returns how many flags changed, by name.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # JIT compilation took about 0.3 s per statement in the sync benchmark,
            # longer than most of these statements take to run.
            cursor.execute("SET LOCAL jit = off")
        summary = {
            "subscribed": refresh_subscribed(cursor, subscription=subscription),
            "scanned": _set_by_key_match(cursor, Host, "scanned", ScannedAddress),
        }
        if indexed:
            summary["indexed"] = _set_by_key_match(cursor, ScannedAddress, "indexed", Host)
    logger.info("Coverage flags refreshed: %s changed", summary)
    return summary


def refresh_subscribed(
    cursor, *, subscription: IPSet | None = None, unsubscribed_only: bool = False
) -> int:
    """Make every host's ``subscribed`` flag match the stored ranges; return how many changed.

    ``subscription`` must equal the stored ranges when given. With
    ``unsubscribed_only`` only hosts whose flag is false are checked, for a
    caller that knows the stored ranges have only grown.
    """
    if connection.vendor == "postgresql":
        cursor.execute(walk_subscribed_sql(unsubscribed_only))
        return cursor.rowcount
    if subscription is None:
        subscription = stored_subscription()
    _load_key_ranges(cursor, INSIDE_TABLE, subscription)
    changed = _set_subscribed_in(cursor, INSIDE_TABLE, True)
    if not unsubscribed_only:
        _load_key_ranges(cursor, OUTSIDE_TABLE, ADDRESS_SPACE - subscription)
        changed += _set_subscribed_in(cursor, OUTSIDE_TABLE, False)
        cursor.execute(f"DROP TABLE {OUTSIDE_TABLE}")
    cursor.execute(f"DROP TABLE {INSIDE_TABLE}")
    return changed


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def walk_subscribed_sql(unsubscribed_only: bool) -> str:
    """Return PostgreSQL's UPDATE that flips ``subscribed`` where it disagrees with the ranges.

    Hosts and stored ranges are read together in key order, both straight
    from their key indexes. A running maximum of the range ends gives, for
    each host, the end of the last range that started at or before its key,
    and the host is inside when that end reaches it. The ranges are merged
    and disjoint, so that range is the only one that can contain the host.
    A range that starts at the host's own key is its peer in the window's
    order, so it counts. Keys of both versions compare correctly as text because each
    key starts with its version and has a fixed width per version.

    The plan does not depend on table statistics. A join of hosts with the
    ranges on ``key BETWEEN start AND end`` did. In a first sync, with
    statistics from before any flag was set, the planner read the whole
    range table once per host. At a million hosts that statement had not
    finished after 4.5 minutes.
    """
    host, subscribed_range = Host._meta, SubscribedRange._meta
    hosts = _quote(host.db_table)
    pk = _quote(host.pk.column)
    key = _quote(host.get_field("key").column)
    flag = _quote(host.get_field("subscribed").column)
    start = _quote(subscribed_range.get_field("start_key").column)
    end = _quote(subscribed_range.get_field("end_key").column)
    candidates = f" WHERE {flag} = FALSE" if unsubscribed_only else ""
    return (
        f"UPDATE {hosts} AS host SET {flag} = NOT host.{flag} FROM ("
        "SELECT walked.id FROM ("
        "SELECT events.id, events.key, events.flag, "
        "MAX(events.end_key) OVER (ORDER BY events.key) AS reach FROM ("
        f"SELECT {pk} AS id, {key} AS key, {flag} AS flag, NULL::varchar AS end_key "
        f"FROM {hosts}{candidates} "
        f"UNION ALL SELECT NULL, {start}, NULL, {end} "
        f"FROM {_quote(subscribed_range.db_table)}"
        ") AS events) AS walked "
        "WHERE walked.id IS NOT NULL "
        "AND walked.flag <> (walked.reach IS NOT NULL AND walked.key <= walked.reach)"
        f") AS wrong WHERE host.{pk} = wrong.id"
    )


def _load_key_ranges(cursor, table: str, ips: IPSet) -> None:
    """Fill a new temporary table ``table`` with the merged ranges of ``ips`` as key pairs."""
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(f"CREATE TEMPORARY TABLE {table} (start_key varchar(33), end_key varchar(33))")
    rows = (
        (address_key(version, start), address_key(version, end))
        for version, start, end in ips.ranges()
    )
    cursor.executemany(f"INSERT INTO {table} (start_key, end_key) VALUES (%s, %s)", rows)


def _set_subscribed_in(cursor, table: str, value: bool) -> int:
    """Set ``subscribed`` to ``value`` on hosts inside the ranges of ``table`` and return the count.

    SQLite only. The ranges are merged, so no host lies in two of them and
    none is updated twice.
    """
    cursor.execute(subscribed_in_sql(table), [value, not value])
    return cursor.rowcount


def subscribed_in_sql(table: str) -> str:
    """Return SQLite's UPDATE of ``subscribed`` on the hosts inside ``table``'s ranges.

    Its parameters are the new value and the old one.

    SQLite keeps no statistics here (nothing runs ANALYZE), and its planner
    puts the unindexed range table on the outside and looks hosts up in the
    (subscribed, key) index.
    """
    host = Host._meta
    hosts = _quote(host.db_table)
    key = _quote(host.get_field("key").column)
    flag = _quote(host.get_field("subscribed").column)
    return (
        f"UPDATE {hosts} SET {flag} = %s FROM {table} AS ranges "
        f"WHERE {hosts}.{flag} = %s "
        f"AND {hosts}.{key} BETWEEN ranges.start_key AND ranges.end_key"
    )


def _set_by_key_match(cursor, model, field: str, other) -> int:
    """Flip ``model.field`` where it is wrong and return the count.

    The flag is right when it is true exactly for the rows whose ``key``
    has a row in ``other``. So a host is scanned when a scanned address has
    its key, and a scanned address is indexed when a host has its key. One
    outer join on the unique keys finds the wrong flags of both values. On
    PostgreSQL at a million hosts it took 0.67 s, where an EXISTS and a NOT
    EXISTS update took 0.98 s together.
    """
    table = _quote(model._meta.db_table)
    pk = _quote(model._meta.pk.column)
    flag = _quote(model._meta.get_field(field).column)
    key = _quote(model._meta.get_field("key").column)
    other_table = _quote(other._meta.db_table)
    other_key = _quote(other._meta.get_field("key").column)
    cursor.execute(
        f"UPDATE {table} SET {flag} = NOT {flag} WHERE {pk} IN ("
        f"SELECT flagged.{pk} FROM {table} AS flagged LEFT JOIN {other_table} AS other "
        f"ON other.{other_key} = flagged.{key} "
        f"WHERE flagged.{flag} <> (other.{other_key} IS NOT NULL))"
    )
    return cursor.rowcount


def refresh_hosts(hosts) -> int:
    """Recompute the flags of the given hosts (a Host queryset), and ``indexed`` of their addresses.

    Used after an import for the hosts it added and after a single save.
    Only the subscribed ranges and scanned addresses between the hosts'
    lowest and highest key are read. Hosts, merged subscribed ranges and
    scanned addresses are walked side by side in key order, so a small
    import costs a few queries and a million-host import one pass. Returns
    the number of hosts looked at.
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
    # Merged ranges as key pairs, IPv4 first: keys compare as text in
    # address order, so no key needs parsing back into a number.
    key_ranges = [
        (address_key(version, start), address_key(version, end))
        for version, start, end in subscription.ranges()
    ]
    in_span = ScannedAddress.objects.filter(key__gte=low, key__lte=high)
    if not key_ranges and not in_span.exists():
        # No Qualys data lies between the hosts' keys, as in an import before
        # the first sync, so every flag must be false. One UPDATE of the hosts
        # with a true flag ensures that without walking every host.
        hosts.filter(Q(subscribed=True) | Q(scanned=True)).update(subscribed=False, scanned=False)
        return hosts.count()
    range_count = len(key_ranges)
    range_index = 0
    scanned_rows = in_span.order_by("key").values_list("pk", "key", "indexed").iterator(FETCH)
    scanned = next(scanned_rows, None)

    updates: dict[tuple[bool, bool], list[int]] = {}
    newly_indexed: list[int] = []
    seen = 0
    for pk, key, was_subscribed, was_scanned in _host_flag_rows(hosts):
        seen += 1
        while range_index < range_count and key_ranges[range_index][1] < key:
            range_index += 1
        is_subscribed = range_index < range_count and key_ranges[range_index][0] <= key
        while scanned is not None and scanned[1] < key:
            scanned = next(scanned_rows, None)
        is_scanned = scanned is not None and scanned[1] == key
        if is_scanned and not scanned[2]:
            newly_indexed.append(scanned[0])
        if is_subscribed != bool(was_subscribed) or is_scanned != bool(was_scanned):
            updates.setdefault((is_subscribed, is_scanned), []).append(pk)

    for (is_subscribed, is_scanned), ids in updates.items():
        for chunk in _chunks(ids):
            Host.objects.filter(pk__in=chunk).update(subscribed=is_subscribed, scanned=is_scanned)
    _set_flag(ScannedAddress, "indexed", newly_indexed, True)
    return seen


def _host_flag_rows(hosts) -> Iterator[tuple]:
    """Yield ``(pk, key, subscribed, scanned)`` of the hosts in key order, unconverted.

    The rows skip Django's per-value converters, which took about half of
    the walk over a million hosts under cProfile. SQLite returns the flags
    as 0 or 1. ``chunked_cursor`` is a server-side cursor on PostgreSQL, so
    memory stays flat.
    """
    rows = hosts.order_by("key").values_list("pk", "key", "subscribed", "scanned")
    sql, params = rows.query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(FETCH):
            yield from batch


def forget_hosts(keys: Iterable[str]) -> None:
    """Clear ``indexed`` on scanned addresses whose hosts left the inventory."""
    keys = list(keys)
    for chunk in _chunks(keys):
        ScannedAddress.objects.filter(key__in=chunk, indexed=True).update(indexed=False)
