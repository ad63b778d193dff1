"""Demo data: a Qualys subscription for the emulator and a matching discovery scan.

Everything is generated from a fixed seed, so the emulator's state file and
the nmap file agree however often they are generated. Addresses come from
documentation ranges, 10.0.0.0/8 and 198.18.0.0/15, and are only ever data.

The demo is built to show every part of the dashboard:

- the subscription mixes single addresses, small ranges and one /16, plus an
  IPv6 placeholder with its mapping record;
- most scanned hosts lie in the subscription, some lie outside it (odd vendor
  data, "unmanaged by Lumeta" when not indexed), one is an IPv6 host;
- the discovery scan shares hosts with both, has subscribed hosts that were
  never scanned (the asset group) and hosts outside the subscription
  (unmanaged by Qualys), among them an IPv6 address that cannot be pushed.
"""

from __future__ import annotations

import ipaddress
import json
import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

SEED = 20261204
DEMO_USER = "apiuser"
MARKER = "lumeta-qualys demo"

LARGE_RANGE = ("10.20.0.0", "10.20.255.255")
SUBSCRIPTION = [
    "192.0.2.1",
    "192.0.2.5",
    "192.0.2.10-192.0.2.60",
    "198.51.100.7",
    "198.51.100.100-198.51.100.199",
    "203.0.113.0-203.0.113.127",
    f"{LARGE_RANGE[0]}-{LARGE_RANGE[1]}",
    "0.0.0.1",
]
IPV6_MAPPINGS = [{"id": 1, "v4": "0.0.0.1", "v6": "2001:db8::10"}]
OTHER_GROUP = {"id": 100, "title": "Data center servers", "ips": ["192.0.2.10-192.0.2.20"]}

OS_NAMES = [
    "Linux 5.15",
    "Ubuntu 22.04",
    "Red Hat Enterprise Linux 9",
    "Windows Server 2019",
    "Windows Server 2022",
    "Windows 11",
    "Cisco IOS 15",
    "FreeBSD 13",
]


@dataclass
class DemoData:
    """The generated demo: the emulator state and the hosts of the discovery scan."""

    state: dict[str, Any]
    discovered: list[dict[str, Any]] = field(default_factory=list)


def _address(value: int) -> str:
    return str(ipaddress.ip_address(value))


def _range(start: str, end: str) -> list[str]:
    first, last = int(ipaddress.ip_address(start)), int(ipaddress.ip_address(end))
    return [_address(value) for value in range(first, last + 1)]


