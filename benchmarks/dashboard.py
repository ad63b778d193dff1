"""Server time of the dashboard pages and the CSV export rate at a million hosts.

Run with ``python -m benchmarks.dashboard`` (SQLite) or with
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/lumeta`` for PostgreSQL.
The data lives in its own database (``bench_dashboard.sqlite3`` under
``DATA_DIR``, or the database ``bench_dashboard`` on PostgreSQL) and is kept between runs with
``--keep``, so a second run measures without generating again.

The profile is the sync benchmark's: 1,000,000 indexed hosts, 200,000
subscribed ranges covering over 2,000,000 addresses (plus one IPv6 /64) and
500,000 scanned hosts. Rows are inserted in bulk, then
``coverage.refresh_all()`` sets the flags as a sync would.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DATA_DIR", str(Path(__file__).resolve().parents[1] / "var"))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

V4_BASE = int.from_bytes(bytes([10, 0, 0, 0]), "big")
OUTSIDE_BASE = int.from_bytes(bytes([172, 16, 0, 0]), "big")
V6_BASE = 0x20010DB8000000010000000000000000  # 2001:db8:0:1::/64

HOSTS_V4 = 990_000
HOSTS_V6 = 10_000
RANGES_V4 = 199_999  # plus one IPv6 /64: 200,000 subscription entries
SCANNED_IN_BOTH = 350_000  # I ∩ S ∩ M, IPv4
SCANNED_OUTSIDE_SUBSCRIPTION = 30_000  # (I ∩ M) − S
SCANNED_NOT_INDEXED = 70_000  # (S ∩ M) − I
SCANNED_ELSEWHERE = 45_000  # M − S − I, of which DUPLICATES share an address
SCANNED_V6 = 5_000  # I ∩ S ∩ M, IPv6
DUPLICATES = 1_000
BATCH = 5_000
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def use_benchmark_database(keep: bool) -> None:
    """Point the default connection at a database of its own, created if needed."""
    test_settings = connection.settings_dict["TEST"]
    if connection.vendor == "sqlite":
        test_settings["NAME"] = os.path.join(settings.DATA_DIR, "bench_dashboard.sqlite3")
    else:
        test_settings["NAME"] = "bench_dashboard"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=keep, serialize=False)


def _insert(table: str, columns: list[str], rows) -> int:
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    count = 0
    batch = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _v4(value: int) -> tuple[str, str]:
    from lumeta_qualys.ipset import address_key, format_address

    return format_address(4, value), address_key(4, value)


def _v6(value: int) -> tuple[str, str]:
    from lumeta_qualys.ipset import address_key, format_address

    return format_address(6, value), address_key(6, value)


def _date(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def host_rows():
    for index in range(HOSTS_V4 + HOSTS_V6):
        if index < HOSTS_V4:
            address, key = _v4(V4_BASE + index * 4)
            version = 4
        else:
            address, key = _v6(V6_BASE + (index - HOSTS_V4) * 4)
            version = 6
        name = f"host-{index}.corp.example"
        yield (
            address,
            key,
            version,
            name,
            f'["{name}"]',
            f"02:00:{index >> 24 & 255:02x}:"
            f"{index >> 16 & 255:02x}:{index >> 8 & 255:02x}:{index & 255:02x}",
            "",
            "Linux 5.x" if index % 3 else "Windows Server 2022",
            "bench",
            _date(NOW - timedelta(days=60)),
            _date(NOW - timedelta(minutes=index % 10_000)),
            # One host in 100 is stale, as after imports that no longer list it.
            index % 100 == 50,
            _date(NOW - timedelta(days=3)) if index % 100 == 50 else None,
            '["pci"]' if index % 100 == 0 else "[]",
            False,
            False,
        )


HOST_COLUMNS = [
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
    "stale_since",
    "tags",
    "subscribed",
    "scanned",
]


def range_rows():
    for index in range(RANGES_V4):
        start, end = V4_BASE + index * 20, V4_BASE + index * 20 + 11
        (start_address, start_key), (end_address, end_key) = _v4(start), _v4(end)
        yield (4, start_key, end_key, start_address, end_address, 12)
    (start_address, start_key), (end_address, end_key) = _v6(V6_BASE), _v6(V6_BASE + (1 << 64) - 1)
    yield (6, start_key, end_key, start_address, end_address, str(1 << 64))


RANGE_COLUMNS = ["version", "start_key", "end_key", "start_address", "end_address", "size"]


def scanned_addresses():
    """Yield (version, value) of every scanned host, in the order of their Qualys IDs."""
    for index in range(SCANNED_IN_BOTH):
        yield 4, V4_BASE + (5 * (index // 2) + index % 2) * 4
    for index in range(SCANNED_OUTSIDE_SUBSCRIPTION):
        yield 4, V4_BASE + (5 * index + 3) * 4
    for index in range(SCANNED_NOT_INDEXED):
        yield 4, V4_BASE + 20 * index + 1
    for index in range(SCANNED_ELSEWHERE):
        yield 4, OUTSIDE_BASE + (index % (SCANNED_ELSEWHERE - DUPLICATES))
    for index in range(SCANNED_V6):
        yield 6, V6_BASE + index * 4


def scanned_host_rows():
    for qualys_id, (version, value) in enumerate(scanned_addresses(), start=1):
        address, key = _v4(value) if version == 4 else _v6(value)
        last_scan = (
            None if qualys_id % 100 == 0 else _date(NOW - timedelta(minutes=qualys_id % 129_600))
        )
        yield (
            qualys_id,
            address if version == 4 else "",
            key if version == 4 else "",
            address if version == 6 else "",
            key if version == 6 else "",
            f"q{qualys_id}.corp.example",
            f"Q{qualys_id}",
            "Linux",
            "IP",
            last_scan,
            qualys_id % 2,
        )


SCANNED_HOST_COLUMNS = [
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
]


def fill_scanned_addresses() -> None:
    """Insert one ScannedAddress per distinct scanned address, as the sync does."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for key, text, version in (("address_key", "address", 4), ("ipv6_key", "ipv6", 6)):
            cursor.execute(
                f"INSERT INTO {quote('integrations_scannedaddress')} "
                "(key, address, version, host_id, indexed, last_scan) "
                f"SELECT {key}, MIN({text}), {version}, MIN(id), FALSE, MAX(last_scan) "
                f"FROM qualys_scanned_ips WHERE {key} <> '' GROUP BY {key}"
            )


