"""The three dashboard sets as named queries, and the counts built from them.

I is the inventory (``Host``), S the Qualys subscription (``SubscribedRange``)
and M the addresses Qualys scanned (``ScannedAddress``). The sync and the
import signal keep three flags current (see ``integrations.coverage``):
``Host.subscribed`` (the host is in S), ``Host.scanned`` (in M) and
``ScannedAddress.indexed`` (in I). Every set below is therefore one indexed
filter and every count an indexed COUNT or SUM: no set is loaded into Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from integrations.models import ScannedAddress, SubscribedRange
from inventory.models import Host
from lumeta_qualys.ipset import IPSet, parse_key

from .models import CountSnapshot

# --- The three sets --------------------------------------------------------


@contextmanager
def without_jit() -> Iterator[None]:
    """Run the enclosed queries with PostgreSQL's JIT compiler off (a no-op on SQLite).

    PostgreSQL compiles queries whose estimated cost passes ``jit_above_cost``;
    for the dashboard's correlated subqueries and range joins, which run in
    tens of milliseconds, compiling costs 200 to 500 ms more. The setting is
    local to the transaction, and inside a caller's transaction (a writer
    storing the counts) the previous value is put back on the way out, so no
    other query of the connection is affected. SQLite gets no transaction
    here: with ``BEGIN IMMEDIATE`` a read would take the write lock.
    """
    if connection.vendor != "postgresql":
        yield
        return
    nested = connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
            previous = cursor.fetchone()[0]
        yield
        if nested:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('jit', %s, true)", [previous])


@contextmanager
def consistent_read() -> Iterator[None]:
    """Run the enclosed queries on one snapshot of the data, where the database allows it.

    On PostgreSQL a new transaction becomes REPEATABLE READ, so counts taken
    while a writer commits all see the data from before it or all from
    after. Inside a caller's transaction nothing changes.
    NOTE: on SQLite the enclosed queries run in autocommit, each on the
    data as it is when it starts, because Django opens SQLite transactions
    with ``BEGIN IMMEDIATE``, which would make a read wait for writers.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def flag(name: str, value: bool) -> Q:
    """Match a boolean column equal to ``value`` in a form both databases index.

    Django writes ``flag=True`` as a bare ``WHERE "flag"`` (and ``False`` as
    ``NOT "flag"``), which SQLite cannot match against an index on the
    column; ``IN (value)`` is an equality SQLite and PostgreSQL both index.
    """
    return Q(**{f"{name}__in": [value]})


def unmanaged_by_qualys() -> QuerySet[Host]:
    """I − S: indexed hosts outside the Qualys subscription ("IPs Unmanaged by Qualys")."""
    return Host.objects.filter(flag("subscribed", False))


def unmanaged_ipv6_count() -> int:
    """Return how many addresses of I − S are IPv6, which a sync cannot add to Qualys.

    IPv6 keys sort after every IPv4 key, so this is one range of the
    (subscribed, key) index: it reads only the IPv6 hosts outside the
    subscription, few on most networks.
    """
    return unmanaged_by_qualys().filter(key__gte="6").count()


def unmanaged_stale_ipv4_count() -> int:
    """Return how many IPv4 addresses of I − S are stale hosts.

    The count reads the partial index of stale hosts, few on most networks.
    PostgreSQL's planner picks it; SQLite, without statistics, walked the
    (subscribed, key) index instead: 125 to 160 ms against 15 ms for a
    million hosts, so it is named there.
    """
    if connection.vendor != "sqlite":
        return Host.objects.filter(stale=True, subscribed=False, key__lt="6").count()
    table = connection.ops.quote_name(Host._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {table} INDEXED BY host_stale_since "
            "WHERE stale AND NOT subscribed AND key < '6'"
        )
        return cursor.fetchone()[0]


def stale_host_count() -> int:
    """Return how many indexed hosts are stale, read from the partial index of stale hosts."""
    return Host.objects.filter(stale=True).count()


def unmanaged_by_lumeta() -> QuerySet[ScannedAddress]:
    """M − I: scanned addresses missing from the inventory ("IPs Unmanaged by Lumeta")."""
    return ScannedAddress.objects.filter(flag("indexed", False))


def managed_by_both() -> QuerySet[Host]:
    """I ∩ M: indexed hosts that Qualys scanned ("Qualys and Lumeta Managed IPs")."""
    return Host.objects.filter(flag("scanned", True))