def generate(*, scanned: int = 400, seed: int = SEED, password: str | None = None) -> DemoData:
    """Generate the demo subscription, scanned hosts and discovered hosts."""
    rng = random.Random(seed)
    now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    large = _range(*LARGE_RANGE)

    # Scanned hosts: most in the /16 and the small ranges, a few outside the subscription.
    in_subscription = rng.sample(large, scanned - 40) + _range("192.0.2.30", "192.0.2.49")
    outside = _range("203.0.113.200", "203.0.113.216") + ["198.51.100.50", "198.51.100.51"]
    scanned_addresses = sorted(
        set(in_subscription + outside), key=lambda text: int(ipaddress.ip_address(text))
    )
    hosts = []
    for number, address in enumerate(scanned_addresses, start=1):
        hosts.append(_scanned_host(rng, 1000 + number, address, now))
    hosts.append(
        {
            "id": 1000 + len(scanned_addresses) + 1,
            "ip": "0.0.0.1",
            "ipv6": "2001:db8::10",
            "dns": "ipv6-gateway.example.test",
            "os": "Linux 6.1",
            "tracking_method": "IP",
            "last_vuln_scan": _stamp(now - timedelta(days=2)),
        }
    )

    # Discovered hosts: half of the scanned ones, subscribed hosts never scanned,
    # and hosts outside the subscription.
    scanned_set = set(scanned_addresses)
    discovered = rng.sample(in_subscription, len(in_subscription) // 2) + outside[:10]
    never_scanned = [a for a in rng.sample(large, 600) if a not in scanned_set][:300]
    discovered += never_scanned + _range("192.0.2.50", "192.0.2.60")
    discovered += [_address(int(ipaddress.ip_address("198.18.0.0")) + i * 7) for i in range(150)]
    discovered += ["2001:db8::10", "2001:db8::20", "2001:db8::21"]
    records = [_discovered_host(rng, address) for address in sorted(set(discovered), key=_sort_key)]

    state = {
        "demo": MARKER,
        "users": {DEMO_USER: password or secrets.token_urlsafe(12)},
        "subscription": {"ips": list(SUBSCRIPTION), "licence_limit": None},
        "ipv6_enabled": True,
        "ipv6_mappings": list(IPV6_MAPPINGS),
        "hosts": hosts,
        "asset_groups": [dict(OTHER_GROUP)],
    }
    return DemoData(state=state, discovered=records)


def _sort_key(text: str) -> tuple[int, int]:
    address = ipaddress.ip_address(text)
    return address.version, int(address)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scanned_host(rng: random.Random, number: int, address: str, now: datetime) -> dict[str, Any]:
    name = f"host-{address.replace('.', '-')}"
    host: dict[str, Any] = {
        "id": number,
        "ip": address,
        "tracking_method": rng.choice(["IP", "IP", "IP", "DNS", "AGENT"]),
        "os": rng.choice(OS_NAMES),
        "last_vuln_scan": _stamp(now - timedelta(hours=rng.randint(1, 24 * 30))),
    }
    if rng.random() < 0.8:
        host["dns"] = f"{name}.example.test"
    if rng.random() < 0.4:
        host["netbios"] = name.upper()[:15]
    return host


def _discovered_host(rng: random.Random, address: str) -> dict[str, Any]:
    version = ipaddress.ip_address(address).version
    mac = f"00:00:5e:00:53:{rng.randint(0, 255):02x}" if version == 4 else ""
    return {
        "address": address,
        "version": version,
        "hostname": f"lumeta-{address.replace('.', '-').replace(':', '-')}.example.test",
        "mac": mac,
        "os": rng.choice(OS_NAMES),
    }


def write_state(path: Path, data: DemoData) -> None:
    """Write the emulator's state file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data.state, indent=1), encoding="utf-8")


def read_state(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def is_demo_state(path: Path) -> bool:
    """Return whether ``path`` contains a state file written by this module."""
    try:
        return read_state(path).get("demo") == MARKER
    except (OSError, ValueError):
        return False


def write_nmap(path: Path, hosts: list[dict[str, Any]]) -> None:
    """Write the discovered hosts as an nmap XML file (a ping scan with OS guesses)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The scan ran ten minutes ago: an older one would be warned of as stale data.
    started = int(datetime.now(UTC).timestamp()) - 600
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n')
        out.write(
            '<nmaprun scanner="nmap" args="nmap -sn -O 192.0.2.0/24 10.20.0.0/16" '
            f'start="{started}" version="7.94" xmloutputversion="1.05">\n'
        )
        for host in hosts:
            kind = "ipv4" if host["version"] == 4 else "ipv6"
            out.write('<host><status state="up" reason="echo-reply"/>\n')
            out.write(f'<address addr="{host["address"]}" addrtype="{kind}"/>\n')
            if host["mac"]:
                out.write(f'<address addr="{host["mac"]}" addrtype="mac" vendor="IANA"/>\n')
            hostname = quoteattr(host["hostname"])
            out.write(f'<hostnames><hostname name={hostname} type="PTR"/></hostnames>\n')
            os_name = quoteattr(host["os"])
            out.write(f'<os><osmatch name={os_name} accuracy="95" line="1"/></os>\n</host>\n')
        out.write(
            f'<runstats><finished time="{started + 600}" elapsed="600" exit="success"/>'
            f'<hosts up="{len(hosts)}" down="0" total="{len(hosts)}"/></runstats>\n</nmaprun>\n'
        )
