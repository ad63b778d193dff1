"""Import speed and memory at a million hosts, beside parse-only floors.

Run with ``python -m benchmarks.import_hosts`` (SQLite) or with
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/lumeta`` for PostgreSQL.
``--hosts N`` changes the size (default 1,000,000).

The inputs are generated once under ``DATA_DIR/bench-inputs`` (10.0.0.0/8
data only) and kept: an nmap XML ping scan (``-sn`` shape: status, IPv4
address, MAC address with vendor, two host names, times) and a CSV export
with ip, hostname, mac and os columns.

Every case runs in its own Python process, so that its peak resident
memory (``ru_maxrss``) is its own:

- ``import-nmap`` and ``import-csv``: ``inventory.services.import_file``
  into a freshly created database, database writes and commit included;
  a file this large is parsed in a child process (``inventory.importers.parallel``)
  whose CPU time and peak memory are reported with the case's. On SQLite
  the WAL checkpoint that follows the report, in a thread, is timed apart;
- ``import-nmap-inline`` and ``import-csv-inline``: the same with the file
  parsed in the importing process, for comparison;
- ``reimport-nmap``: the nmap file imported once (not timed), then the same
  file imported again with the same source, as a daily scan would be. Every
  host is looked up and found unchanged;
- ``parse-nmap`` and ``parse-csv``: this product's parsers alone, records
  discarded (where the time goes without the database);
- ``libnmap``: python-libnmap's ``NmapParser.parse_fromfile``, then reading
  each host's address and status;
- ``lxml-iterparse`` and ``expat``: the address of every up host with plain
  lxml ``iterparse`` (elements cleared) and with the standard library's
  expat, the bare floors for XML;
- ``lxml-fields`` and ``expat-fields``: the same parse as the product's,
  without its checks: for every up host its addresses, MAC address and
  vendor, host names and best OS match, gathered into one tuple per host.
  These are the floors for the parse that the import does;
- ``csv-module``: the standard library's ``csv.reader`` reading the address
  column, the bare floor for CSV;
- ``csv-fields``: ``csv.reader`` gathering the address, host name, MAC and
  OS columns of each row, stripped, into one tuple per row, the floor for
  the CSV parse that the import does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DATA_DIR", str(ROOT / "var"))

V4_BASE = 10 << 24
CASES = [
    "import-nmap",
    "import-nmap-inline",
    "reimport-nmap",
    "parse-nmap",
    "libnmap",
    "lxml-iterparse",
    "lxml-fields",
    "expat",
    "expat-fields",
    "import-csv",
    "import-csv-inline",
    "parse-csv",
    "csv-module",
    "csv-fields",
]


def address_text(index: int) -> str:
    value = V4_BASE + 1 + index
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def mac_text(index: int) -> str:
    return "00:00:5E:" + ":".join(f"{(index >> shift) & 255:02X}" for shift in (16, 8, 0))


def write_nmap(path: Path, hosts: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n'
            '<nmaprun scanner="nmap" args="nmap -sn -oX bench.xml 10.0.0.0/8" '
            'start="1764800000" version="7.94" xmloutputversion="1.05">\n'
            '<verbose level="0"/>\n<debugging level="0"/>\n'
        )
        for index in range(hosts):
            address = address_text(index)
            out.write(
                '<host><status state="up" reason="arp-response" reason_ttl="0"/>\n'
                f'<address addr="{address}" addrtype="ipv4"/>\n'
                f'<address addr="{mac_text(index)}" addrtype="mac" vendor="Example Vendor"/>\n'
                "<hostnames>\n"
                f'<hostname name="host-{index}" type="user"/>\n'
                f'<hostname name="host-{index}.example.test" type="PTR"/>\n'
                "</hostnames>\n"
                '<times srtt="412" rttvar="5000" to="100000"/>\n'
                "</host>\n"
            )
        out.write(
            '<runstats><finished time="1764803600" elapsed="3600.00" exit="success"/>'
            f'<hosts up="{hosts}" down="0" total="{hosts}"/>\n</runstats>\n</nmaprun>\n'
        )


def write_csv(path: Path, hosts: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("ip,hostname,mac,os\r\n")
        for index in range(hosts):
            out.write(
                f"{address_text(index)},host-{index}.example.test,{mac_text(index)},Linux\r\n"
            )


def inputs(hosts: int) -> dict[str, Path]:
    directory = Path(os.environ["DATA_DIR"]) / "bench-inputs"
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "nmap": directory / f"scan-{hosts}.xml",
        "csv": directory / f"hosts-{hosts}.csv",
    }
    if not files["nmap"].exists():
        print(f"generating {files['nmap']}", file=sys.stderr)
        write_nmap(files["nmap"], hosts)
    if not files["csv"].exists():
        print(f"generating {files['csv']}", file=sys.stderr)
        write_csv(files["csv"], hosts)
    return files


# Cases, each run in a child process ------------------------------------------


class Clock:
    """Wall and CPU (user + system) time since it was created.

    CPU time includes finished child processes: a large import parses in a
    child process, and its CPU time is part of the import's cost.
    """

    def __init__(self):
        self.wall = time.perf_counter()
        self.cpu = self._cpu()

    @staticmethod
    def _cpu() -> float:
        total = 0.0
        for target in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(target)
            total += usage.ru_utime + usage.ru_stime
        return total

    def result(self, **extra) -> dict:
        return {
            "seconds": time.perf_counter() - self.wall,
            "cpu_seconds": self._cpu() - self.cpu,
            **extra,
        }


def fresh_database() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    test_settings = connection.settings_dict["TEST"]
    if connection.vendor == "sqlite":
        test_settings["NAME"] = os.path.join(settings.DATA_DIR, "bench_import.sqlite3")
    else:
        test_settings["NAME"] = "bench_import"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)


def case_import(path: Path, fmt: str, inline: bool = False, again: bool = False) -> dict:
    fresh_database()
    from inventory import services
    from inventory.importers import parallel
    from inventory.models import Host

    if inline:
        parallel.PARALLEL_MIN_BYTES = path.stat().st_size + 1
    if again:
        services.import_file(path, fmt=fmt)

    # Time the receivers of hosts_imported (the Qualys integration's coverage
    # flags) apart from the inventory's own work.
    signal = services.hosts_imported
    receiver_seconds = 0.0

    class TimedSignal:
        def send(self, *args, **kwargs):
            nonlocal receiver_seconds
            begin = time.perf_counter()
            try:
                return signal.send(*args, **kwargs)
            finally:
                receiver_seconds += time.perf_counter() - begin

    services.hosts_imported = TimedSignal()
    clock = Clock()
    report = services.import_file(path, fmt=fmt)
    result = clock.result(receivers=receiver_seconds, added=report.added)
    # On SQLite a large import's WAL checkpoint runs in a thread after the
    # report. Its time is measured apart, from the report to its end.
    begin = time.perf_counter()
    for thread in threading.enumerate():
        if thread.name == "wal-checkpoint":
            thread.join()
    result["checkpoint_after"] = time.perf_counter() - begin
    result["hosts"] = Host.objects.count()
    return result


def case_parse(path: Path, fmt: str) -> dict:
    import django

    django.setup()
    from inventory.importers import ParseState, parser_for

    clock = Clock()
    with path.open("rb") as stream:
        count = sum(1 for _ in parser_for(fmt, stream, ParseState(path.name)).records())
    return clock.result(hosts=count)


def case_libnmap(path: Path) -> dict:
    from libnmap.parser import NmapParser

    clock = Clock()
    report = NmapParser.parse_fromfile(str(path))
    count = sum(1 for host in report.hosts if host.status == "up" and host.address)
    return clock.result(hosts=count)


def case_lxml(path: Path) -> dict:
    from lxml import etree

    clock = Clock()
    count = 0
    for _, host in etree.iterparse(str(path), tag="host", resolve_entities=False):
        status = host.find("status")
        if status is not None and status.get("state") == "up":
            for address in host.iterfind("address"):
                if address.get("addrtype") in ("ipv4", "ipv6") and address.get("addr"):
                    count += 1
        host.clear()
        while host.getprevious() is not None:
            del host.getparent()[0]
    return clock.result(hosts=count)


def case_expat(path: Path) -> dict:
    import xml.parsers.expat

    clock = Clock()
    state = {"up": False, "count": 0}

    def start_element(name, attributes):
        if name == "status":
            state["up"] = attributes.get("state") == "up"
        elif name == "address" and state["up"] and attributes.get("addrtype") in ("ipv4", "ipv6"):
            state["count"] += 1

    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = start_element
    with path.open("rb") as stream:
        parser.ParseFile(stream)
    return clock.result(hosts=state["count"])


def case_lxml_fields(path: Path) -> dict:
    from lxml import etree

    clock = Clock()
    count = 0
    for _, host in etree.iterparse(str(path), tag="host", resolve_entities=False):
        status = host.find("status")
        if status is not None and status.get("state") == "up":
            addresses, mac, vendor = [], "", ""
            for address in host.iterfind("address"):
                kind = address.get("addrtype")
                if kind == "mac":
                    mac, vendor = address.get("addr", ""), address.get("vendor", "")
                elif kind in ("ipv4", "ipv6"):
                    addresses.append(address.get("addr", ""))
            names = [name.get("name", "") for name in host.iterfind("hostnames/hostname")]
            best, accuracy = "", -1
            for match in host.iterfind("os/osmatch"):
                value = int(match.get("accuracy", "0"))
                if value > accuracy:
                    best, accuracy = match.get("name", ""), value
            record = (addresses, names, mac, vendor, best)
            count += len(record[0])
        host.clear()
        while host.getprevious() is not None:
            del host.getparent()[0]
    return clock.result(hosts=count)


def case_expat_fields(path: Path) -> dict:
    import xml.parsers.expat

    clock = Clock()
    records = []
    host = None

    def start_element(name, attributes):
        nonlocal host
        if name == "host":
            # up, addresses, host names, MAC, vendor, best OS, its accuracy
            host = [False, [], [], "", "", "", -1]
        elif host is None:
            return
        elif name == "status":
            host[0] = attributes.get("state") == "up"
        elif name == "address":
            kind = attributes.get("addrtype")
            if kind == "mac":
                host[3], host[4] = attributes.get("addr", ""), attributes.get("vendor", "")
            elif kind in ("ipv4", "ipv6"):
                host[1].append(attributes.get("addr", ""))
        elif name == "hostname":
            host[2].append(attributes.get("name", ""))
        elif name == "osmatch":
            accuracy = int(attributes.get("accuracy", "0"))
            if accuracy > host[6]:
                host[5], host[6] = attributes.get("name", ""), accuracy

    def end_element(name):
        nonlocal host
        if name == "host" and host is not None:
            if host[0]:
                records.append((host[1], host[2], host[3], host[4], host[5]))
            host = None

    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = start_element
    parser.EndElementHandler = end_element
    count = 0
    with path.open("rb") as stream:
        # Read in blocks and drop the finished records, as a streaming parser does.
        while block := stream.read(1 << 20):
            parser.Parse(block, False)
            count += sum(len(record[0]) for record in records)
            records.clear()
        parser.Parse(b"", True)
    count += sum(len(record[0]) for record in records)
    return clock.result(hosts=count)


def case_csv_module(path: Path) -> dict:
    import csv

    clock = Clock()
    count = 0
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.reader(stream)
        column = next(reader).index("ip")
        for row in reader:
            if row[column].strip():
                count += 1
    return clock.result(hosts=count)


def case_csv_fields(path: Path) -> dict:
    import csv

    clock = Clock()
    count = 0
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        columns = [header.index(name) for name in ("ip", "hostname", "mac", "os")]
        ip, hostname, mac, os_name = columns
        for row in reader:
            record = (
                row[ip].strip(),
                row[hostname].strip(),
                row[mac].strip(),
                row[os_name].strip(),
            )
            if record[0]:
                count += 1
    return clock.result(hosts=count)


class ChildMemory(threading.Thread):
    """Thread that samples the peak resident memory (VmHWM) of this process's children.

    RUSAGE_CHILDREN is no measure of the parser process. It reported about
    the importing process's own size when the child started (72 MiB before
    a first import, 174 MiB before a re-import), while the child's VmHWM
    stayed at 48 MiB: Linux carries a peak across exec. VmHWM in /proc
    covers the child's own memory after exec. The parser's memory is flat,
    so sampling every 0.2 s misses little of its peak.
    """

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_kib = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            for pid in self._children():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))

    @staticmethod
    def _children() -> list[str]:
        pids: list[str] = []
        for task in Path("/proc/self/task").iterdir():
            try:
                pids.extend((task / "children").read_text().split())
            except OSError:
                continue
        return pids

    def stop(self) -> float:
        """Stop sampling and return the peak in MiB."""
        self.stopped.set()
        if self.is_alive():
            self.join()
        return self.peak_kib / 1024


def run_case(case: str, files: dict[str, Path]) -> dict:
    # Only imports start a parser process; the floors run without the sampler.
    children = ChildMemory()
    if "import" in case:
        children.start()
    if case == "import-nmap":
        result = case_import(files["nmap"], "nmap")
    elif case == "import-csv":
        result = case_import(files["csv"], "csv")
    elif case == "import-nmap-inline":
        result = case_import(files["nmap"], "nmap", inline=True)
    elif case == "reimport-nmap":
        result = case_import(files["nmap"], "nmap", again=True)
    elif case == "import-csv-inline":
        result = case_import(files["csv"], "csv", inline=True)
    elif case == "parse-nmap":
        result = case_parse(files["nmap"], "nmap")
    elif case == "parse-csv":
        result = case_parse(files["csv"], "csv")
    elif case == "libnmap":
        result = case_libnmap(files["nmap"])
    elif case == "lxml-iterparse":
        result = case_lxml(files["nmap"])
    elif case == "lxml-fields":
        result = case_lxml_fields(files["nmap"])
    elif case == "expat":
        result = case_expat(files["nmap"])
    elif case == "expat-fields":
        result = case_expat_fields(files["nmap"])
    elif case == "csv-module":
        result = case_csv_module(files["csv"])
    elif case == "csv-fields":
        result = case_csv_fields(files["csv"])
    else:
        raise SystemExit(f"unknown case {case!r}; choose from {', '.join(CASES)}")
    # ru_maxrss is in KiB on Linux. The two peaks added are an upper bound of
    # the import's memory.
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["child_peak_mib"] = children.stop()
    return result


# Parent: runs every case in a child and prints the table ----------------------


def database_name() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return "PostgreSQL" if url.startswith("postgres") else "SQLite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1_000_000)
    parser.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    options = parser.parse_args()

    files = inputs(options.hosts)
    if options.case:
        print(json.dumps(run_case(options.case, files)))
        return

    print(
        f"# {options.hosts:,} hosts, {database_name()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; nmap file {files['nmap'].stat().st_size / 2**20:.0f} MiB, "
        f"CSV file {files['csv'].stat().st_size / 2**20:.0f} MiB"
    )
    print(
        "| case | wall time (s) | CPU time (s) | of which receivers (s) "
        "| checkpoint after the report (s) | peak memory (MiB), parent + parser process | hosts |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case in options.cases:
        command = [sys.executable, "-m", "benchmarks.import_hosts", "--hosts", str(options.hosts)]
        child = subprocess.run(
            [*command, "--case", case], cwd=ROOT, capture_output=True, text=True, check=False
        )
        if child.returncode != 0:
            print(f"| {case} | failed: {child.stderr.strip().splitlines()[-1:]} | | | | | |")
            continue
        result = json.loads(child.stdout.strip().splitlines()[-1])
        receivers = f"{result['receivers']:.1f}" if "receivers" in result else ""
        checkpoint = f"{result['checkpoint_after']:.1f}" if "checkpoint_after" in result else ""
        peak = f"{result['peak_mib']:.0f}"
        if result["child_peak_mib"] >= 1:
            peak += f" + {result['child_peak_mib']:.0f}"
        print(
            f"| {case} | {result['seconds']:.1f} | {result['cpu_seconds']:.1f} | {receivers} "
            f"| {checkpoint} | {peak} | {result['hosts']:,} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