def scanned_indexed() -> QuerySet[ScannedAddress]:
    """I ∩ M seen from the Qualys side: the scanned addresses the inventory holds.

    The same addresses as :func:`managed_by_both`; lists sorted by last scan
    walk this side because the ``(indexed, last_scan, key)`` index orders it.
    """
    return ScannedAddress.objects.filter(flag("indexed", True))


# --- Counts ------------------------------------------------------------------


@dataclass(frozen=True)
class QualysTotals:
    """Counts that depend on the stored Qualys tables only, exact integers.

    ``subscribed`` is |S| in addresses, ``scanned`` is |M|, and
    ``scanned_subscribed`` is |M ∩ S|: M ⊆ S does not always hold, because a
    host can leave the subscription after Qualys scanned it.
    """

    subscribed: int
    subscribed_v6: int
    scanned: int
    scanned_subscribed: int


def _subscribed_addresses() -> tuple[int, int]:
    """Return (|S|, its IPv6 part), exact.

    The database sums the IPv4 range sizes (at most 2**32 in all, exact in
    any integer type). IPv6 sizes can pass 2**64, which SQLite keeps only as
    a rounded float, so the IPv6 ranges, few in practice, are summed here
    from their bounds.
    """
    ipv4 = SubscribedRange.objects.filter(version=4).aggregate(total=Sum("size"))["total"]
    ipv6 = 0
    rows = SubscribedRange.objects.filter(version=6).values_list("start_key", "end_key")
    for start_key, end_key in rows.iterator(10_000):
        ipv6 += parse_key(end_key)[1] - parse_key(start_key)[1] + 1
    return int(ipv4 or 0) + ipv6, ipv6


def _scanned_in_subscription() -> int:
    """Return |M ∩ S|: scanned addresses that lie inside a subscribed range.

    Ranges are merged and disjoint, so each scanned address matches at most
    one range and is counted once. Keys start with the IP version digit, so
    an IPv4 range never matches an IPv6 address.
    """
    table_scanned = ScannedAddress._meta.db_table
    table_ranges = SubscribedRange._meta.db_table
    if connection.vendor == "postgresql":
        # Addresses and ranges are read together in key order from their
        # indexes. An address is inside when the last range started at or
        # before it reaches it. A join on key BETWEEN start AND end would
        # leave the plan to the table statistics, which can date from before
        # the sync that filled the tables and make PostgreSQL read every
        # range once per address.
        sql = (
            "SELECT COUNT(*) FROM (SELECT events.is_address, events.key, "
            "MAX(events.end_key) OVER (ORDER BY events.key) AS reach FROM ("
            f"SELECT TRUE AS is_address, key, NULL::varchar AS end_key FROM {table_scanned} "
            f"UNION ALL SELECT FALSE, start_key, end_key FROM {table_ranges}"
            ") AS events) AS walked WHERE walked.is_address AND walked.key <= walked.reach"
        )
    else:
        sql = (
            f"SELECT COUNT(*) FROM {table_ranges} r JOIN {table_scanned} a "  # noqa: S608
            "ON a.key >= r.start_key AND a.key <= r.end_key"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])


def compute_qualys_totals() -> QualysTotals:
    """Count |S|, |M| and |M ∩ S| from the stored Qualys tables.

    |M ∩ S| reads every scanned address and range (about 0.2 s on SQLite
    and 0.6 s on PostgreSQL at 500,000 addresses), so callers store
    the result until a sync replaces the tables: see :func:`coverage_counts`.
    """
    subscribed, subscribed_v6 = _subscribed_addresses()
    return QualysTotals(
        subscribed=subscribed,
        subscribed_v6=subscribed_v6,
        scanned=ScannedAddress.objects.count(),
        scanned_subscribed=_scanned_in_subscription(),
    )


