"""The one writer every importer feeds: batched inserts and updates of hosts.

Records are buffered and written in batches through Django's connection.
New hosts are inserted with COPY on PostgreSQL and with the sqlite3
driver's ``executemany`` on SQLite; updates run the same SQL on both. For
each batch the writer reads the stored rows of its addresses (unless one
indexed probe finds none in the batch's key range), then sorts every
record into added, updated or unchanged:

- a new address is inserted (added);
- a stored address whose details differ, that was stale or that belonged
  to another source is updated (updated);
- otherwise only ``last_seen`` moves (unchanged).

Details the file does not give (an empty host name, MAC or OS) keep their
stored values, so importing a plain list after an nmap scan does not erase
what nmap found. Imported tags are added to the stored ones.

Every host the import lists gets ``last_seen`` set to the import's start
time; stale marking relies on that (see :meth:`HostWriter.mark_stale`).
The caller owns the transaction.

On PostgreSQL an import into an empty host table keeps one COPY open
across batches while each batch's keys lie outside the span of keys already
sent. That is the case for a file sorted by address in either direction.
No batch then needs a look-up, and the server stores rows while this
process parses the next ones. Imports take a transaction-level
advisory lock, so that no other import adds hosts between the check that
the table is empty and the end of the COPY.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, connections

from .importers.base import HostRecord
from .models import Host

BATCH_SIZE = 2000
# SQLite page cache for an import, in KiB (negative PRAGMA cache_size values
# are KiB). The host-name index takes inserts out of address order, and with
# SQLite's default 2 MiB cache a million-host import spends most of its time
# re-reading index pages.
SQLITE_IMPORT_CACHE_KIB = 64 * 1024
# The same for an import into an empty table, whose host-name index is built
# after the last row. SQLite's sorter may hold as much again while it builds
# each index, and with 64 MiB the importing process peaked 20 to 45 MiB
# higher, at no gain in speed in the benchmark.
SQLITE_FIRST_IMPORT_CACHE_KIB = 32 * 1024
# Keys per ``IN (...)`` lookup; stays far below SQLite's variable limit.
LOOKUP_CHUNK = 500

TABLE = Host._meta.db_table
ROW_FIELDS = (
    "id",
    "key",
    "hostname",
    "hostnames",
    "mac",
    "mac_vendor",
    "os_name",
    "source",
    "tags",
    "stale",
    # Whether last_seen equals this import's time, compared by the database
    # so that no timestamp is parsed: about 4 s per million re-imported
    # hosts on PostgreSQL.
    "seen_now",
)
INSERT_COLUMNS = (
    "address",
    "key",
    "version",
    "hostname",
    "hostnames",
    "mac",
    "mac_vendor",
    "os_name",
    "source",
    "first_seen",
    "last_seen",
    "stale",
    "tags",
    "subscribed",
    "scanned",
)
# Columns whose value is the same for every row of one import. The SQLite
# INSERT writes them as literals, so that executemany binds only the other
# nine values of each row: a million rows took 3.3 s against 4.6 s with all
# fifteen bound.
IMPORT_CONSTANT_COLUMNS = ("source", "first_seen", "last_seen", "stale", "subscribed", "scanned")
SQLITE_BOUND_COLUMNS = tuple(name for name in INSERT_COLUMNS if name not in IMPORT_CONSTANT_COLUMNS)


def sqlite_literal(value: str | bool) -> str:
    """Return ``value`` as an SQLite literal: a boolean as 0 or 1, text in single quotes.

    SQLite string literals have no escapes other than a doubled quote. A NUL
    character cannot be written in a statement, so text that contains one
    raises ValueError.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if "\x00" in value:
        raise ValueError("an SQLite literal cannot contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


def sqlite_insert_sql(constants: dict[str, str | bool]) -> str:
    """Return the INSERT statement of new hosts with ``constants`` written in as literals.

    Its placeholders take the values of SQLITE_BOUND_COLUMNS, in that order.
    """
    values = {name: "?" for name in SQLITE_BOUND_COLUMNS}
    values.update({name: sqlite_literal(value) for name, value in constants.items()})
    return (
        f"INSERT INTO {TABLE} ("
        + ", ".join(f'"{name}"' for name in INSERT_COLUMNS)
        + ") VALUES ("
        + ", ".join(values[name] for name in INSERT_COLUMNS)
        + ")"
    )


COPY_SQL = f"COPY {TABLE} (" + ", ".join(f'"{name}"' for name in INSERT_COLUMNS) + ") FROM STDIN"

UPDATE_SQL = (
    f"UPDATE {TABLE} SET hostname = %s, hostnames = %s, mac = %s, mac_vendor = %s, "
    "os_name = %s, source = %s, tags = %s, last_seen = %s, stale = %s, stale_since = NULL "
    "WHERE id = %s"
)

# Key of the PostgreSQL advisory lock that serialises imports.
IMPORT_LOCK_KEY = 0x4C514849  # "LQHI"

HOLDS_ANY_SQL = f'SELECT 1 FROM {TABLE} WHERE "key" >= %s AND "key" <= %s LIMIT 1'


logger = logging.getLogger(__name__)

# Imports that write at least this many hosts on SQLite leave the WAL
# checkpoint of their commit to a thread that runs after the report.
CHECKPOINT_ASIDE_HOSTS = 50_000


class HeldCheckpoint:
    """Hold back SQLite's automatic WAL checkpoint while an import commits.

    In WAL mode SQLite copies the log into the database file (a checkpoint)
    in the connection whose commit makes the log longer than 1,000 pages.
    For a million new hosts that took 1.2 s of the import's wall time, after
    its rows were written and before its report. While held, this
    connection's commits skip it; :meth:`release` then runs it in a thread
    of its own when the import wrote many hosts, and otherwise leaves it to
    the next commit as before. The log is durable either way: a checkpoint
    only moves pages that are already committed. Nothing is held on other
    databases or outside WAL mode.
    """

    def __init__(self):
        self.saved: int | None = None
        if connection.vendor != "sqlite":
            return
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0].lower() != "wal":
                return
            cursor.execute("PRAGMA wal_autocheckpoint")
            self.saved = int(cursor.fetchone()[0])
            cursor.execute("PRAGMA wal_autocheckpoint = 0")

    def release(self, written: int) -> threading.Thread | None:
        """Restore automatic checkpoints; checkpoint in a thread after ``written`` hosts or more.

        Returns the thread, or None when none was started.
        """
        if self.saved is None:
            return None
        saved, self.saved = self.saved, None
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {saved}")
        if written < CHECKPOINT_ASIDE_HOSTS:
            return None
        # Not a daemon thread: a command that imported a file finishes the
        # checkpoint before its process exits.
        thread = threading.Thread(target=_checkpoint, name="wal-checkpoint")
        thread.start()
        return thread


