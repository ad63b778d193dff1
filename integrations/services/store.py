"""Store what a sync fetched: the Qualys tables, replaced in one transaction.

Scanned hosts are spooled to a temporary file while they are fetched, so a
half-million-host list never sits in memory as objects and the database is
written only once the whole list has arrived. The replacement runs in one
transaction that deletes the old rows, inserts the new ones and refreshes the
coverage flags, so readers see either the previous data or the new.
"""

from __future__ import annotations

import functools
import logging
import operator
import pickle
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any

from django.db import connection, models, transaction
from django.db.models import Q

from inventory.models import Host
from lumeta_qualys.ipset import IPSet, address_key, format_address

from .. import coverage
from ..models import ScannedAddress, ScannedHost, SubscribedRange
from ..signals import qualys_tables_replaced

logger = logging.getLogger(__name__)

# Rows per executemany call.
INSERT_BATCH = 5000
# Rows per pickled chunk in the spool file.
SPOOL_CHUNK = 10_000
# Address ranges per UPDATE when flags change for the ranges added to S.
RANGES_PER_UPDATE = 200
# Start keys per DELETE of stored ranges, below SQLite's bound-variable limit.
DELETE_BATCH = 2000

# Columns of qualys_scanned_ips written by the sync, in spool-row order.
SCANNED_HOST_FIELDS = (
    "qualys_id",
    "address",
    "address_key",
    "ipv6",
    "ipv6_key",
    "dns",
    "netbios",
    "os",
    "tracking_method",
    "last_scan",
    "network_id",
)
SUBSCRIBED_RANGE_FIELDS = (
    "version",
    "start_key",
    "end_key",
    "start_address",
    "end_address",
    "size",
)


class StepTimer:
    """Seconds spent in each part of a store, for the log line."""

    def __init__(self) -> None:
        self.laps: list[tuple[str, float]] = []
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append((name, now - self._last))
        self._last = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.laps)


