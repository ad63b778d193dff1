"""Fixtures for the sync tests: a Qualys subscription behind `responses`, settings and Redis."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integrations.models import QualysSettings
from integrations.services import lock as lock_module
from integrations.services import sync as sync_module
from inventory.models import Host
from lumeta_qualys.ipset import IPSet

from . import qualys_xml as xml
from .qualys_xml import FakeHost

BASE_URL = xml.HOST
LIMIT_HEADERS = {
    "X-RateLimit-Limit": "300",
    "X-RateLimit-Window-Sec": "3600",
    "X-RateLimit-ToWait-Sec": "0",
    "X-Concurrency-Limit-Limit": "2",
    "X-Concurrency-Limit-Running": "0",
}


@dataclass
class Failure:
    """A canned failing reply for the ``nth`` call (1-based) of one kind, or every call from it."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    nth: int = 1
    repeat: bool = False


@dataclass
class Call:
    kind: str
    method: str
    path: str
    params: dict[str, str]


class FakeQualys:
    """A small Qualys subscription served over the `responses` HTTP mock.

    It keeps the subscription, IPv6 mappings, scanned hosts and asset groups,
    applies adds and group edits as Qualys does, pages the host list with
    WARNING 1980, and records every call. ``fail(kind, ...)`` makes a call kind
    answer with a given status and body.
    """

    def __init__(self, mock: responses.RequestsMock):
        self.subscription = IPSet()
        # Entries listed in the IP list as they are, such as values that are no address.
        self.bad_tokens: list[str] = []
        self.mappings: list[tuple[int, str, str]] = []
        self.hosts: list[FakeHost] = []
        self.groups: dict[int, tuple[str, IPSet]] = {}
        self.next_group_id = 5000
        self.calls: list[Call] = []
        self.failures: dict[str, list[Failure]] = {}
        self.counts: dict[str, int] = {}
        # Functions called with the kind of every call, while Qualys "handles" it.
        self.observers: list[Callable[[str], None]] = []
        for method in ("GET", "POST"):
            mock.add_callback(method, re.compile(re.escape(BASE_URL) + r"/api/.*"), self._reply)

    # Setup helpers ---------------------------------------------------------

    def subscribe(self, *tokens: str) -> None:
        self.subscription = self.subscription | IPSet.from_strings(tokens)

    def scan(self, *hosts: FakeHost) -> None:
        self.hosts.extend(hosts)
        self.hosts.sort(key=lambda host: host.id)

    def add_group(self, title: str, *tokens: str) -> int:
        self.next_group_id += 1
        self.groups[self.next_group_id] = (title, IPSet.from_strings(tokens))
        return self.next_group_id

    def fail(
        self,
        kind: str,
        status: int,
        body: bytes,
        *,
        nth: int = 1,
        repeat: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        # ``nth`` counts from now: the nth call of this kind after this one is set up.
        nth += self.counts.get(kind, 0)
        self.failures.setdefault(kind, []).append(Failure(status, body, headers or {}, nth, repeat))

    def calls_of(self, kind: str) -> list[Call]:
        return [call for call in self.calls if call.kind == kind]

    @property
    def writes(self) -> list[Call]:
        return [call for call in self.calls if call.method == "POST"]

    def group_by_title(self, title: str) -> tuple[int, IPSet] | None:
        for number, (group_title, ips) in self.groups.items():
            if group_title == title:
                return number, ips
        return None

    # Dispatch --------------------------------------------------------------

    def _reply(self, request) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(request.url)
        params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if request.body:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            params.update({key: values[-1] for key, values in parse_qs(body).items()})
        path = parts.path
        kind = self._kind(path, params.get("action", ""))
        self.calls.append(Call(kind, request.method, path, params))
        for observer in self.observers:
            observer(kind)
        self.counts[kind] = self.counts.get(kind, 0) + 1

        for failure in self.failures.get(kind, []):
            number = self.counts[kind]
            if number == failure.nth or (failure.repeat and number >= failure.nth):
                return failure.status, failure.headers, failure.body

        handler: Callable[[dict[str, str], str], bytes] = getattr(self, f"_{kind}")
        return 200, {**LIMIT_HEADERS, "Content-Type": "application/xml"}, handler(params, path)

    @staticmethod
    def _kind(path: str, action: str) -> str:
        if path.rstrip("/").endswith("/asset/ip/v4_v6"):
            return "ip_map"
        if path.rstrip("/").endswith("/asset/ip"):
            return "ip_list" if action == "list" else "ip_add"
        if path.rstrip("/").endswith("/asset/group"):
            return f"group_{action}"
        if path.rstrip("/").endswith("/asset/host"):
            return "host_list"
        raise AssertionError(f"unexpected Qualys call {path} action={action}")

    def _ip_list(self, params, path) -> bytes:
        return xml.ip_list([*self.subscription.qualys_tokens(), *self.bad_tokens])

    def _ip_map(self, params, path) -> bytes:
        return xml.ip_map_list(self.mappings)

    def _ip_add(self, params, path) -> bytes:
        assert params.get("enable_vm") == "1"
        added = IPSet.from_strings(params["ips"].split(","))
        assert not added.v6, "IPv6 text was sent to the subscription"
        self.subscription = self.subscription | added
        return xml.simple_return("IPs successfully added to Vulnerability Management")

    def _host_list(self, params, path) -> bytes:
        limit = int(params.get("truncation_limit", "1000"))
        id_min = int(params.get("id_min", "0"))
        remaining = [host for host in self.hosts if host.id >= id_min]
        page = remaining if limit == 0 else remaining[:limit]
        next_url = None
        if limit and len(remaining) > limit:
            next_id = remaining[limit].id
            next_url = (
                f"{BASE_URL}{path}?action=list&details={params.get('details')}"
                f"&truncation_limit={limit}&id_min={next_id}"
            )
        version = "3.0" if "/3.0/" in path else "2.0"
        return xml.host_list(page, next_url=next_url, version=version)

    def _group_list(self, params, path) -> bytes:
        groups = [
            (number, title, list(ips.qualys_tokens()))
            for number, (title, ips) in sorted(self.groups.items())
            if ("title" not in params or params["title"] == title)
            and ("ids" not in params or str(number) in params["ids"].split(","))
        ]
        return xml.asset_group_list(groups)

    def _group_add(self, params, path) -> bytes:
        ips = IPSet.from_strings(params["ips"].split(",")) if params.get("ips") else IPSet()
        self._check_in_subscription(ips)
        number = self.add_group(params["title"])
        self.groups[number] = (params["title"], ips)
        return xml.simple_return("Asset Group successfully added.", items={"ID": str(number)})

    def _group_edit(self, params, path) -> bytes:
        number = int(params["id"])
        title, ips = self.groups[number]
        if "set_ips" in params:
            ips = IPSet.from_strings(params["set_ips"].split(","))
        if "add_ips" in params:
            ips = ips | IPSet.from_strings(params["add_ips"].split(","))
        if "remove_ips" in params:
            ips = ips - IPSet.from_strings(params["remove_ips"].split(","))
        self._check_in_subscription(ips)
        self.groups[number] = (title, ips)
        return xml.simple_return("Asset Group Updated Successfully")

    def _check_in_subscription(self, ips: IPSet) -> None:
        outside = ips - self.subscription
        assert not outside, f"asset group IPs outside the subscription: {outside!r}"


@pytest.fixture
def qualys() -> Iterator[FakeQualys]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeQualys(mock)


@pytest.fixture
def no_sleep(monkeypatch) -> list[float]:
    """Let the client's retries run without waiting; return the delays it asked for."""
    delays: list[float] = []
    real_client = sync_module.QualysClient
    monkeypatch.setattr(
        sync_module, "QualysClient", functools.partial(real_client, sleep=delays.append)
    )
    return delays


@pytest.fixture
def sync_redis(redis_url, settings):
    """Point the sync lock at the test Redis and clear any lease left by an earlier test."""
    settings.REDIS_URL = redis_url
    connection = lock_module.redis_connection(redis_url)
    connection.delete(lock_module.lock_key())
    yield connection
    connection.delete(lock_module.lock_key())


@pytest.fixture
def configure(db, sync_redis, no_sleep):
    """Return a function that saves configured Qualys settings."""

    def configure_settings(*, auto_subscribe: bool = False, **values) -> QualysSettings:
        settings = QualysSettings.load()
        settings.enabled = True
        settings.server = BASE_URL
        settings.username = "apiuser"
        settings.password = "s3cret-pass"
        settings.auto_subscribe = auto_subscribe
        for name, value in values.items():
            setattr(settings, name, value)
        settings.save()
        return settings

    return configure_settings


def index(*addresses: str) -> None:
    """Add hosts to the inventory (the set I)."""
    for address in addresses:
        Host(address=address, source="test").save()