def _checkpoint() -> None:
    """Copy the WAL into the database file, on this thread's own connection."""
    try:
        with connection.cursor() as cursor:
            # PASSIVE waits for no reader or writer; a page it cannot copy
            # now is copied by a later checkpoint.
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except Exception:
        logger.exception("The WAL checkpoint after an import failed; a later commit will run it")
    finally:
        connections.close_all()


class ImportStopped(Exception):
    """Passed to psycopg to abandon a COPY when an import stops early."""


@dataclass
class WriteCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    # Listings of an address that the same import listed before, and the
    # address and line of the first such listing met.
    repeated: int = 0
    first_repeat: tuple[str, int] | None = None

    # Stored hosts of another source that this import takes over, and the
    # address and former source of the first.
    moved: int = 0
    first_moved: tuple[str, str] | None = None

    def count_move(self, address: str, former_source: str) -> None:
        self.moved += 1
        if self.first_moved is None:
            self.first_moved = (address, former_source)

    def count_repeat(self, record: HostRecord) -> None:
        self.repeated += 1
        # A repeat of an address in an earlier batch is found when its own batch
        # is written, after repeats within that batch: the lowest line is the first.
        if self.first_repeat is None or record.line < self.first_repeat[1]:
            self.first_repeat = (record.address, record.line)


def _json_value(value: object) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return json.loads(value)
    return list(value)  # type: ignore[arg-type]


