"""Wall time and peak memory of a full sync at scale, beside a floor measured in the same run.

Run with ``python -m benchmarks.sync`` (SQLite) or with
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/lumeta`` for PostgreSQL.

Profile: 1,000,000 indexed hosts (990,000 IPv4, 10,000 IPv6); a subscription
of 200,000 entries (150,000 single addresses, 49,999 ranges of 20 addresses
and the whole 172.16.0.0/12: 2,198,556 addresses); 500,000 scanned hosts
(499,000 distinct addresses, 1,000 listed again in a second network). The
Qualys API emulator serves them over HTTPS on loopback with its limits
raised, and the sync reads the host list in pages of 100,000 with
Auto-Subscribe on, so every step runs: fetch, store, add, re-read, group.

Before the timed sync, an untimed baseline sync with Auto-Subscribe off
stores what the emulator contains, as the previous day's sync would have.
The timed run then meets the state a scheduled sync meets: 190,000 indexed
hosts that the subscription lacks and an asset group that exists. Without
the baseline (``--no-baseline``), a reused database keeps the previous
benchmark run's Qualys tables, which contain the 190,000 added addresses
that the freshly written emulator state no longer has. The timed sync then
also clears and sets again the subscribed flag of those hosts.

Measured:

- the sync: ``manage.py qualys_sync`` as a child process; wall time, and its
  peak resident memory (``VmHWM`` from ``/proc``, read until it exits);
- the emulator's own CPU time while it served the sync, reported apart;
- the floor: the same responses (fetched once before the sync and saved)
  parsed with plain lxml ``iterparse``, plus one bulk insert of the same rows
  (subscription entries and scanned hosts) in one transaction, rolled back;
- a check of the run's counts and the dashboard's counts against sets of
  Python ints computed from the generated data with ``ipaddress``.

The data lives in its own database (``bench_sync.sqlite3`` under
``DATA_DIR``, or ``bench_sync`` on PostgreSQL); ``--keep`` reuses its hosts.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DATA_DIR", str(ROOT / "var"))

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from lxml import etree  # noqa: E402

from integrations.models import (  # noqa: E402
    QualysSettings,
    ScannedAddress,
    ScannedHost,
    SubscribedRange,
    SyncRun,
)
from integrations.services.store import _delete_all as delete_all  # noqa: E402
from integrations.services.store import insert_rows  # noqa: E402
from inventory.models import Host  # noqa: E402
from inventory.writer import INSERT_COLUMNS  # noqa: E402

V4 = lambda text: int(ipaddress.IPv4Address(text))  # noqa: E731

SINGLES_BASE = V4("10.0.0.0")  # 150,000 single addresses, every other one
RANGES_BASE = V4("10.64.0.0")  # 49,999 ranges of 20, one every 32
BIG_RANGE = ("172.16.0.0", "172.31.255.255")  # the /12
BIG_BASE = V4("172.16.0.0")
OUTSIDE_BASE = V4("198.18.0.0")  # 198.18.0.0/15, indexed, not subscribed
SPARSE_BASE = V4("10.200.0.0")  # indexed, not subscribed, one every 5
FOREIGN_BASE = V4("10.250.0.0")  # scanned only
V6_BASE = int(ipaddress.IPv6Address("2001:db8:1::"))

SINGLES = 150_000
RANGES = 49_999
RANGE_LENGTH = 20
PAGE_SIZE = 100_000
BATCH = 5_000
NOW = datetime(2026, 12, 1, tzinfo=UTC)
PASSWORD = "bench-password"


# Generated data -------------------------------------------------------------


def subscription_tokens() -> list[str]:
    tokens = [str(ipaddress.IPv4Address(SINGLES_BASE + 2 * i)) for i in range(SINGLES)]
    for j in range(RANGES):
        start = RANGES_BASE + 32 * j
        tokens.append(
            f"{ipaddress.IPv4Address(start)}-{ipaddress.IPv4Address(start + RANGE_LENGTH - 1)}"
        )
    tokens.append(f"{BIG_RANGE[0]}-{BIG_RANGE[1]}")
    return tokens


def indexed_addresses() -> list[str]:
    """I: 1,000,000 addresses as text."""
    values = [SINGLES_BASE + 2 * i for i in range(100_000)]  # in S
    values += [SINGLES_BASE + 2 * i + 1 for i in range(50_000)]  # I − S, interleaved
    values += [RANGES_BASE + 32 * j + k for j in range(40_000) for k in range(10)]  # in S
    values += [BIG_BASE + 3 * k for k in range(300_000)]  # in the /12
    values += [OUTSIDE_BASE + k for k in range(131_072)]  # I − S, one block
    values += [SPARSE_BASE + 5 * k for k in range(8_928)]  # I − S, scattered
    texts = [str(ipaddress.IPv4Address(value)) for value in values]
    texts += [str(ipaddress.IPv6Address(V6_BASE + 4 * k)) for k in range(10_000)]
    return texts


def scanned_addresses() -> list[tuple[str, int | None]]:
    """M: 500,000 scanned hosts as (address, network id)."""
    values = [SINGLES_BASE + 2 * i for i in range(80_000)]  # I ∩ S
    values += [RANGES_BASE + 32 * j + k for j in range(20_000) for k in range(10)]  # I ∩ S
    values += [BIG_BASE + 3 * k + 1 for k in range(100_000)]  # S − I
    values += [BIG_BASE + 3 * k for k in range(50_000)]  # I ∩ S
    values += [OUTSIDE_BASE + 65_536 + k for k in range(60_000)]  # I − S
    values += [FOREIGN_BASE + k for k in range(9_000)]  # M − S − I
    hosts: list[tuple[str, int | None]] = [
        (str(ipaddress.IPv4Address(value)), None) for value in values
    ]
    hosts += [(hosts[k][0], 2) for k in range(1_000)]  # the same addresses in network 2
    return hosts


def write_state(path: Path) -> int:
    """Write the emulator's state file; return the number of hosts."""
    hosts = scanned_addresses()
    os_names = ["Linux 5.15", "Windows Server 2022", "Cisco IOS 15", "FreeBSD 13"]
    with path.open("w", encoding="utf-8") as out:
        state = {
            "users": {"apiuser": PASSWORD},
            "subscription": {"ips": subscription_tokens(), "licence_limit": None},
            "limits": {"calls_per_window": 1_000_000, "window_seconds": 3600, "concurrency": 10},
            "asset_groups": [{"id": 1, "title": "Servers", "ips": ["10.0.0.0-10.0.0.20"]}],
        }
        text = json.dumps(state)
        out.write(text[:-1] + ', "hosts": [\n')
        for number, (address, network) in enumerate(hosts, start=1):
            host = {
                "id": number,
                "ip": address,
                "dns": f"scan-{number}.corp.example",
                "netbios": f"SCAN{number}",
                "os": os_names[number % len(os_names)],
                "tracking_method": "IP",
                "last_vuln_scan": (NOW - timedelta(minutes=number % 50_000)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
            if network is not None:
                host["network_id"] = network
            out.write(("," if number > 1 else "") + json.dumps(host) + "\n")
        out.write("]}\n")
    return len(hosts)


# Database -----------------------------------------------------------------


def use_benchmark_database(keep: bool) -> str:
    """Point the connection at a database of its own; return its DATABASE_URL."""
    test_settings = connection.settings_dict["TEST"]
    if connection.vendor == "sqlite":
        name = os.path.join(settings.DATA_DIR, "bench_sync.sqlite3")
    else:
        name = "bench_sync"
    test_settings["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=keep, serialize=False)
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    data = connection.settings_dict
    user = data.get("USER") or "postgres"
    return f"postgres://{user}@{data.get('HOST') or '127.0.0.1'}:{data.get('PORT') or 5432}/{name}"


def fill_inventory() -> int:
    if Host.objects.count() == 1_000_000:
        return 0
    Host.objects.all().delete()
    # The rows below follow the importer's column order.
    fields = list(INSERT_COLUMNS)
    empty_list = Host._meta.get_field("tags").get_db_prep_save([], connection)

    def rows():
        from lumeta_qualys.ipset import key_of

        for index, address in enumerate(indexed_addresses()):
            yield (
                address,
                key_of(address),
                6 if ":" in address else 4,
                f"host-{index}.corp.example",
                empty_list,
                "",
                "",
                "Linux",
                "bench",
                NOW - timedelta(days=30),
                NOW,
                False,
                empty_list,
                False,
                False,
            )

    with transaction.atomic():
        return insert_rows(Host, fields, rows())


# Processes ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process {process.args[0]} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def child_env(database_url: str, redis_url: str, cert: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            # tests.settings takes Redis from this variable only, so that tests
            # never reach a developer's Redis.
            "LUMETA_TEST_REDIS_URL": redis_url,
            "QUALYS_CA_BUNDLE": str(cert),
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "INFO",
        }
    )
    return env


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user and system, its waited-for children included) of a process.

    Fields 14 to 17 of ``/proc/PID/stat`` in clock ticks; the process name,
    field 2, may contain spaces, so the fields are counted after its ``)``.
    """
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (the state), so fields 14 to 17 are fields[11:15].
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def vm_hwm_kib(pid: int) -> int:
    """Return the peak resident memory (VmHWM) of a running process, in KiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# The floor -----------------------------------------------------------------


