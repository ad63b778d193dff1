"""The emulator's state: load from JSON, validate, hold in memory, write back atomically.

Hosts are kept sorted by ID in compact slotted objects with a parallel list
of IDs, so a page starting at ``id_min`` is found with ``bisect`` and a state
of several hundred thousand hosts loads in seconds. Hosts never change
through the API, so their JSON text is built once on the first save and
reused on later saves.
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import json
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumeta_qualys.ipset import EMPTY, AddressError, IPSet, parse_range

from .faults import Fault, FaultError, parse_fault

DEFAULT_LIMITS: dict[str, Any] = {"calls_per_window": 300, "window_seconds": 3600, "concurrency": 2}

DEFAULT_STATE: dict[str, Any] = {
    "users": {"apiuser": "a-password"},
    "subscription": {"ips": [], "licence_limit": None},
    "hosts": [],
    "asset_groups": [],
    "limits": DEFAULT_LIMITS,
    "ipv6_enabled": False,
    "ipv6_mappings": [],
    "faults": [],
    "write_log": [],
}

HOST_FIELDS = (
    "id",
    "ip",
    "ipv6",
    "dns",
    "netbios",
    "os",
    "tracking_method",
    "network_id",
    "last_vuln_scan",
    "last_compliance_scan",
    "owner",
)
TRACKING_METHODS = {"IP", "DNS", "NETBIOS", "EC2", "AGENT", "QAGENT", "GCP", "AZURE"}
TITLE_MAX_LENGTH = 255


def ipv4_value(text: object) -> int | None:
    """Return the integer of a canonical dotted-quad IPv4 address, or None.

    A fast path for loading large states: ``inet_pton`` parses in C, and the
    round trip through ``inet_ntop`` rejects non-canonical spellings such as
    leading zeros, which then get the slower, precise error from ``ipaddress``.
    """
    if not isinstance(text, str):
        return None
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except OSError:
        return None
    if socket.inet_ntop(socket.AF_INET, packed) != text:
        return None
    return int.from_bytes(packed, "big")


def fast_tokens(ips: IPSet) -> Iterator[str]:
    """Yield the same tokens as ``IPSet.qualys_tokens``, formatting IPv4 in C."""
    for start, end in ips.v4:
        first = socket.inet_ntop(socket.AF_INET, start.to_bytes(4, "big"))
        if start == end:
            yield first
        else:
            yield first + "-" + socket.inet_ntop(socket.AF_INET, end.to_bytes(4, "big"))
    yield from IPSet((), ips.v6).qualys_tokens()


def parse_token(token: str) -> tuple[int, int, int]:
    """Parse an IP, range or CIDR like ``parse_range``, with a fast path for IPv4."""
    first, separator, last = token.partition("-")
    start = ipv4_value(first)
    if start is not None:
        end = ipv4_value(last) if separator else start
        if end is not None and end >= start:
            return 4, start, end
    return parse_range(token)


class StateError(ValueError):
    """The state file is missing, unreadable or contains an invalid value."""


@dataclass(slots=True)
class Host:
    """One scanned host of the host list."""

    id: int
    ip: str
    ip_value: int
    ipv6: str | None = None
    dns: str | None = None
    netbios: str | None = None
    os: str | None = None
    tracking_method: str = "IP"
    network_id: int | None = None
    last_vuln_scan: str | None = None
    last_compliance_scan: str | None = None
    owner: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "ip": self.ip}
        for name in HOST_FIELDS[2:]:
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


@dataclass
class AssetGroup:
    """One asset group: an ID, a unique title and a set of subscribed IPs."""

    id: int
    title: str
    ips: IPSet = EMPTY
    comments: str | None = None
    business_impact: str = "High"
    last_update: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "ips": list(self.ips.qualys_tokens()),
            "business_impact": self.business_impact,
            "last_update": self.last_update,
        }
        if self.comments is not None:
            data["comments"] = self.comments
        return data


@dataclass
class Mapping:
    """One IPv6 mapping record: a placeholder IPv4 address standing for an IPv6 one."""

    id: int
    v4: str
    v6: str


@dataclass
class EmulatorState:
    """The data every reply is built from, guarded by one lock for writes."""

    path: Path | None
    users: dict[str, str]
    subscription: IPSet
    licence_limit: int | None
    hosts: list[Host]
    host_ids: list[int]
    asset_groups: dict[int, AssetGroup]
    limits: dict[str, Any]
    ipv6_enabled: bool
    mappings: list[Mapping]
    faults: list[Fault]
    write_log: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)
    missing_keys: set[str] = field(default_factory=set)
    needs_initial_save: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)
    _hosts_json: list[str] | None = None

    # Queries ---------------------------------------------------------------

    def group_by_title(self, title: str) -> AssetGroup | None:
        for group in self.asset_groups.values():
            if group.title == title:
                return group
        return None

    def next_group_id(self) -> int:
        return max(self.asset_groups, default=0) + 1

    def subscription_size(self) -> int:
        return self.subscription.size

    # Changes ------------------------------------------------------------------

    def log_write(self, action: str, params: dict[str, str], user: str) -> None:
        """Append an accepted write call to the write log (the caller saves)."""
        self.write_log.append(
            {
                "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "action": action,
                "user": user,
                "params": dict(params),
            }
        )

    def json_pieces(self) -> Iterator[str]:
        """Yield the whole state as JSON text: one top-level key per line, hosts last."""
        data = {
            "users": self.users,
            "subscription": {
                "ips": list(fast_tokens(self.subscription)),
                "licence_limit": self.licence_limit,
            },
            "asset_groups": [group.to_json() for group in self.asset_groups.values()],
            "limits": self.limits,
            "ipv6_enabled": self.ipv6_enabled,
            "ipv6_mappings": [{"id": m.id, "v4": m.v4, "v6": m.v6} for m in self.mappings],
            "faults": [fault.to_json() for fault in self.faults],
            **self.extra,
            "write_log": self.write_log,
        }
        # No indent inside values: json.dumps only uses its fast C encoder
        # without indent, and states can be large.
        yield "{\n"
        for key, value in data.items():
            yield f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n"
        if self._hosts_json is None:
            self._hosts_json = _hosts_json_batches(self.hosts)
        yield '"hosts": ['
        for index, batch in enumerate(self._hosts_json):
            if index:
                yield ",\n"
            yield batch
        yield "]\n}\n"

    def save(self) -> None:
        """Write the state to its file atomically: a temporary file, then a rename."""
        if self.path is None:
            return
        with self.lock:
            handle, temporary = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
            try:
                # No fsync: the rename makes the swap atomic for readers and
                # for a crash of this process, which is what tests rely on.
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    for piece in self.json_pieces():
                        stream.write(piece)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise


def _hosts_json_batches(hosts: list[Host], batch: int = 10_000) -> list[str]:
    """Encode hosts as JSON list items, one string per batch of hosts.

    One C-encoder call per batch keeps encoding fast and the transient
    memory small; the strings are kept because hosts never change.
    """
    parts = []
    for start in range(0, len(hosts), batch):
        chunk = [host.to_json() for host in hosts[start : start + batch]]
        parts.append(json.dumps(chunk, ensure_ascii=False)[1:-1])
    return parts


# Loading -------------------------------------------------------------------------


def load_state(path: Path | None) -> EmulatorState:
    """Read and validate a state file; a missing file starts from the defaults.

    Raises StateError with the file name and the offending key and value.
    """
    raw: dict[str, Any] = {}
    if path is not None and path.exists():
        try:
            with path.open(encoding="utf-8") as stream:
                raw = json.load(stream)
        except json.JSONDecodeError as error:
            raise StateError(
                f"{path}: line {error.lineno} column {error.colno}: invalid JSON ({error.msg}). "
                "Fix the file or delete it to start from the default state."
            ) from None
        except OSError as error:
            raise StateError(f"{path}: cannot read the state file: {error.strerror}") from None
        if not isinstance(raw, dict):
            raise StateError(f"{path}: the state must be a JSON object, not {type(raw).__name__}")
    return build_state(raw, path)


def build_state(raw: dict[str, Any], path: Path | None = None) -> EmulatorState:
    """Build a validated state from a decoded JSON object; missing keys get defaults."""
    where = str(path) if path is not None else "state"
    data = copy.copy(DEFAULT_STATE)
    data.update(raw)
    known = set(DEFAULT_STATE)
    extra = {key: value for key, value in raw.items() if key not in known}

    users = _users(data["users"], where)
    subscription_raw = data["subscription"] or {}
    if not isinstance(subscription_raw, dict):
        raise StateError(f"{where}: subscription must be an object with 'ips' and 'licence_limit'")
    subscription = _ip_set(subscription_raw.get("ips") or [], f"{where}: subscription.ips")
    licence_limit = subscription_raw.get("licence_limit")
    if licence_limit is not None and (
        not isinstance(licence_limit, int) or isinstance(licence_limit, bool) or licence_limit < 0
    ):
        raise StateError(
            f"{where}: subscription.licence_limit must be null or a whole number >= 0, "
            f"not {licence_limit!r}"
        )

    hosts = _hosts(data["hosts"], where)
    groups = _groups(data["asset_groups"], where)
    limits = _limits(data["limits"], where)
    mappings = _mappings(data["ipv6_mappings"], where)
    faults = []
    for index, item in enumerate(data["faults"] or []):
        try:
            faults.append(parse_fault(item))
        except FaultError as error:
            raise StateError(f"{where}: faults[{index}]: {error}") from None
    write_log = data["write_log"] or []
    if not isinstance(write_log, list):
        raise StateError(f"{where}: write_log must be a list")

    return EmulatorState(
        path=path,
        users=users,
        subscription=subscription,
        licence_limit=licence_limit,
        hosts=hosts,
        host_ids=[host.id for host in hosts],
        asset_groups={group.id: group for group in groups},
        limits=limits,
        ipv6_enabled=bool(data["ipv6_enabled"]),
        mappings=mappings,
        faults=faults,
        write_log=list(write_log),
        extra=extra,
        missing_keys=set(DEFAULT_STATE) - set(raw),
    )


def _users(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise StateError(f"{where}: users must be an object of user name to password strings")
    return dict(value)


def _ip_set(tokens: Any, where: str) -> IPSet:
    if isinstance(tokens, str) or not isinstance(tokens, list):
        raise StateError(f"{where}: expected a list of IPs and ranges, got {tokens!r}")
    ranges = []
    for index, token in enumerate(tokens):
        try:
            ranges.append(parse_token(str(token)))
        except AddressError as error:
            raise StateError(f"{where}[{index}]: {error}") from None
    return IPSet.from_ranges(ranges)


TEXT_FIELDS = ("dns", "netbios", "os", "last_vuln_scan", "last_compliance_scan", "owner")
INTERNED_FIELDS = {"os", "last_vuln_scan", "owner"}


def _host(item: Any, place: str, seen: set[int]) -> Host:
    if not isinstance(item, dict):
        raise StateError(f"{place}: each host must be an object")
    host_id = item.get("id")
    if type(host_id) is not int or host_id <= 0:
        raise StateError(f"{place}: id must be a positive whole number, not {host_id!r}")
    if host_id in seen:
        raise StateError(f"{place}: id {host_id} is used by another host")
    seen.add(host_id)

    ip_text = item.get("ip")
    ip_value = ipv4_value(ip_text)
    if ip_value is None:
        try:
            ip_value = int(ipaddress.IPv4Address(ip_text))
        except (ValueError, TypeError):
            raise StateError(f"{place}: ip must be an IPv4 address, not {ip_text!r}") from None
        ip_text = str(ipaddress.IPv4Address(ip_value))

    texts: dict[str, str | None] = {}
    for name in TEXT_FIELDS:
        value = item.get(name)
        if value is not None and not isinstance(value, str):
            raise StateError(f"{place}: {name} must be a string, not {value!r}")
        texts[name] = sys.intern(value) if value is not None and name in INTERNED_FIELDS else value

    ipv6 = item.get("ipv6")
    if ipv6 is not None:
        try:
            ipv6 = str(ipaddress.IPv6Address(ipv6))
        except ValueError:
            raise StateError(f"{place}: ipv6 must be an IPv6 address, not {ipv6!r}") from None
    tracking = item.get("tracking_method", "IP")
    if tracking not in TRACKING_METHODS:
        raise StateError(
            f"{place}: tracking_method {tracking!r} is not one of {sorted(TRACKING_METHODS)}"
        )
    network_id = item.get("network_id")
    if network_id is not None and (type(network_id) is not int or network_id < 0):
        raise StateError(f"{place}: network_id must be a whole number >= 0, not {network_id!r}")
    return Host(
        host_id,
        ip_text,
        ip_value,
        ipv6,
        texts["dns"],
        texts["netbios"],
        texts["os"],
        sys.intern(tracking),
        network_id,
        texts["last_vuln_scan"],
        texts["last_compliance_scan"],
        texts["owner"],
    )


def _hosts(items: Any, where: str) -> list[Host]:
    if not isinstance(items, list):
        raise StateError(f"{where}: hosts must be a list")
    seen: set[int] = set()
    hosts = []
    for index, item in enumerate(items):
        hosts.append(_host(item, f"{where}: hosts[{index}]", seen))
        # Drop the decoded dict at once, so a large state is not held twice.
        items[index] = None
    hosts.sort(key=lambda host: host.id)
    return hosts


def _groups(items: Any, where: str) -> list[AssetGroup]:
    if not isinstance(items, list):
        raise StateError(f"{where}: asset_groups must be a list")
    groups: list[AssetGroup] = []
    ids: set[int] = set()
    titles: set[str] = set()
    for index, item in enumerate(items):
        place = f"{where}: asset_groups[{index}]"
        if not isinstance(item, dict):
            raise StateError(f"{place}: each asset group must be an object")
        group_id = item.get("id")
        if not isinstance(group_id, int) or isinstance(group_id, bool) or group_id <= 0:
            raise StateError(f"{place}: id must be a positive whole number, not {group_id!r}")
        title = item.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX_LENGTH:
            raise StateError(f"{place}: title must be a non-empty string of at most 255 characters")
        if group_id in ids or title in titles:
            raise StateError(f"{place}: id {group_id} or title {title!r} is used twice")
        ids.add(group_id)
        titles.add(title)
        groups.append(
            AssetGroup(
                id=group_id,
                title=title,
                ips=_ip_set(item.get("ips") or [], f"{place}.ips"),
                comments=item.get("comments"),
                business_impact=item.get("business_impact", "High"),
                last_update=item.get("last_update") or "",
            )
        )
    return groups


def _limits(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StateError(f"{where}: limits must be an object")
    limits = {**DEFAULT_LIMITS, **value}
    for key in DEFAULT_LIMITS:
        number = limits[key]
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise StateError(f"{where}: limits.{key} must be a whole number >= 1, not {number!r}")
    per_endpoint = limits.get("per_endpoint", {})
    if not isinstance(per_endpoint, dict):
        raise StateError(f"{where}: limits.per_endpoint must be an object of endpoint to limits")
    return limits


def _mappings(items: Any, where: str) -> list[Mapping]:
    if not isinstance(items, list):
        raise StateError(f"{where}: ipv6_mappings must be a list")
    mappings: list[Mapping] = []
    for index, item in enumerate(items):
        place = f"{where}: ipv6_mappings[{index}]"
        try:
            v4 = str(ipaddress.IPv4Address(item["v4"]))
            v6 = str(ipaddress.IPv6Address(item["v6"]))
        except (KeyError, TypeError, ValueError):
            raise StateError(
                f"{place}: each mapping needs 'v4' (an IPv4 placeholder) and 'v6' (an IPv6 address)"
            ) from None
        mappings.append(Mapping(id=int(item.get("id") or index + 1), v4=v4, v6=v6))
    return mappings