def json_list(values: list[str]) -> str:
    """Return ``json.dumps(values)`` for a list of strings, quickly for plain ASCII text.

    Printable ASCII without quotes or backslashes needs no escaping, which
    covers host names and tags nearly always, so the list is joined directly.
    """
    if not values:
        return "[]"
    # The check runs on the values alone: the separator itself contains quotes.
    plain = "".join(values)
    if plain.isascii() and plain.isprintable() and '"' not in plain and "\\" not in plain:
        return '["' + '", "'.join(values) + '"]'
    return json.dumps(values)


# COPY's text format: a backslash, tab, newline or carriage return inside a
# value is written as a backslash sequence.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_field(text: str) -> str:
    """Return ``text`` as one field of PostgreSQL's COPY text format."""
    return text.translate(COPY_ESCAPES)


def _membership(column: str, values: list) -> Iterator[tuple[str, list]]:
    """Yield (condition, parameters) pairs that together select the rows whose column is in values.

    PostgreSQL gets the whole list as one array parameter. With an IN list,
    psycopg parsed each query of 500 placeholders on the client: about 5 s
    of CPU time per million re-imported hosts. SQLite gets IN lists of
    LOOKUP_CHUNK values.
    """
    if not values:
        return
    if connection.vendor == "postgresql":
        yield f"{column} = ANY(%s)", [list(values)]
        return
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start : start + LOOKUP_CHUNK]
        yield f"{column} IN ({', '.join(['%s'] * len(chunk))})", list(chunk)


# Host names a host keeps: the latest import's first, then older ones, newest first.
MAX_HOST_NAMES = 20


def _merge_names(stored: list[str], imported: list[str]) -> list[str]:
    """Return the imported names, then the stored names they leave out, at most MAX_HOST_NAMES.

    A host keeps the names earlier imports saw (a DHCP host renamed, another
    feed's name), and the latest import's first name becomes its primary one.
    """
    if not imported or imported == stored:
        return list(stored)
    if not stored:
        return list(imported)
    merged = list(imported)
    merged.extend(name for name in stored if name not in imported)
    return merged[:MAX_HOST_NAMES]


def _merge_tags(stored: list[str], imported: list[str]) -> list[str]:
    """Return the stored tags, then the imported ones that differ from each in more than case.

    ``PCI`` and ``pci`` are one tag, kept as first written, as the search
    matches tags in any case.
    """
    merged = list(stored)
    seen = {tag.casefold() for tag in stored}
    for tag in imported:
        folded = tag.casefold()
        if folded not in seen:
            seen.add(folded)
            merged.append(tag)
    return merged


def _merge_records(first: HostRecord, second: HostRecord) -> HostRecord:
    """Combine two records of one address: later non-empty details win, and names add up.

    Names merge as across imports, the later row's first, so that two rows of
    one file keep what two imports of those rows would keep.
    """
    return HostRecord(
        version=first.version,
        value=first.value,
        address=first.address,
        line=second.line,
        hostnames=_merge_names(first.hostnames, second.hostnames),
        mac=second.mac or first.mac,
        mac_vendor=second.mac_vendor or first.mac_vendor,
        os_name=second.os_name or first.os_name,
        tags=_merge_tags(first.tags, second.tags),
    )