def fetch_responses(url: str, cert: Path, folder: Path) -> tuple[list[Path], float]:
    """Save the bodies of the sync's read calls; return the files and the time taken."""
    session = requests.Session()
    session.trust_env = False
    session.auth = ("apiuser", PASSWORD)
    session.headers["X-Requested-With"] = "benchmark"
    session.verify = str(cert)
    started = time.perf_counter()
    files = []

    def save(name: str, path: str, params: dict[str, str]) -> bytes:
        response = session.get(url + path, params=params, stream=True, timeout=600)
        response.raise_for_status()
        target = folder / name
        with target.open("wb") as out:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)
        files.append(target)
        return target.read_bytes()[-2000:]

    save("ip_list.xml", "/api/2.0/fo/asset/ip/", {"action": "list"})
    save("ip_map.xml", "/api/2.0/fo/asset/ip/v4_v6/", {"action": "list", "output_format": "xml"})
    params = {"action": "list", "details": "Basic", "truncation_limit": str(PAGE_SIZE)}
    page = 1
    while True:
        tail = save(f"hosts_{page}.xml", "/api/2.0/fo/asset/host/", params)
        if b"<CODE>1980</CODE>" not in tail:
            break
        next_id = tail.split(b"id_min=")[1].split(b"]]>")[0].split(b"&")[0].decode()
        params["id_min"] = next_id
        page += 1
    return files, time.perf_counter() - started


