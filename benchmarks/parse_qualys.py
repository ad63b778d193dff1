"""Measure Qualys reply parsing: this client against plain lxml, xmltodict and qualysdk.

Run with ``python -m benchmarks.parse_qualys``. It writes a 500,000-host
HOST_LIST_OUTPUT and a 1,000,000-entry IP_LIST_OUTPUT (IP and IP_RANGE mixed,
data in 10.0.0.0/8 and 172.16.0.0/12) to a temporary folder, then parses each
file once per parser, every run in a fresh subprocess, and prints the wall
time and the CPU time (user + system) of the parse and the peak resident
memory of the process (ru_maxrss). CPU time is the steadier figure on a
shared machine.

Parsers:

- ``client``: QualysClient.iter_scanned_hosts / list_subscription with the
  HTTP layer replaced by the file, so paging, record conversion, address
  validation and interval merging all run as in production;
- ``lxml-floor``: a bare lxml iterparse loop collecting the same fields
  without any checks, the lower bound for an lxml-based parser;
- ``xmltodict``: xmltodict.parse of the whole body, then the same fields;
- ``qualysdk``: qualysdk's own XML-to-dict parser and its VMDRHost
  dataclasses (hosts) or its IP converters (IP list), as its get_host_list
  and get_ip_list use them.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HOST_FIELDS = (
    "ID",
    "IP",
    "IPV6",
    "TRACKING_METHOD",
    "NETWORK_ID",
    "DNS",
    "NETBIOS",
    "OS",
    "LAST_VULN_SCAN_DATETIME",
)
PARSERS = ("client", "lxml-floor", "xmltodict", "qualysdk")
TEN = 10 << 24
ONE_SEVENTY_TWO = (172 << 24) | (16 << 16)


# Data generation ------------------------------------------------------------


def ipv4(value: int) -> str:
    return f"{value >> 24}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


def host_address(index: int) -> str:
    """Spread hosts over 10.0.0.0/8 and the first part of 172.16.0.0/12."""
    if index % 5 == 4:
        return ipv4(ONE_SEVENTY_TWO + index)
    return ipv4(TEN + index * 3)


def write_host_list(path: Path, count: int) -> None:
    with path.open("wb") as output:
        output.write(
            b'<?xml version="1.0" encoding="UTF-8" ?>\n'
            b'<!DOCTYPE HOST_LIST_OUTPUT SYSTEM "https://qualysapi.example.test/api/2.0/fo/'
            b'asset/host/host_list_output.dtd">\n'
            b"<!-- This report was generated with an evaluation version of Qualys //-->\n"
            b"<HOST_LIST_OUTPUT>\n  <RESPONSE>\n    <DATETIME>2026-11-30T08:00:00Z</DATETIME>\n"
            b"    <HOST_LIST>\n"
        )
        batch: list[str] = []
        for index in range(1, count + 1):
            batch.append(
                f"      <HOST>\n        <ID>{100000 + index}</ID>\n"
                f"        <IP>{host_address(index)}</IP>\n"
                f"        <TRACKING_METHOD>IP</TRACKING_METHOD>\n"
                f"        <DNS><![CDATA[host-{index}.example.test]]></DNS>\n"
                f"        <NETBIOS><![CDATA[HOST-{index}]]></NETBIOS>\n"
                f"        <OS><![CDATA[Linux 5.{index % 20}]]></OS>\n"
                f"        <LAST_VULN_SCAN_DATETIME>2026-11-{1 + index % 28:02d}"
                f"T0{index % 10}:15:00Z</LAST_VULN_SCAN_DATETIME>\n      </HOST>\n"
            )
            if len(batch) == 10_000:
                output.write("".join(batch).encode())
                batch.clear()
        output.write("".join(batch).encode())
        output.write(
            b"    </HOST_LIST>\n  </RESPONSE>\n</HOST_LIST_OUTPUT>\n"
            b"<!-- CONFIDENTIAL AND PROPRIETARY INFORMATION. Example trailer. //-->\n"
        )


def ip_entry(index: int) -> str:
    """Return one IP or IP_RANGE element; every tenth range overlaps the next entry."""
    if index < 800_000:
        start = TEN + index * 16
    else:
        start = ONE_SEVENTY_TWO + (index - 800_000) * 4
    if index % 2:
        return f"<IP>{ipv4(start)}</IP>"
    end = start + (20 if index % 10 == 0 else 2)
    attribute = ' network_id="0"' if index % 7 == 0 else ""
    return f"<IP_RANGE{attribute}>{ipv4(start)}-{ipv4(end)}</IP_RANGE>"


def write_ip_list(path: Path, count: int) -> None:
    with path.open("wb") as output:
        output.write(
            b'<?xml version="1.0" encoding="UTF-8" ?>\n'
            b'<!DOCTYPE IP_LIST_OUTPUT SYSTEM "https://qualysapi.example.test/api/2.0/fo/'
            b'asset/ip/ip_list_output.dtd">\n'
            b"<IP_LIST_OUTPUT>\n  <RESPONSE>\n    <DATETIME>2026-11-30T08:00:00Z</DATETIME>\n"
            b"    <IP_SET>\n"
        )
        for first in range(0, count, 10_000):
            lines = (ip_entry(index) for index in range(first, min(first + 10_000, count)))
            output.write(("".join(f"      {line}\n" for line in lines)).encode())
        output.write(b"    </IP_SET>\n  </RESPONSE>\n</IP_LIST_OUTPUT>\n")


# Parsers (each runs in its own subprocess) ---------------------------------------


def file_client(path: Path):
    """Return a QualysClient whose every call reads ``path`` instead of the network."""
    import requests
    from requests.structures import CaseInsensitiveDict

    from integrations.qualys import QualysClient

    client = QualysClient("https://qualysapi.example.test", "bench", "bench")

    def send(method: str, url_path: str, params: object) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.headers = CaseInsensitiveDict({"Content-Type": "application/xml"})
        response.raw = io.FileIO(path, "r")
        return response

    client._transport._send = send  # type: ignore[method-assign]
    return client


def hosts_client(path: Path) -> tuple[int, int]:
    client = file_client(path)
    count = checksum = 0
    for host in client.iter_scanned_hosts(page_size=0):
        count += 1
        checksum += len(host.ip or "")
    return count, checksum


def hosts_lxml_floor(path: Path) -> tuple[int, int]:
    from lxml import etree

    count = checksum = 0
    for _, element in etree.iterparse(str(path), tag="HOST", resolve_entities=False):
        fields = {child.tag: child.text for child in element}
        record = tuple(fields.get(field) for field in HOST_FIELDS)
        count += 1
        checksum += len(record[1] or "")
        element.clear()
        parent = element.getparent()
        while element.getprevious() is not None:
            del parent[0]
    return count, checksum


def hosts_xmltodict(path: Path) -> tuple[int, int]:
    import xmltodict

    document = xmltodict.parse(path.read_bytes())
    hosts = document["HOST_LIST_OUTPUT"]["RESPONSE"]["HOST_LIST"]["HOST"]
    if isinstance(hosts, dict):
        hosts = [hosts]
    count = checksum = 0
    for host in hosts:
        record = tuple(host.get(field) for field in HOST_FIELDS)
        count += 1
        checksum += len(record[1] or "")
    return count, checksum


def hosts_qualysdk(path: Path) -> tuple[int, int]:
    from qualysdk.base.xml_parser import xml_parser
    from qualysdk.vmdr.data_classes.hosts import VMDRHost

    document = xml_parser(path.read_bytes())
    hosts = document["HOST_LIST_OUTPUT"]["RESPONSE"]["HOST_LIST"]["HOST"]
    if isinstance(hosts, dict):
        hosts = [hosts]
    count = checksum = 0
    for host in hosts:
        record = VMDRHost.from_dict(host)
        count += 1
        checksum += len(str(record.IP or ""))
    return count, checksum


def ips_client(path: Path) -> tuple[int, int]:
    result = file_client(path).list_subscription()
    return len(result.ips.v4) + len(result.ips.v6), result.ips.size


def ips_lxml_floor(path: Path) -> tuple[int, int]:
    from lxml import etree

    texts: list[str] = []
    for _, element in etree.iterparse(str(path), tag=("IP", "IP_RANGE"), resolve_entities=False):
        texts.append(element.text or "")
        element.clear()
        parent = element.getparent()
        while element.getprevious() is not None:
            del parent[0]
    return len(texts), sum(len(text) for text in texts)


def ips_xmltodict(path: Path) -> tuple[int, int]:
    import xmltodict

    ip_set = xmltodict.parse(path.read_bytes())["IP_LIST_OUTPUT"]["RESPONSE"]["IP_SET"]
    texts = []
    for key in ("IP", "IP_RANGE"):
        values = ip_set.get(key, [])
        for value in values if isinstance(values, list) else [values]:
            texts.append(value["#text"] if isinstance(value, dict) else value)
    return len(texts), sum(len(text) for text in texts)


def ips_qualysdk(path: Path) -> tuple[int, int]:
    from qualysdk.base.xml_parser import xml_parser
    from qualysdk.vmdr.data_classes.ip_converters import convert_ips, convert_ranges

    data = xml_parser(path.read_bytes())["IP_LIST_OUTPUT"]["RESPONSE"]["IP_SET"]
    converted = []
    for key, convert in (("IP", convert_ips), ("IP_RANGE", convert_ranges)):
        values = data.get(key, [])
        values = values if isinstance(values, list) else [values]
        texts = [value["#text"] if isinstance(value, dict) else value for value in values]
        converted.extend(convert(texts))
    # Its range conversion keeps only the first CIDR block of each range.
    return len(converted), sum(getattr(item, "num_addresses", 1) for item in converted)


RUNNERS: dict[tuple[str, str], Callable[[Path], tuple[int, int]]] = {
    ("hosts", "client"): hosts_client,
    ("hosts", "lxml-floor"): hosts_lxml_floor,
    ("hosts", "xmltodict"): hosts_xmltodict,
    ("hosts", "qualysdk"): hosts_qualysdk,
    ("ips", "client"): ips_client,
    ("ips", "lxml-floor"): ips_lxml_floor,
    ("ips", "xmltodict"): ips_xmltodict,
    ("ips", "qualysdk"): ips_qualysdk,
}


# Modules each parser needs, imported before the clock starts.
IMPORTS = {
    "client": ("requests", "integrations.qualys"),
    "lxml-floor": ("lxml.etree",),
    "xmltodict": ("xmltodict",),
    "qualysdk": (
        "qualysdk.base.xml_parser",
        "qualysdk.vmdr.data_classes.hosts",
        "qualysdk.vmdr.data_classes.ip_converters",
    ),
}


def run_one(kind: str, parser: str, path: Path) -> dict[str, object]:
    """Parse one file in this process and return its figures."""
    runner = RUNNERS[(kind, parser)]
    for module in IMPORTS[parser]:
        importlib.import_module(module)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    count, checksum = runner(path)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "peak_mib": after.ru_maxrss / 1024,
        "count": count,
        "checksum": checksum,
    }


# Driver ---------------------------------------------------------------------------


def measure(kind: str, parser: str, path: Path, timeout: float) -> dict[str, object]:
    command = [sys.executable, "-m", "benchmarks.parse_qualys", "--child", kind, parser, str(path)]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s"}
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": last[:200]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def cpu_model() -> str:
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return platform.processor() or "unknown"
    for line in output.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def format_row(
    kind: str,
    parser: str,
    result: dict[str, object],
    floor: dict[str, object],
    client: dict[str, object],
) -> str:
    """Format one table row; ratios use the floor's and the client's figures from the same run."""
    if "error" in result:
        return f"| {kind} | {parser} | failed: {result['error']} | | | | | | |"
    seconds, cpu = float(result["seconds"]), float(result["cpu"])
    wall_ratio = seconds / float(floor["seconds"]) if "seconds" in floor else float("nan")
    cpu_ratio = cpu / float(floor["cpu"]) if "cpu" in floor else float("nan")
    client_faster = ""
    if parser != "client" and "cpu" in client:
        client_faster = f"{cpu / float(client['cpu']):.1f}x"
    return (
        f"| {kind} | {parser} | {seconds:.2f} | {wall_ratio:.2f}x | {cpu:.2f} | {cpu_ratio:.2f}x "
        f"| {client_faster} | {float(result['peak_mib']):.0f} "
        f"| {result['count']:,} / {result['checksum']:,} |"
    )


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--hosts", type=int, default=500_000, help="hosts in the host list")
    arguments.add_argument("--ips", type=int, default=1_000_000, help="entries in the IP list")
    arguments.add_argument(
        "--repeat", type=int, default=1, help="runs per parser; the one with least CPU is kept"
    )
    arguments.add_argument(
        "--parsers", default=",".join(PARSERS), help=f"comma list of {', '.join(PARSERS)}"
    )
    arguments.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    arguments.add_argument(
        "--child", nargs=3, metavar=("KIND", "PARSER", "FILE"), help=argparse.SUPPRESS
    )
    options = arguments.parse_args()

    if options.child:
        kind, parser, file = options.child
        print(json.dumps(run_one(kind, parser, Path(file))))
        return

    parsers = [name.strip() for name in options.parsers.split(",") if name.strip()]
    with tempfile.TemporaryDirectory(prefix="qualys-parse-bench-") as folder:
        files = {"hosts": Path(folder) / "host_list.xml", "ips": Path(folder) / "ip_list.xml"}
        write_host_list(files["hosts"], options.hosts)
        write_ip_list(files["ips"], options.ips)
        print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
        for kind, path in files.items():
            print(f"{kind}: {path.stat().st_size / 1e6:.1f} MB")
        print(
            "| file | parser | wall s | wall vs floor | CPU s | CPU vs floor "
            "| client faster by (CPU) | peak RSS MiB | records / checksum |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for kind, path in files.items():
            results: dict[str, dict[str, object]] = {}
            for parser in parsers:
                runs = [measure(kind, parser, path, options.timeout) for _ in range(options.repeat)]
                good = [run for run in runs if "error" not in run]
                results[parser] = min(good, key=lambda run: run["cpu"]) if good else runs[0]
            floor = results.get("lxml-floor", {})
            client = results.get("client", {})
            for parser in parsers:
                print(format_row(kind, parser, results[parser], floor, client), flush=True)


if __name__ == "__main__":
    main()