class HostWriter:
    """Writes host records of one import in batches and counts what changed."""

    def __init__(
        self,
        source: str,
        seen_at: datetime,
        batch_size: int | None = None,
        on_batch: Callable[[WriteCounts], None] | None = None,
    ):
        self.source = source
        self.seen_at = seen_at
        self.seen_at_db = connection.ops.adapt_datetimefield_value(seen_at)
        self.batch_size = batch_size or BATCH_SIZE
        self.on_batch = on_batch
        self.counts = WriteCounts()
        self.buffer: dict[str, HostRecord] = {}
        self.saved_cache_size: int | None = None
        # (name, CREATE INDEX statement) of indexes dropped until finish().
        self.deferred_indexes: list[tuple[str, str]] = []
        # A table empty at the start: while every batch's keys lie outside
        # the lowest and highest key written so far, no batch needs a
        # look-up. PostgreSQL then also keeps one COPY open across batches.
        self.unseen_keys = False
        self.written_span: tuple[str, str] | None = None
        self.streaming = False
        self.open_copy: tuple[ExitStack, object] | None = None
        self.sqlite_insert_sql = ""
        if connection.vendor == "sqlite":
            self.sqlite_insert_sql = sqlite_insert_sql(
                {
                    "source": source,
                    "first_seen": self.seen_at_db,
                    "last_seen": self.seen_at_db,
                    "stale": False,
                    "subscribed": False,
                    "scanned": False,
                }
            )
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])
            cursor.execute(f"SELECT MAX(id) FROM {TABLE}")
            highest_pk = cursor.fetchone()[0]
            self.new_since_pk: int = highest_pk or 0
            self.unseen_keys = highest_pk is None
            self.streaming = connection.vendor == "postgresql" and highest_pk is None
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA cache_size")
                self.saved_cache_size = cursor.fetchone()[0]
                cache_kib = SQLITE_IMPORT_CACHE_KIB if highest_pk else SQLITE_FIRST_IMPORT_CACHE_KIB
                cursor.execute(f"PRAGMA cache_size = -{cache_kib}")
                if highest_pk is None:
                    self._defer_indexes(cursor)

    def finish(self) -> None:
        """Write the buffered records and rebuild any index dropped for the import.

        Call once after the last :meth:`add`, before querying the table.
        """
        self.flush()
        self._end_copy()
        if self.deferred_indexes:
            with connection.cursor() as cursor:
                for _name, statement in self.deferred_indexes:
                    cursor.execute(statement)
            self.deferred_indexes = []

    def _defer_indexes(self, cursor) -> None:
        """Drop the host table's secondary indexes while an import fills it from empty.

        SQLite builds an index from a full table in one sorted pass, which
        costs less than updating it row by row as a million rows arrive in
        address order, whose host names are not in that order. Unique
        indexes stay: they enforce constraints, and the writer's look-ups use
        the one on ``key``. The caller's transaction undoes the drop if the
        import fails before :meth:`finish`. PostgreSQL is left out because
        the drop would lock the table against every reader until the commit.
        """
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
            "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%%'",
            [TABLE],
        )
        self.deferred_indexes = list(cursor.fetchall())
        for name, _statement in self.deferred_indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")

    def close(self) -> None:
        """Abandon a COPY that :meth:`finish` did not end; restore SQLite's page cache size."""
        if self.open_copy is not None:
            stack, _copy = self.open_copy
            self.open_copy = None
            stopped = ImportStopped("the import stopped before its last row")
            # psycopg sends the server a CopyFail message, and the caller's
            # transaction is rolled back.
            stack.__exit__(ImportStopped, stopped, None)
        if self.saved_cache_size is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(self.saved_cache_size)}")
            self.saved_cache_size = None

    def add(self, record: HostRecord) -> None:
        key = record.key
        earlier = self.buffer.get(key)
        if earlier is not None:
            self.counts.count_repeat(record)
            record = _merge_records(earlier, record)
        self.buffer[key] = record
        if len(self.buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        batch = self.buffer
        self.buffer = {}
        keys = list(batch)
        low, high = min(keys), max(keys)
        if self.unseen_keys:
            span = self.written_span
            if span is None or low > span[1] or high < span[0]:
                # Nothing stored can have these keys: the table was empty
                # and every earlier batch lies outside this one's span.
                self.counts.added += len(batch)
                if self.streaming:
                    self._copy().write(self._copy_text(batch))
                else:
                    with connection.cursor() as cursor:
                        self._insert(cursor, batch)
                if span is not None:
                    low, high = min(low, span[0]), max(high, span[1])
                self.written_span = (low, high)
                if self.on_batch is not None:
                    self.on_batch(self.counts)
                return
            # An unsorted file: end any COPY and look up from here on.
            self.unseen_keys = False
            self._end_copy()
            self.streaming = False
        stored = self._stored_rows(keys) if self._holds_any(low, high) else {}

        if not stored:
            # Every record is new: the common case of a first import.
            self.counts.added += len(batch)
            with connection.cursor() as cursor:
                self._insert(cursor, batch)
            if self.on_batch is not None:
                self.on_batch(self.counts)
            return

        new: dict[str, HostRecord] = {}
        updates: list[tuple] = []
        unchanged_ids: list[int] = []
        for key, record in batch.items():
            row = stored.get(key)
            if row is None:
                new[key] = record
                self.counts.added += 1
                continue
            change = self._update_row(row, record)
            repeated = row["id"] > self.new_since_pk or bool(row["seen_now"])
            if repeated:
                self.counts.count_repeat(record)
            if change is None:
                unchanged_ids.append(row["id"])
                if not repeated:
                    self.counts.unchanged += 1
            else:
                updates.append(change)
                if not repeated:
                    self.counts.updated += 1
                    if row["source"] != self.source:
                        self.counts.count_move(record.address, row["source"])

        with connection.cursor() as cursor:
            if new:
                self._insert(cursor, new)
            if updates:
                cursor.executemany(UPDATE_SQL, updates)
            for condition, values in _membership(connection.ops.quote_name("id"), unchanged_ids):
                cursor.execute(
                    f"UPDATE {TABLE} SET last_seen = %s WHERE {condition}",
                    [self.seen_at_db, *values],
                )
        if self.on_batch is not None:
            self.on_batch(self.counts)

    def _copy(self):
        """Return the COPY held open across batches, starting it on first use."""
        if self.open_copy is None:
            stack = ExitStack()
            cursor = stack.enter_context(connection.cursor())
            copy = stack.enter_context(cursor.cursor.copy(COPY_SQL))
            self.open_copy = (stack, copy)
        return self.open_copy[1]

    def _end_copy(self) -> None:
        """End the COPY held open across batches, which waits for the server to store its rows."""
        if self.open_copy is not None:
            stack, _copy = self.open_copy
            self.open_copy = None
            stack.close()

    def _insert(self, cursor, batch: dict[str, HostRecord]) -> None:
        """Insert new hosts: COPY on PostgreSQL, the sqlite3 driver's executemany on SQLite."""
        if connection.vendor == "postgresql":
            # COPY is PostgreSQL's bulk load, several times faster than INSERT
            # statements. The rows are sent as COPY text built here: with
            # psycopg's write_row, which picks a dumper for each of the 15
            # values of a row, the import used about 4 s more CPU time per
            # million nmap hosts.
            with cursor.cursor.copy(COPY_SQL) as copy:
                copy.write(self._copy_text(batch))
            return
        # The sqlite3 driver's executemany prepares the one-row statement once
        # and binds each row in C. Django's cursor would rewrite every "%s" of
        # the statement into "?" on each call: about 5 s per million rows
        # in multi-row INSERTs, as profiled with cProfile.
        #
        # The table's CHECK constraints (JSON_VALID on the two JSON columns,
        # a version of at least 0) are off for these inserts: json_list and
        # the parsers make every such value valid, and checking them took
        # about 1 s per million rows. Updates keep the checks.
        raw = connection.connection
        with connection.wrap_database_errors:
            raw.execute("PRAGMA ignore_check_constraints = ON")
            try:
                raw.executemany(self.sqlite_insert_sql, self._insert_rows(batch))
            finally:
                raw.execute("PRAGMA ignore_check_constraints = OFF")

    def mark_stale(self, now: datetime, cutoff: datetime | None = None) -> int:
        """Mark stale the hosts of this source last seen before ``cutoff``.

        ``cutoff`` defaults to this import's start time. Call only after a
        complete import has been flushed: every host it listed has
        ``last_seen`` equal to the import's start time.
        """
        if self.new_since_pk == 0:
            # The table was empty: every host in it came from this import.
            return 0
        return Host.objects.filter(
            source=self.source, stale=False, last_seen__lt=cutoff or self.seen_at
        ).update(stale=True, stale_since=now)

    # Helpers -------------------------------------------------------------

    def _holds_any(self, low: str, high: str) -> bool:
        """Return True if the table contains a host with a key from ``low`` to ``high``.

        One probe of the key index per batch. A file sorted by address, as
        nmap and most exports are, gives batches whose key ranges hold no
        stored rows on a first import, and the look-up of each key is skipped.
        """
        with connection.cursor() as cursor:
            cursor.execute(HOLDS_ANY_SQL, [low, high])
            return cursor.fetchone() is not None

    def _stored_rows(self, keys: list[str]) -> dict[str, dict]:
        rows: dict[str, dict] = {}
        # Every field but the last, seen_now, which the query computes.
        columns = ", ".join(connection.ops.quote_name(name) for name in ROW_FIELDS[:-1])
        with connection.cursor() as cursor:
            for condition, values in _membership(connection.ops.quote_name("key"), keys):
                cursor.execute(
                    f'SELECT {columns}, ("last_seen" = %s) FROM {TABLE} WHERE {condition}',
                    [self.seen_at_db, *values],
                )
                for values in cursor.fetchall():
                    row = dict(zip(ROW_FIELDS, values, strict=True))
                    row["hostnames"] = _json_value(row["hostnames"])
                    row["tags"] = _json_value(row["tags"])
                    rows[row["key"]] = row
        return rows

    def _insert_rows(self, batch: dict[str, HostRecord]) -> list[tuple]:
        """Return the SQLite INSERT parameters (SQLITE_BOUND_COLUMNS) of hosts by address key."""
        return [
            (
                record.address,
                key,
                record.version,
                record.hostnames[0] if record.hostnames else "",
                json_list(record.hostnames),
                record.mac,
                record.mac_vendor,
                record.os_name,
                json_list(record.tags),
            )
            for key, record in batch.items()
        ]

    def _copy_text(self, batch: dict[str, HostRecord]) -> str:
        """Return the COPY text, in INSERT_COLUMNS order, of hosts keyed by address key.

        Address, key, version and MAC address are made by the parsers and
        never contain a tab, newline, carriage return or backslash. The other
        text is checked once per row and escaped field by field only when it
        contains one of them.
        """
        seen_at = self.seen_at.isoformat()
        # From the source to the tags: source, first seen, last seen, stale.
        middle = f"\t{copy_field(self.source)}\t{seen_at}\t{seen_at}\tf\t"
        lines = []
        for key, record in batch.items():
            names = record.hostnames
            hostname = names[0] if names else ""
            names_json = json_list(names)
            tags_json = json_list(record.tags)
            free = f"{names_json}\t{record.mac_vendor}\t{record.os_name}\t{tags_json}"
            if free.count("\t") != 3 or "\\" in free or "\n" in free or "\r" in free:
                hostname = copy_field(hostname)
                names_json = copy_field(names_json)
                tags_json = copy_field(tags_json)
                vendor = copy_field(record.mac_vendor)
                os_name = copy_field(record.os_name)
            else:
                vendor = record.mac_vendor
                os_name = record.os_name
            lines.append(
                f"{record.address}\t{key}\t{record.version}\t{hostname}\t{names_json}\t"
                f"{record.mac}\t{vendor}\t{os_name}{middle}{tags_json}\tf\tf\n"
            )
        return "".join(lines)

    def _update_row(self, row: dict, record: HostRecord) -> tuple | None:
        """Return the UPDATE parameters for a stored row, or None when nothing changes."""
        names = _merge_names(row["hostnames"], record.hostnames)
        hostname = names[0] if names else row["hostname"]
        mac = record.mac or row["mac"]
        mac_vendor = record.mac_vendor or row["mac_vendor"]
        os_name = record.os_name or row["os_name"]
        tags = _merge_tags(row["tags"], record.tags)
        same = (
            names == row["hostnames"]
            and hostname == row["hostname"]
            and mac == row["mac"]
            and mac_vendor == row["mac_vendor"]
            and os_name == row["os_name"]
            and tags == row["tags"]
            and row["source"] == self.source
            and not row["stale"]
        )
        if same:
            return None
        return (
            hostname,
            json_list(names),
            mac,
            mac_vendor,
            os_name,
            self.source,
            json_list(tags),
            self.seen_at_db,
            False,
            row["id"],
        )