def _v4_value(text: str) -> int:
    return int.from_bytes(socket.inet_aton(text), "big")


def parse_responses(files: list[Path]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Parse the saved bodies with plain lxml into subscription rows and scanned-host rows.

    A tight loop: each HOST's children are read once, IPv4 addresses go
    through ``inet_aton`` and times through ``fromisoformat``, so the floor
    is as low as plain lxml allows. (The generated data is IPv4 only.)
    """
    ranges: list[tuple] = []
    hosts: list[tuple] = []
    addresses: dict[str, tuple] = {}
    for path in files:
        for _, element in etree.iterparse(
            str(path), events=("end",), tag=("IP", "IP_RANGE", "HOST")
        ):
            tag = element.tag
            if tag != "HOST":
                if element.getparent().tag != "IP_SET":
                    continue  # a host's IP, read with its HOST
                first, _, last = element.text.partition("-")
                last = last or first
                start, end = _v4_value(first), _v4_value(last)
                ranges.append((4, f"4{start:08x}", f"4{end:08x}", first, last, end - start + 1))
            else:
                values = {child.tag: child.text for child in element}
                address = values.get("IP") or ""
                scanned = values.get("LAST_VULN_SCAN_DATETIME")
                network = values.get("NETWORK_ID")
                key = f"4{_v4_value(address):08x}" if address else ""
                when = datetime.fromisoformat(scanned.replace("Z", "+00:00")) if scanned else None
                if key and key not in addresses:
                    addresses[key] = (key, address, 4, int(values["ID"]), False, when)
                hosts.append(
                    (
                        int(values["ID"]),
                        address,
                        key,
                        values.get("IPV6") or "",
                        "",
                        values.get("DNS") or "",
                        values.get("NETBIOS") or "",
                        values.get("OS") or "",
                        values.get("TRACKING_METHOD") or "",
                        when,
                        int(network) if network else None,
                    )
                )
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
    return ranges, hosts, list(addresses.values())


class Rollback(Exception):
    pass


def bulk_insert(ranges: list[tuple], hosts: list[tuple], addresses: list[tuple]) -> float:
    """Insert the rows in one transaction, time it, and roll it back.

    The distinct scanned addresses point at hosts by their Qualys ID: the
    foreign key is checked only at commit, and the transaction never commits.
    The time covers the inserts only, into tables emptied in the same
    transaction.
    """
    from decimal import Decimal

    from integrations.services.store import SCANNED_HOST_FIELDS, SUBSCRIBED_RANGE_FIELDS

    try:
        with transaction.atomic():
            # The tables hold the previous run's rows and ScannedAddress keys are
            # unique: empty them first, outside the timed part.
            for model in (ScannedAddress, ScannedHost, SubscribedRange):
                delete_all(model)
            started = time.perf_counter()
            insert_rows(
                SubscribedRange,
                SUBSCRIBED_RANGE_FIELDS,
                (row[:5] + (Decimal(row[5]),) for row in ranges),
            )
            insert_rows(ScannedHost, SCANNED_HOST_FIELDS, hosts)
            insert_rows(
                ScannedAddress,
                ("key", "address", "version", "host", "indexed", "last_scan"),
                addresses,
            )
            elapsed = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    return elapsed


# Independent check ------------------------------------------------------------


def expected_counts() -> dict[str, int]:
    """Compute the run's counts with Python sets of ints, from the generated data."""

    def expand(token: str) -> range:
        first, _, last = token.partition("-")
        start = int(ipaddress.ip_address(first))
        return range(start, (int(ipaddress.ip_address(last)) if last else start) + 1)

    subscribed: set[int] = set()
    for token in subscription_tokens():
        subscribed.update(expand(token))
    indexed4: set[int] = set()
    indexed6: set[int] = set()
    for text in indexed_addresses():
        address = ipaddress.ip_address(text)
        (indexed6 if address.version == 6 else indexed4).add(int(address))
    scanned = {int(ipaddress.ip_address(text)) for text, _ in scanned_addresses()}

    added = indexed4 - subscribed
    after = subscribed | added
    return {
        "indexed": len(indexed4) + len(indexed6),
        "subscribed": len(after),
        "scanned": len(scanned),
        "unmanaged_by_qualys": len(indexed4 - after) + len(indexed6),
        "unmanaged_by_lumeta": len(scanned - indexed4),
        "managed_by_both": len(scanned & indexed4),
        "ips_added": len(added),
        "group_size": len(after - scanned),
        "ipv6_not_pushable": len(indexed6),
    }


def dashboard_counts() -> dict[str, int] | str:
    try:
        from dashboard.querysets import compute_coverage, compute_qualys_totals
    except ImportError as error:
        return f"dashboard counts unavailable: {error}"
    coverage = compute_coverage(compute_qualys_totals())
    return {
        "indexed": coverage.indexed,
        "subscribed": coverage.subscribed,
        "scanned": coverage.scanned,
        "unmanaged_by_qualys": coverage.unmanaged_by_qualys,
        "unmanaged_by_lumeta": coverage.unmanaged_by_lumeta,
        "managed_by_both": coverage.managed_by_both,
    }


# Main -----------------------------------------------------------------------


def settle_database() -> None:
    """Finish the baseline sync's background work before anything is timed.

    On PostgreSQL, autovacuum and the checkpoint that follow the baseline's
    million-row writes would otherwise run during the floor's insert or the
    timed sync, whichever comes first. SQLite has no background work but the
    write-ahead log, which is checkpointed.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in (Host, SubscribedRange, ScannedHost, ScannedAddress):
                cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
            cursor.execute("CHECKPOINT")
        elif connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="Reuse the benchmark database.")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="Skip the untimed sync with Auto-Subscribe off before the timed one.",
    )
    args = parser.parse_args()

    database_url = use_benchmark_database(args.keep)
    print(f"Database: {connection.vendor} ({database_url})")
    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    processes: list[subprocess.Popen] = []
    try:
        started = time.perf_counter()
        added = fill_inventory()
        print(
            f"Inventory: {Host.objects.count():,} hosts ({added:,} inserted) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        host_count = write_state(workdir / "state.json")
        print(f"Emulator state: {host_count:,} hosts in {time.perf_counter() - started:.1f} s")

        redis_port = free_port()
        redis = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        processes.append(redis)
        wait_for_port(redis_port, redis)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"

        port = free_port()
        cert = workdir / "cert.pem"
        started = time.perf_counter()
        emulator = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "qualys_emulator",
                "--port",
                str(port),
                "--state",
                str(workdir / "state.json"),
                "--cert",
                str(cert),
                "--quiet",
            ],
            env=child_env(database_url, redis_url, cert),
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "emulator.log", "w"),  # noqa: SIM115
        )
        processes.append(emulator)
        wait_for_port(port, emulator)
        url = f"https://127.0.0.1:{port}"
        print(f"Emulator up in {time.perf_counter() - started:.1f} s at {url}")

        qualys_settings = QualysSettings.load()
        qualys_settings.enabled = False
        qualys_settings.server = url
        qualys_settings.username = "apiuser"
        qualys_settings.password = PASSWORD
        qualys_settings.auto_subscribe = False
        qualys_settings.page_size = PAGE_SIZE
        qualys_settings.save()

        if not args.no_baseline:
            started = time.perf_counter()
            baseline = subprocess.run(
                [sys.executable, str(ROOT / "manage.py"), "qualys_sync", "--no-progress"],
                env=child_env(database_url, redis_url, cert),
                capture_output=True,
                text=True,
            )
            if baseline.returncode != 0:
                print(f"The baseline sync failed with exit status {baseline.returncode}:")
                print(baseline.stdout[-2000:], baseline.stderr[-2000:], sep="\n")
                return 1
            settle_database()
            print(
                "Baseline sync (Auto-Subscribe off, untimed) and settling: "
                f"{time.perf_counter() - started:.1f} s"
            )
        qualys_settings.auto_subscribe = True
        qualys_settings.save()

        # The floor: the same read responses, parsed with plain lxml, then one bulk insert.
        files, fetch_seconds = fetch_responses(url, cert, workdir)
        started = time.perf_counter()
        cpu_started = time.process_time()
        ranges, hosts, addresses = parse_responses(files)
        parse_seconds = time.perf_counter() - started
        insert_seconds = bulk_insert(ranges, hosts, addresses)
        floor = parse_seconds + insert_seconds
        floor_cpu = time.process_time() - cpu_started
        size_mb = sum(path.stat().st_size for path in files) / 1e6
        print(
            f"Floor: fetch {fetch_seconds:.1f} s ({size_mb:.0f} MB), parse {parse_seconds:.1f} s "
            f"({len(ranges):,} entries, {len(hosts):,} hosts, {len(addresses):,} addresses), "
            f"insert {insert_seconds:.1f} s; "
            f"floor = parse + insert = {floor:.1f} s wall, {floor_cpu:.1f} s CPU"
        )
        del ranges, hosts, addresses

        # The sync, as its own process.
        cpu_before = cpu_seconds(emulator.pid)
        started = time.perf_counter()
        sync = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qualys_sync", "--no-progress"],
            env=child_env(database_url, redis_url, cert),
            stdout=open(workdir / "sync.out", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        # VmHWM of the running child: ru_maxrss from wait4 would also count this
        # parent's memory, which the child had mapped between fork and exec.
        peak_kib = 0
        while True:
            try:
                peak_kib = max(peak_kib, vm_hwm_kib(sync.pid))
            except OSError:
                pass
            finished, status, usage = os.wait4(sync.pid, os.WNOHANG)
            if finished:
                break
            time.sleep(0.1)
        wall = time.perf_counter() - started
        sync.returncode = os.waitstatus_to_exitcode(status)
        emulator_cpu = cpu_seconds(emulator.pid) - cpu_before
        peak_mib = peak_kib / 1024
        print(
            "\n".join(
                line
                for line in (workdir / "sync.out").read_text().splitlines()
                if "integrations.services" in line
                or "integrations.qualys.transport" in line
                or not line.startswith("20")
            )
        )

        run = SyncRun.objects.order_by("-pk").first()
        timeline = run.progress.get("timeline", [])
        print(
            f"Sync: exit {sync.returncode}, status {run.status}, wall {wall:.1f} s, "
            f"peak RSS {peak_mib:.0f} MiB, Qualys calls {run.qualys_calls}"
        )
        print(
            "Steps (start in seconds from the run's start, peak MiB so far): "
            + ", ".join(f"{step[0]} {step[1]:.1f} ({step[2]})" for step in timeline)
        )
        own = wall - emulator_cpu
        print(
            f"Emulator CPU while serving the sync: {emulator_cpu:.1f} s; "
            f"sync's own time (wall - emulator CPU) {own:.1f} s = {own / floor:.2f} x the floor"
        )
        sync_cpu = usage.ru_utime + usage.ru_stime
        print(f"Sync CPU {sync_cpu:.1f} s = {sync_cpu / floor_cpu:.2f} x the floor's CPU")

        expected = expected_counts()
        counts = run.details.get("counts", {})
        mismatches = {
            name: (counts.get(name), str(value))
            for name, value in expected.items()
            if counts.get(name) != str(value)
        }
        print("Expected counts:", expected)
        print("Run counts match" if not mismatches else f"Run count MISMATCHES: {mismatches}")
        dashboard = dashboard_counts()
        if isinstance(dashboard, str):
            print(dashboard)
        else:
            wrong = {
                name: (value, expected[name])
                for name, value in dashboard.items()
                if value != expected[name]
            }
            print("Dashboard counts match" if not wrong else f"Dashboard MISMATCHES: {wrong}")
        return 0 if sync.returncode == 0 and not mismatches else 1
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