def sync_history() -> None:
    """Create ninety daily successful runs and one failed run, for the trend chart."""
    from integrations.models import SyncRun

    runs = []
    for day in range(90):
        started = NOW - timedelta(days=90 - day)
        runs.append(
            SyncRun(
                status=SyncRun.Status.SUCCEEDED,
                trigger=SyncRun.Trigger.SCHEDULE,
                created_at=started,
                started_at=started,
                finished_at=started + timedelta(minutes=4),
                indexed=900_000 + day * 1000,
                subscribed=2_400_000,
                scanned=400_000 + day * 1000,
                unmanaged_by_qualys=420_000 - day * 500,
                unmanaged_by_lumeta=120_000,
                managed_by_both=300_000 + day * 1000,
            )
        )
    runs.append(
        SyncRun(
            status=SyncRun.Status.FAILED,
            trigger=SyncRun.Trigger.SCHEDULE,
            created_at=NOW,
            started_at=NOW,
            finished_at=NOW + timedelta(seconds=30),
            error="Qualys answered 401 Unauthorized: check the username and password.",
        )
    )
    SyncRun.objects.bulk_create(runs)


def generate() -> None:
    from integrations import coverage
    from inventory.models import Host

    if Host.objects.exists():
        print("Benchmark data already present: measuring it as it is.")
        return
    started = time.perf_counter()
    with transaction.atomic():
        hosts = _insert("inventory_host", HOST_COLUMNS, host_rows())
        ranges = _insert("qualys_subscribed_ips", RANGE_COLUMNS, range_rows())
        scanned = _insert("qualys_scanned_ips", SCANNED_HOST_COLUMNS, scanned_host_rows())
        fill_scanned_addresses()
        sync_history()
    print(
        f"Inserted {hosts:,} hosts, {ranges:,} ranges, {scanned:,} scanned hosts "
        f"in {time.perf_counter() - started:.0f} s"
    )
    started = time.perf_counter()
    coverage.refresh_all()
    print(f"coverage.refresh_all() took {time.perf_counter() - started:.0f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _timed_get(client, url: str, repeat: int, before=None) -> tuple[float, list[float], float]:
    """Time ``repeat`` + 1 requests of ``url``; ``before`` runs before each, outside the timing.

    Returns the first request's wall time, the sorted wall times of the
    others and the median CPU time of this process over the others, in ms.
    CPU time leaves out waiting for a busy machine's cores, and on
    PostgreSQL the database server's own work.
    """
    times = []
    cpu_times = []
    for _ in range(repeat + 1):
        if before is not None:
            before()
        started = time.perf_counter()
        cpu_started = time.process_time()
        response = client.get(url)
        if getattr(response, "streaming", False):
            for _ in response.streaming_content:
                pass
        elapsed = (time.perf_counter() - started) * 1000
        cpu_times.append((time.process_time() - cpu_started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} returned {response.status_code}")
        times.append(elapsed)
    return times[0], sorted(times[1:]), statistics.median(cpu_times[1:])


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def deep_cursor(slug: str, fraction: float) -> str:
    """Return an ``after`` cursor at ``fraction`` of a list sorted by address."""
    from dashboard.lists import COVERAGE_SETS, Cursor

    queryset = COVERAGE_SETS[slug].queryset().order_by("key").values_list("key", flat=True)
    count = queryset.count()
    # OFFSET here only finds a starting point for the benchmark; pages never use it.
    key = queryset[int(count * fraction)]
    return Cursor(0, (key,)).encode()


def second_page_cursor(slug: str) -> str:
    """Return the ``after`` cursor of the second page of a list sorted by newest scan, quoted."""
    from urllib.parse import quote

    from dashboard.lists import COVERAGE_SETS, read_page

    return quote(read_page(COVERAGE_SETS[slug], sort="-last_scan").next_cursor, safe="")


def measure_export(client, slug: str, query: str = "", base: str = "/dashboard/") -> None:
    started = time.perf_counter()
    cpu_started = time.process_time()
    response = client.get(f"{base}{slug}.csv" + (f"?{query}" if query else ""))
    rows = 0
    rss_start = _rss_mib()
    rss_samples = []
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
        if rows // 100_000 > len(rss_samples):
            rss_samples.append(_rss_mib())
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    rss_end = _rss_mib()
    data_rows = rows - 1
    print(
        f"| {slug}.csv{'?' + query if query else ''} | {data_rows:,} | {elapsed:.1f} s | "
        f"{data_rows / elapsed:,.0f} | "
        f"{data_rows / cpu:,.0f} | {rss_start:.0f} → {max(rss_samples or [rss_end]):.0f} → "
        f"{rss_end:.0f} |"
    )


def import_nothing() -> None:
    """Send the import signal as an import that added no host does, in its own transaction.

    The receivers refresh the flags of no host and store the counts, which
    is the work every import adds for the dashboard.
    """
    from inventory.models import Host
    from inventory.signals import hosts_imported

    newest = Host.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with transaction.atomic():
        hosts_imported.send(sender=Host, new_since_pk=newest, import_run=None)


def stored_sets():
    """Return S and M as IPSets read from the stored tables, as the sync has them in memory."""
    from integrations import coverage
    from integrations.models import ScannedAddress
    from lumeta_qualys.ipset import IPSet, parse_key

    keys = ScannedAddress.objects.order_by("key").values_list("key", flat=True)
    scanned = IPSet.from_ranges(
        (version, value, value) for version, value in map(parse_key, keys.iterator(10_000))
    )
    return coverage.stored_subscription(), scanned


def replace_qualys_tables(sets) -> None:
    """Send the sync's signal as its store step does, at the end of its own transaction."""
    from integrations.models import SubscribedRange
    from integrations.signals import qualys_tables_replaced

    subscription, scanned = sets
    with transaction.atomic():
        qualys_tables_replaced.send(
            sender=SubscribedRange, subscription=subscription, scanned=scanned
        )


def drop_stored_counts() -> None:
    """Delete the stored counts, so the page falls back to counting everything."""
    from dashboard.models import CountSnapshot

    CountSnapshot.objects.all().delete()


def _timed(function, repeat: int) -> tuple[float, float]:
    """Return the median wall and CPU time of ``repeat`` calls of ``function``, in ms."""
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        function()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu_started) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def measure_writers(repeat: int, sets) -> None:
    """Print what storing the counts adds to an import and to a sync's store step."""
    print("| writer's work for the dashboard | median wall | median CPU |")
    print("|---|---|---|")
    for label, function in (
        ("import (hosts recounted, Qualys totals kept)", import_nothing),
        (
            "sync store (hosts recounted, Qualys totals handed over)",
            lambda: replace_qualys_tables(sets),
        ),
    ):
        wall, cpu = _timed(function, repeat)
        print(f"| {label} | {wall:.0f} | {cpu:.0f} |")
    print()


def measure(repeat: int = 5) -> None:
    """Print the server times as Markdown tables."""
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", "bench@example.test", "bench-password"
    )
    client = Client()
    client.force_login(user)
    client.get("/dashboard/")  # store the counts once
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"Database: {connection.vendor}; load average before: {load}")
    print()
    sets = stored_sets()
    measure_writers(repeat, sets)
    print(
        f"Server time in ms: the first request, then the median and maximum of {repeat} more, "
        "and the median CPU time of the Django process."
    )
    print()
    print("| request | first | median | max | median CPU |")
    print("|---|---|---|---|---|")
    urls = [
        ("dashboard, counts stored", "/dashboard/", None),
        ("dashboard after an import", "/dashboard/", import_nothing),
        ("dashboard after a sync", "/dashboard/", lambda: replace_qualys_tables(sets)),
        ("dashboard, counts missing (all recounted)", "/dashboard/", drop_stored_counts),
        ("summary.json, counts stored", "/dashboard/summary.json", None),
    ]
    for slug in ("unmanaged-by-qualys", "unmanaged-by-lumeta", "managed-by-both"):
        urls.append((f"{slug}, first page", f"/dashboard/{slug}/", None))
        urls.append(
            (f"{slug}, page at 90%", f"/dashboard/{slug}/?after={deep_cursor(slug, 0.9)}", None)
        )
        urls.append((f"{slug}, newest scan first", f"/dashboard/{slug}/?sort=-last_scan", None))
        urls.append(
            (
                f"{slug}, newest scan first, second page",
                f"/dashboard/{slug}/?sort=-last_scan&after={second_page_cursor(slug)}",
                None,
            )
        )
        urls.append((f"{slug}, oldest scan first", f"/dashboard/{slug}/?sort=last_scan", None))
    urls.append(
        ("managed-by-both, q=10.1.0.0/16", "/dashboard/managed-by-both/?q=10.1.0.0/16", None)
    )
    urls.append(
        ("unmanaged-by-qualys, q=host-99", "/dashboard/unmanaged-by-qualys/?q=host-99", None)
    )
    urls.append(
        (
            "unmanaged-by-lumeta, q=q4500 (Qualys DNS)",
            "/dashboard/unmanaged-by-lumeta/?q=q4500",
            None,
        )
    )
    for slug in ("unmanaged-by-qualys", "managed-by-both"):
        for state in ("stale", "current"):
            urls.append((f"{slug}, {state} hosts", f"/dashboard/{slug}/?state={state}", None))
            urls.append(
                (
                    f"{slug}, {state} hosts, newest scan first",
                    f"/dashboard/{slug}/?state={state}&sort=-last_scan",
                    None,
                )
            )
    urls.append(("host page", "/dashboard/host/10.0.0.4/", None))
    # The inventory's host list: searches that no index serves read every row.
    for query in (
        "host-999999",
        "zzz",
        "02:00:00:0f:42:3f",
        "mac:02:00:00:0f",
        "os:windows",
        "os:zzz",
        "vendor:zzz",
        "tag:pci",
        "10.1.0.0/16",
    ):
        urls.append((f"inventory, q={query}", f"/inventory/?q={quote(query)}", None))
    for label, url, before in urls:
        first, times, cpu = _timed_get(client, url, repeat, before)
        median = statistics.median(times)
        print(f"| {label} | {first:.0f} | {median:.0f} | {times[-1]:.0f} | {cpu:.0f} |")
    print()
    print("| export | rows | time | rows/s | rows/s of CPU | RSS MiB: start → peak → end |")
    print("|---|---|---|---|---|---|")
    for slug in ("managed-by-both", "unmanaged-by-qualys", "unmanaged-by-lumeta"):
        measure_export(client, slug)
    measure_export(client, "managed-by-both", "state=stale")
    measure_export(client, "managed-by-both", "state=current")
    # The inventory's own export: every host, and a search that reads every row.
    measure_export(client, "hosts", base="/inventory/")
    measure_export(client, "hosts", "q=os:windows", base="/inventory/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--keep", action="store_true", help="Reuse the benchmark database if it exists."
    )
    parser.add_argument(
        "--generate-only", action="store_true", help="Generate the data and stop without measuring."
    )
    args = parser.parse_args(argv)
    if args.generate_only:
        args.keep = True
    use_benchmark_database(args.keep)
    generate()
    if args.generate_only:
        return 0
    measure()
    return 0


if __name__ == "__main__":
    sys.exit(main())