@dataclass(frozen=True)
class Coverage:
    """Every count the dashboard shows, exact integers of distinct addresses.

    The four ``hosts_*`` counts split I by the two flags; with the Qualys
    totals they give each region of the I, S, M diagram.
    """

    hosts_only: int  # I − S − M
    hosts_subscribed: int  # (I ∩ S) − M
    hosts_subscribed_scanned: int  # I ∩ S ∩ M
    hosts_scanned: int  # (I ∩ M) − S
    unmanaged_by_lumeta: int  # M − I
    qualys: QualysTotals

    @property
    def indexed(self) -> int:
        return (
            self.hosts_only
            + self.hosts_subscribed
            + self.hosts_subscribed_scanned
            + self.hosts_scanned
        )

    @property
    def subscribed(self) -> int:
        return self.qualys.subscribed

    @property
    def scanned(self) -> int:
        return self.qualys.scanned

    @property
    def unmanaged_by_qualys(self) -> int:
        return self.hosts_only + self.hosts_scanned

    @property
    def managed_by_both(self) -> int:
        return self.hosts_subscribed_scanned + self.hosts_scanned

    @property
    def coverage(self) -> float:
        """Share of indexed hosts that Qualys scans, from 0 to 1.

        With no indexed host nothing indexed is left unscanned, so an empty
        inventory counts as fully covered (1.0).
        """
        if self.indexed == 0:
            return 1.0
        return self.managed_by_both / self.indexed

    def regions(self) -> dict[str, int]:
        """Return the count of each of the seven regions of the I, S, M diagram.

        Keys name the sets an address is in: ``"IS"`` is I ∩ S outside M.
        """
        scanned_subscribed_unindexed = (
            self.qualys.scanned_subscribed - self.hosts_subscribed_scanned
        )
        scanned_only = self.unmanaged_by_lumeta - scanned_subscribed_unindexed
        indexed_subscribed = self.hosts_subscribed + self.hosts_subscribed_scanned
        subscribed_only = self.qualys.subscribed - indexed_subscribed - scanned_subscribed_unindexed
        return {
            "I": self.hosts_only,
            "S": subscribed_only,
            "M": scanned_only,
            "IS": self.hosts_subscribed,
            "IM": self.hosts_scanned,
            "SM": scanned_subscribed_unindexed,
            "ISM": self.hosts_subscribed_scanned,
        }


def count_hosts_by_flags() -> dict[tuple[bool, bool], int]:
    """Count indexed hosts by (subscribed, scanned) with indexed COUNTs.

    PostgreSQL counts the four groups fastest in one pass; SQLite counts
    each group faster on the ``(subscribed, scanned, key)`` index.
    """
    if connection.vendor == "postgresql":
        rows = (
            Host.objects.order_by()
            .values_list("subscribed", "scanned")
            .annotate(count=Count("pk"))
            .values_list("subscribed", "scanned", "count")
        )
        return {(subscribed, scanned): count for subscribed, scanned, count in rows}
    return {
        (subscribed, scanned): Host.objects.filter(
            flag("subscribed", subscribed), flag("scanned", scanned)
        ).count()
        for subscribed in (False, True)
        for scanned in (False, True)
    }


def compute_coverage(qualys: QualysTotals) -> Coverage:
    """Count every set from the flags, now: what the stored snapshot holds."""
    by_flags = count_hosts_by_flags()
    return Coverage(
        hosts_only=by_flags.get((False, False), 0),
        hosts_subscribed=by_flags.get((True, False), 0),
        hosts_subscribed_scanned=by_flags.get((True, True), 0),
        hosts_scanned=by_flags.get((False, True), 0),
        unmanaged_by_lumeta=unmanaged_by_lumeta().count(),
        qualys=qualys,
    )


def qualys_totals_of(subscription: IPSet, scanned: IPSet) -> QualysTotals:
    """Count |S|, |M| and |M ∩ S| from the merged intervals a sync has just stored.

    Interval arithmetic over the sets in memory: no table is read, so a
    sync hands these over instead of paying the range join of
    :func:`compute_qualys_totals`.
    """
    return QualysTotals(
        subscribed=subscription.size,
        subscribed_v6=subscription.size_v6,
        scanned=scanned.size,
        scanned_subscribed=(scanned & subscription).size,
    )


# --- Stored counts -----------------------------------------------------------------


def data_signature() -> tuple[str, str]:
    """Return (hosts part, Qualys part) of the signature of the data behind the counts.

    Each value is a MIN or MAX of a primary key: one index lookup each.
    Inserting hosts moves the largest host ID; a sync replaces the Qualys
    tables (delete and insert), which moves their ID bounds.
    """
    quote = connection.ops.quote_name

    def bound(function: str, model) -> str:
        column, table = quote(model._meta.pk.column), quote(model._meta.db_table)
        return f"(SELECT {function}({column}) FROM {table})"

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT "
            + ", ".join(
                [
                    bound("MAX", Host),
                    bound("MIN", ScannedAddress),
                    bound("MAX", ScannedAddress),
                    bound("MIN", SubscribedRange),
                    bound("MAX", SubscribedRange),
                ]
            )
        )
        host_max, *qualys = cursor.fetchone()
    return str(host_max), ",".join(str(value) for value in qualys)


def _qualys_from_json(values: dict) -> QualysTotals:
    return QualysTotals(**{name: int(value) for name, value in values.items()})


