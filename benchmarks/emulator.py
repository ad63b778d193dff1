"""Start-up time, memory and paging speed of the Qualys API emulator at benchmark size.

Run with ``python -m benchmarks.emulator`` (``--hosts`` and ``--ranges`` change
the size). It writes a state of 500,000 scanned hosts and 200,000 subscription
ranges to a temporary folder, starts ``manage.py qualys_emulator`` as a
subprocess, and measures:

- the time until the emulator prints its URL (loading and validating the state);
- reading every host with ``details=Basic`` at ``truncation_limit=100000``;
- reading the subscription IP list;
- two IP add calls (each rewrites the state file);
- the emulator's peak resident memory (``VmHWM`` from ``/proc``).

Addresses are data in 10.0.0.0/8 only; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BASE = 10 << 24
NEXT_URL = re.compile(rb"<URL><!\[CDATA\[(.*?)\]\]></URL>")


def dotted(value: int) -> str:
    return ".".join(str(value >> shift & 255) for shift in (24, 16, 8, 0))


def write_state(path: Path, hosts: int, ranges: int) -> None:
    """Write hosts on every other address and ranges of 10 addresses every 16."""
    data = {
        "users": {"apiuser": "a-password"},
        "limits": {"calls_per_window": 100_000, "window_seconds": 3600, "concurrency": 2},
        "subscription": {
            "ips": [f"{dotted(BASE + i * 16)}-{dotted(BASE + i * 16 + 9)}" for i in range(ranges)]
        },
        "hosts": [
            {
                "id": 1000 + i,
                "ip": dotted(BASE + 2 * i + 1),
                "dns": f"host{i}.example.test",
                "netbios": f"HOST{i}",
                "os": "Linux 5.x",
                "tracking_method": "IP",
                "last_vuln_scan": "2026-11-30T02:00:00Z",
            }
            for i in range(hosts)
        ],
    }
    path.write_text(json.dumps(data), encoding="utf-8")


def peak_memory_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=500_000)
    parser.add_argument("--ranges", type=int, default=200_000)
    parser.add_argument("--page", type=int, default=100_000)
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-emulator-"))
    state = workdir / "state.json"
    started = time.perf_counter()
    write_state(state, options.hosts, options.ranges)
    print(
        f"state file: {state.stat().st_size / 2**20:.0f} MiB written in "
        f"{time.perf_counter() - started:.1f} s"
    )

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        str(ROOT / "manage.py"),
        "qualys_emulator",
        "--port",
        "0",
        "--state",
        str(state),
        "--cert",
        str(workdir / "cert.pem"),
        "--quiet",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        print(f"start-up until URL printed: {time.perf_counter() - started:.1f} s")

        session = requests.Session()
        session.trust_env = False
        session.verify = str(workdir / "cert.pem")
        session.auth = ("apiuser", "a-password")
        session.headers["X-Requested-With"] = "benchmark"

        started = time.perf_counter()
        next_url: str | None = f"{url}/api/2.0/fo/asset/host/"
        params: dict[str, str] | None = {
            "action": "list",
            "details": "Basic",
            "truncation_limit": str(options.page),
        }
        pages = size = hosts = 0
        while next_url:
            response = session.get(next_url, params=params, timeout=600)
            response.raise_for_status()
            params = None
            pages += 1
            size += len(response.content)
            hosts += response.content.count(b"<HOST>")
            match = NEXT_URL.search(response.content)
            next_url = match.group(1).decode() if match else None
        elapsed = time.perf_counter() - started
        print(
            f"host list: {hosts:,} hosts in {pages} pages, {size / 2**20:.0f} MiB, "
            f"{elapsed:.1f} s ({hosts / elapsed:,.0f} hosts/s)"
        )

        started = time.perf_counter()
        response = session.get(
            f"{url}/api/2.0/fo/asset/ip/", params={"action": "list"}, timeout=600
        )
        print(
            f"IP list: {response.content.count(b'<IP'):,} entries, "
            f"{len(response.content) / 2**20:.1f} MiB, {time.perf_counter() - started:.1f} s"
        )

        for block in ("172.16.0.1-172.16.0.255", "172.16.1.1-172.16.1.255"):
            started = time.perf_counter()
            response = session.post(
                f"{url}/api/2.0/fo/asset/ip/",
                data={"action": "add", "ips": block, "enable_vm": "1"},
                timeout=600,
            )
            response.raise_for_status()
            print(f"IP add (state file rewritten): {time.perf_counter() - started:.1f} s")

        print(f"emulator peak memory: {peak_memory_mib(process.pid):.0f} MiB")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


if __name__ == "__main__":
    main()