class HostSpool:
    """A temporary file of scanned-host rows (tuples in ``SCANNED_HOST_FIELDS`` order)."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="qualys-hosts-")
        self._pending: list[tuple] = []
        self.count = 0

    def append(self, row: tuple) -> None:
        self._pending.append(row)
        self.count += 1
        if len(self._pending) >= SPOOL_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            pickle.dump(self._pending, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._pending = []

    def chunks(self) -> Iterator[list[tuple]]:
        """Yield the rows in chunks, in the order they were appended."""
        self._flush()
        self._file.seek(0)
        while True:
            try:
                yield pickle.load(self._file)
            except EOFError:
                return

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> HostSpool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _adapter(field: models.Field):
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DecimalField):
        return lambda value: connection.ops.adapt_decimalfield_value(
            value, field.max_digits, field.decimal_places
        )
    return None


def insert_rows(
    model: type[models.Model], field_names: Sequence[str], rows: Iterable[tuple]
) -> int:
    """Insert ``rows`` into ``model``'s table in bulk; return the count.

    PostgreSQL gets one COPY, because Django's psycopg cursors bind
    parameters on the client and send an executemany as one statement per
    row. Other databases get executemany in batches. Values go through the
    backend's adapters for dates and decimals, as the ORM would send them,
    without building a model instance per row.
    """
    fields = [model._meta.get_field(name) for name in field_names]
    adapters = [(index, adapt) for index, field in enumerate(fields) if (adapt := _adapter(field))]
    columns = ", ".join(_quote(field.column) for field in fields)
    table = _quote(model._meta.db_table)

    def adapted() -> Iterator[Sequence[Any]]:
        for row in rows:
            if adapters:
                row = list(row)
                for index, adapt in adapters:
                    if row[index] is not None:
                        row[index] = adapt(row[index])
            yield row

    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in adapted():
                    copy.write_row(row)
                    count += 1
            return count

        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
        batch: list[Sequence[Any]] = []
        for row in adapted():
            batch.append(row)
            if len(batch) >= INSERT_BATCH:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _delete_all(model: type[models.Model]) -> None:
    # A plain DELETE: the ORM's delete() would load every row to cascade.
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_quote(model._meta.db_table)}")


def subscription_rows(subscription: IPSet) -> Iterator[tuple]:
    """Yield one qualys_subscribed_ips row per merged interval."""
    return range_rows(subscription.ranges())


def range_rows(ranges: Iterable[tuple[int, int, int]]) -> Iterator[tuple]:
    """Yield one qualys_subscribed_ips row per ``(version, start, end)`` range."""
    for version, start, end in ranges:
        yield (
            version,
            address_key(version, start),
            address_key(version, end),
            format_address(version, start),
            format_address(version, end),
            Decimal(end - start + 1),
        )


def _insert_scanned_addresses() -> int:
    """Fill ScannedAddress from the scanned hosts just inserted: one row per distinct address.

    Done in SQL: an address listed in several networks (several hosts) is
    one row, linked to the first of its hosts, with the latest scan time.
    ``indexed`` is set here by an outer join with the inventory on the key, so
    the coverage refresh that follows writes only the flags that changed.
    PostgreSQL runs the join as a merge of two key-ordered index scans: 0.5 s
    on the sync benchmark's data, where a lookup per address took 1.1 s.

    Rows go in in key order, one statement per IP version, so every index
    on the table grows at its end. When PostgreSQL chose a hash join
    instead, the rows arrived in hash order and the same insert took 10.9 s
    in place of 5.1 s.
    """
    address = ScannedAddress._meta
    host = ScannedHost._meta
    target = ", ".join(
        _quote(address.get_field(name).column)
        for name in ("key", "address", "version", "host", "indexed", "last_scan")
    )
    host_table = _quote(host.db_table)
    inventory_table = _quote(Host._meta.db_table)
    inventory_key = _quote(Host._meta.get_field("key").column)
    pk = _quote(host.pk.column)
    last_scan = _quote(host.get_field("last_scan").column)
    inserted = 0
    with connection.cursor() as cursor:
        for key_field, text_field, version in (
            ("address_key", "address", 4),
            ("ipv6_key", "ipv6", 6),
        ):
            key = _quote(host.get_field(key_field).column)
            text = _quote(host.get_field(text_field).column)
            grouped = (
                f"SELECT {key} AS scanned_key, MIN({text}) AS scanned_text, "
                f"MIN({pk}) AS first_host, MAX({last_scan}) AS latest_scan "
                f"FROM {host_table} WHERE {key} <> '' GROUP BY {key}"
            )
            cursor.execute(
                f"INSERT INTO {_quote(address.db_table)} ({target}) "
                f"SELECT scanned.scanned_key, scanned.scanned_text, {version}, "
                f"scanned.first_host, inventory.{inventory_key} IS NOT NULL, scanned.latest_scan "
                f"FROM ({grouped}) AS scanned LEFT JOIN {inventory_table} AS inventory "
                f"ON inventory.{inventory_key} = scanned.scanned_key "
                "ORDER BY scanned.scanned_key"
            )
            inserted += cursor.rowcount
    return inserted


def replace_qualys_tables(
    subscription: IPSet, hosts: HostSpool, scanned_ips: IPSet | None = None
) -> dict[str, int]:
    """Replace S and M in one transaction and refresh the coverage flags.

    ``scanned_ips`` is M as the addresses in ``hosts``, when the caller has it;
    it goes out with ``qualys_tables_replaced``, sent before the commit.
    Returns the number of rows written per table. Any error rolls the whole
    replacement back and the previous tables stay.
    """
    timer = StepTimer()
    with transaction.atomic():
        _delete_all(ScannedAddress)
        _delete_all(ScannedHost)
        _delete_all(SubscribedRange)
        timer.lap("delete")
        ranges = insert_rows(
            SubscribedRange, SUBSCRIBED_RANGE_FIELDS, subscription_rows(subscription)
        )
        scanned = insert_rows(
            ScannedHost, SCANNED_HOST_FIELDS, (row for chunk in hosts.chunks() for row in chunk)
        )
        timer.lap("insert")
        addresses = _insert_scanned_addresses()
        timer.lap("addresses")
        # The inserts above stored ``subscription`` as it is and set every
        # scanned address's ``indexed`` flag.
        flags = coverage.refresh_all(indexed=False, subscription=subscription)
        timer.lap("coverage")
        qualys_tables_replaced.send(
            sender=SubscribedRange, subscription=subscription, scanned=scanned_ips
        )
        timer.lap("signal")
    timer.lap("commit")
    logger.info(
        "Stored %s subscribed ranges, %s scanned hosts and %s scanned addresses; "
        "flags changed: %s (%s)",
        ranges,
        scanned,
        addresses,
        flags,
        timer,
    )
    return {"ranges": ranges, "hosts": scanned, "addresses": addresses}


def replace_subscription(
    subscription: IPSet, previous: IPSet, scanned_ips: IPSet | None = None
) -> int:
    """Replace the stored S by ``subscription`` (read again after an add) in one transaction.

    ``previous`` is the S stored by this sync's store step, so the coverage
    flags are exact already except for the ``subscribed`` flag of hosts in
    ``subscription − previous`` (and, if Qualys dropped addresses meanwhile,
    ``previous − subscription``). Only those flags are updated, which avoids
    a second pass over every indexed host. Likewise only the rows of ranges
    that differ between ``previous`` and ``subscription`` are deleted and
    inserted. ``scanned_ips`` (M, when the caller has it) goes out with
    ``qualys_tables_replaced``, sent before the commit. Returns the number of
    stored ranges.
    """
    timer = StepTimer()
    with transaction.atomic():
        ranges = _replace_changed_ranges(subscription, previous)
        timer.lap("replace")
        added = subscription - previous
        if not added:
            changed = 0
        elif connection.vendor == "sqlite":
            changed = _mark_hosts_in_stored_ranges()
        else:
            with connection.cursor() as cursor:
                changed = coverage.refresh_subscribed(cursor, unsubscribed_only=True)
        changed += _set_subscribed(previous - subscription, False)
        timer.lap("flags")
        qualys_tables_replaced.send(
            sender=SubscribedRange, subscription=subscription, scanned=scanned_ips
        )
        timer.lap("signal")
    timer.lap("commit")
    logger.info(
        "Stored %s subscribed ranges; %s hosts changed their subscribed flag (%s)",
        ranges,
        changed,
        timer,
    )
    return ranges


def _replace_changed_ranges(subscription: IPSet, previous: IPSet) -> int:
    """Turn the stored ranges of ``previous`` into those of ``subscription``; return the count.

    Ranges found in both keep their rows. An add usually merges or creates a
    few ranges among many, so this writes far fewer rows than a full
    replacement. When the table turns out not to hold ``previous`` exactly
    (the count of deleted or remaining rows is off), it is replaced whole.
    """
    old, new = set(previous.ranges()), set(subscription.ranges())
    removed = sorted(old - new)
    table = _quote(SubscribedRange._meta.db_table)
    start = _quote(SubscribedRange._meta.get_field("start_key").column)
    deleted = 0
    with connection.cursor() as cursor:
        # The ranges of ``previous`` are merged, so a start key names one row.
        for index in range(0, len(removed), DELETE_BATCH):
            keys = [
                address_key(version, low)
                for version, low, _ in removed[index : index + DELETE_BATCH]
            ]
            cursor.execute(
                f"DELETE FROM {table} WHERE {start} IN ({', '.join(['%s'] * len(keys))})", keys
            )
            deleted += cursor.rowcount
    insert_rows(SubscribedRange, SUBSCRIBED_RANGE_FIELDS, range_rows(sorted(new - old)))
    if deleted == len(removed) and SubscribedRange.objects.count() == len(new):
        return len(new)

    logger.warning(
        "The stored subscription differed from the one this sync stored before the add, "
        "so all %s ranges are replaced",
        len(new),
    )
    _delete_all(SubscribedRange)
    return insert_rows(SubscribedRange, SUBSCRIBED_RANGE_FIELDS, subscription_rows(subscription))


def _mark_hosts_in_stored_ranges() -> int:
    """Set ``subscribed`` on every unsubscribed host inside a stored range; return the count.

    The stored ranges are merged, so the only range that can contain a host
    is the one with the greatest start at or below the host's key, found
    through the ``start_key`` index. Keys of IPv4 and IPv6 addresses never
    compare across versions, because the version is their first character.
    """
    host, subscribed_range = Host._meta, SubscribedRange._meta
    hosts = _quote(host.db_table)
    key = _quote(host.get_field("key").column)
    flag = _quote(host.get_field("subscribed").column)
    start = _quote(subscribed_range.get_field("start_key").column)
    end = _quote(subscribed_range.get_field("end_key").column)
    sql = (
        f"UPDATE {hosts} SET {flag} = TRUE WHERE {flag} = FALSE AND {hosts}.{key} <= "
        f"(SELECT {end} FROM {_quote(subscribed_range.db_table)} "
        f"WHERE {start} <= {hosts}.{key} ORDER BY {start} DESC LIMIT 1)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.rowcount


def _set_subscribed(ips: IPSet, value: bool) -> int:
    """Set ``Host.subscribed`` to ``value`` for indexed hosts inside ``ips``; return the count."""
    changed = 0
    bounds = [
        (address_key(version, start), address_key(version, end))
        for version, start, end in ips.ranges()
    ]
    for index in range(0, len(bounds), RANGES_PER_UPDATE):
        inside = functools.reduce(
            operator.or_,
            (Q(key__range=pair) for pair in bounds[index : index + RANGES_PER_UPDATE]),
        )
        changed += Host.objects.filter(inside, subscribed=not value).update(subscribed=value)
    return changed


# Column widths of ScannedHost's text fields, looked up once: truncate() runs
# several times per scanned host.
_WIDTHS = {
    field.name: field.max_length
    for field in ScannedHost._meta.get_fields()
    if getattr(field, "max_length", None)
}


def truncate(value: str, field_name: str) -> str:
    """Cut ``value`` to the column width of ScannedHost's ``field_name``."""
    width = _WIDTHS[field_name]
    return value if len(value) <= width else value[: width - 1] + "…"