def _coverage_to_json(coverage: Coverage) -> dict:
    return {
        "hosts_only": coverage.hosts_only,
        "hosts_subscribed": coverage.hosts_subscribed,
        "hosts_subscribed_scanned": coverage.hosts_subscribed_scanned,
        "hosts_scanned": coverage.hosts_scanned,
        "unmanaged_by_lumeta": coverage.unmanaged_by_lumeta,
    }


def _stored_fields(coverage: Coverage, hosts_signature: str, qualys_signature: str) -> dict:
    """Return the CountSnapshot fields that store ``coverage`` for the given signatures."""
    return {
        "signature": f"{hosts_signature};{qualys_signature}",
        "counts": _coverage_to_json(coverage),
        "qualys_signature": qualys_signature,
        "qualys_counts": {name: str(value) for name, value in vars(coverage.qualys).items()},
        "computed_at": timezone.now(),
    }


def _reusable_qualys(snapshot: CountSnapshot, qualys_signature: str) -> QualysTotals | None:
    """Return the snapshot's Qualys totals if they were counted on the Qualys tables as they are."""
    if snapshot.qualys_signature == qualys_signature and snapshot.qualys_counts:
        return _qualys_from_json(snapshot.qualys_counts)
    return None


def store_counts(qualys: QualysTotals | None = None, *, reuse_qualys: bool = True) -> Coverage:
    """Recount the hosts, store every count in ``CountSnapshot`` and return them.

    Called by the writers of the data (imports, deletions, saved hosts, the
    sync's table replacement), inside their transaction and after the
    coverage flags were updated, so the stored counts commit together with
    the change and a page never recounts. ``qualys`` passes totals the
    caller has already counted. Without it the stored Qualys totals are
    reused while the Qualys tables keep their signature (unless
    ``reuse_qualys`` is false), and recounted otherwise.

    The snapshot row is locked before counting. A second writer therefore
    waits for the first to commit, and on PostgreSQL (READ COMMITTED) its
    counting queries then see the first writer's rows. Every store bumps
    the generation, so a page recount that started earlier cannot
    overwrite these counts (see :func:`coverage_counts`).
    """
    with transaction.atomic():
        CountSnapshot.objects.get_or_create(pk=1)
        snapshot = CountSnapshot.objects.select_for_update().get(pk=1)
        hosts_signature, qualys_signature = data_signature()
        if qualys is None and reuse_qualys:
            qualys = _reusable_qualys(snapshot, qualys_signature)
        with without_jit():
            if qualys is None:
                qualys = compute_qualys_totals()
            coverage = compute_coverage(qualys)
        generation = snapshot.generation + 1
        CountSnapshot.objects.filter(pk=1).update(
            generation=generation,
            computed_generation=generation,
            **_stored_fields(coverage, hosts_signature, qualys_signature),
        )
    return coverage


def mark_counts_out_of_date() -> None:
    """Bump the snapshot's generation inside the caller's transaction, so no page trusts it."""
    CountSnapshot.objects.filter(pk=1).update(generation=F("generation") + 1)


def coverage_counts() -> Coverage:
    """Return every dashboard count, exact, as the inventory and the Qualys tables are now.

    The writers of the data store the counts when they change it (see
    :func:`store_counts`), so a page reads one row and checks the data
    signature: six index lookups. The counts are recounted here only when
    they are missing or out of date: the row was deleted, a change was
    marked without a recount, or the data changed without the signals (its
    signature no longer matches).
    """
    snapshot = CountSnapshot.objects.filter(pk=1).first()
    hosts_signature, qualys_signature = data_signature()
    if (
        snapshot is not None
        and snapshot.computed_generation == snapshot.generation
        and snapshot.signature == f"{hosts_signature};{qualys_signature}"
        and snapshot.counts
        and snapshot.qualys_counts
    ):
        return Coverage(**snapshot.counts, qualys=_qualys_from_json(snapshot.qualys_counts))
    return _recount(snapshot)


def _recount(snapshot: CountSnapshot | None) -> Coverage:
    """Count everything now and store it unless a writer stored counts meanwhile."""
    if snapshot is None:
        snapshot, _ = CountSnapshot.objects.get_or_create(pk=1)
    with consistent_read(), without_jit():
        hosts_signature, qualys_signature = data_signature()
        qualys = _reusable_qualys(snapshot, qualys_signature) or compute_qualys_totals()
        coverage = compute_coverage(qualys)

    # Store only if nothing changed since the snapshot was read: a writer
    # that committed meanwhile bumped the generation, and its counts win.
    CountSnapshot.objects.filter(pk=1, generation=snapshot.generation).update(
        computed_generation=snapshot.generation,
        **_stored_fields(coverage, hosts_signature, qualys_signature),
    )
    return coverage
