"""The client against the Qualys API emulator over HTTPS on loopback: every call and fault."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from integrations.qualys import (
    AccountUnavailable,
    AuthenticationFailed,
    ConcurrencyLimited,
    GatewayError,
    InvalidRequest,
    MalformedResponse,
    QualysClient,
    RateLimited,
    RegistrationIncomplete,
    ServerError,
    UnexpectedResponse,
)
from lumeta_qualys.ipset import IPSet
from tests.support.emulator import DEFAULT_PASSWORD, DEFAULT_USER, start_emulator
from tests.support.services import ManagedProcess

from .conftest import SleepRecorder

pytestmark = pytest.mark.services

HOSTS = [
    {
        "id": 100 + n,
        "ip": f"192.0.2.{n}",
        "dns": f"host-{n}.example.test",
        "netbios": f"HOST-{n}",
        "os": "Linux 5.x",
        "tracking_method": "IP",
        "last_vuln_scan": "2026-11-30T02:00:00Z",
    }
    for n in range(1, 26)
]
STATE: dict[str, Any] = {
    "users": {DEFAULT_USER: DEFAULT_PASSWORD},
    "subscription": {
        "ips": ["192.0.2.0/24", "198.51.100.1", "198.51.100.10-198.51.100.20", "0.0.0.7"],
        "licence_limit": None,
    },
    "hosts": HOSTS,
    "asset_groups": [{"id": 10, "title": "Servers", "ips": ["192.0.2.1-192.0.2.9"]}],
    "ipv6_enabled": True,
    "ipv6_mappings": [{"id": 1, "v4": "0.0.0.7", "v6": "2001:db8::7"}],
}
ALL_HOST_IPS = [host["ip"] for host in HOSTS]


@pytest.fixture(scope="module")
def shared_emulator():
    """One emulator for the tests that do not write; faults are reset around each test."""
    started: list[ManagedProcess] = []

    def start_process(args, env, name="process"):
        managed = ManagedProcess(args, env, name)
        started.append(managed)
        return managed

    emulator = start_emulator(start_process, STATE, ["--quiet"])
    yield emulator
    for managed in started:
        managed.stop()


@pytest.fixture
def emulator(shared_emulator):
    shared_emulator.set_faults([])
    yield shared_emulator
    shared_emulator.set_faults([])


@pytest.fixture
def writable_emulator(qualys_emulator):
    return qualys_emulator(STATE, ["--quiet"])


def client_for(emulator, sleeps: SleepRecorder | None = None, **options) -> QualysClient:
    options.setdefault("sleep", sleeps if sleeps is not None else SleepRecorder())
    options.setdefault("connect_timeout", 5)
    options.setdefault("read_timeout", 20)
    return QualysClient(
        emulator.url,
        emulator.username,
        emulator.password,
        ca_bundle=str(emulator.cert_path),
        **options,
    )


# Every call ----------------------------------------------------------------------


def test_read_calls(emulator):
    client = client_for(emulator)

    client.check_credentials()
    subscription = client.list_subscription()
    mappings = client.list_ipv6_mappings()
    groups = client.list_asset_groups()
    servers = client.list_asset_groups(title="Servers")

    assert subscription.ips == IPSet.from_strings(
        ["0.0.0.7", "192.0.2.0/24", "198.51.100.1", "198.51.100.10-198.51.100.20"]
    )
    assert subscription.rejected == []
    assert [(m.id, m.v4, m.v6) for m in mappings] == [(1, "0.0.0.7", "2001:db8::7")]
    assert [(g.id, g.title) for g in groups] == [(10, "Servers")]
    assert servers[0].ips == IPSet.from_strings(["192.0.2.1-192.0.2.9"])
    assert client.list_asset_groups(title="servers") == []
    assert client.warnings == []
    assert client.budget.calls == 6
    assert client.budget.rate_limit == 300
    assert client.budget.rate_window_seconds == 3600
    assert client.budget.concurrency_limit == 2


@pytest.mark.parametrize("version", ["2.0", "3.0"])
def test_host_list_pages(emulator, version):
    client = client_for(emulator, host_list_version=version)

    hosts = list(client.iter_scanned_hosts(page_size=10))

    assert [host.ip for host in hosts] == ALL_HOST_IPS
    assert [host.id for host in hosts] == [host["id"] for host in HOSTS]
    assert hosts[0].dns == "host-1.example.test"
    assert hosts[0].netbios == "HOST-1"
    assert hosts[0].os == "Linux 5.x"
    assert hosts[0].last_vuln_scan is not None
    assert client.budget.calls == 3
    assert list(client.iter_host_ids()) == [host["id"] for host in HOSTS]


def test_write_calls(writable_emulator):
    emulator = writable_emulator
    client = client_for(emulator)

    client.add_ips(IPSet.from_strings(["203.0.113.0/28", "203.0.113.20"]))
    group_id = client.add_asset_group(
        "LUMETA_Spectre_DISCOVERED", IPSet.from_strings(["203.0.113.1"])
    )
    client.edit_asset_group(group_id, set_ips=IPSet.from_strings(["203.0.113.0-203.0.113.4"]))
    client.edit_asset_group(
        group_id,
        add_ips=IPSet.from_strings(["203.0.113.20"]),
        remove_ips=IPSet.from_strings(["203.0.113.0"]),
    )
    (group,) = client.list_asset_groups(title="LUMETA_Spectre_DISCOVERED")

    assert group_id == 11
    assert group.ips == IPSet.from_strings(["203.0.113.1-203.0.113.4", "203.0.113.20"])
    assert "203.0.113.20" in client.list_subscription().ips

    client.edit_asset_group(group_id, set_ips=IPSet())
    (emptied,) = client.list_asset_groups(title="LUMETA_Spectre_DISCOVERED")
    assert emptied.ips == IPSet()

    client.delete_asset_group(group_id)
    assert client.list_asset_groups(title="LUMETA_Spectre_DISCOVERED") == []

    actions = [(entry["action"], sorted(entry["params"])) for entry in emulator.write_log()]
    assert actions == [
        ("asset/ip add", ["action", "enable_vm", "ips"]),
        ("asset/group add", ["action", "ips", "title"]),
        ("asset/group edit", ["action", "id", "set_ips"]),
        ("asset/group edit", ["action", "add_ips", "id"]),
        ("asset/group edit", ["action", "id", "remove_ips"]),
        ("asset/group edit", ["action", "id", "remove_ips"]),
        ("asset/group delete", ["action", "id"]),
    ]


def test_chunked_writes(writable_emulator):
    emulator = writable_emulator
    client = client_for(emulator, max_body_bytes=1024)
    ranges = IPSet.from_intervals(
        v4=[(0xCB007100 + 4 * n, 0xCB007100 + 4 * n + 1) for n in range(60)]
    )  # 203.0.113.0/24, two of every four addresses

    client.add_ips(ranges)
    group_id = client.add_asset_group("Chunked", ranges)
    client.edit_asset_group(group_id, set_ips=ranges)

    state = emulator.read_state()
    assert IPSet.from_strings(state["subscription"]["ips"]) & ranges == ranges
    (group,) = client.list_asset_groups(title="Chunked")
    assert group.ips == ranges
    log = emulator.write_log()
    adds = [entry for entry in log if entry["action"] == "asset/ip add"]
    assert len(adds) > 1
    edits = [entry["params"] for entry in log if entry["action"] == "asset/group edit"]
    set_calls = [params for params in edits if "set_ips" in params]
    assert len(set_calls) == 1
    assert edits.index(set_calls[0]) < len(edits) - 1
    assert all("add_ips" in params for params in edits[edits.index(set_calls[0]) + 1 :])


def test_write_errors(writable_emulator):
    client = client_for(writable_emulator)

    with pytest.raises(InvalidRequest, match=r"IP\(s\) do not exist"):
        client.add_asset_group("Outside", IPSet.from_strings(["203.0.113.99"]))
    client.add_asset_group("Twice", IPSet())
    with pytest.raises(InvalidRequest, match="already exists. Please use a different title"):
        client.add_asset_group("Twice", IPSet())
    with pytest.raises(InvalidRequest, match="code 1905"):
        client.delete_asset_group(999)


# Faults ---------------------------------------------------------------------------------


def test_bad_credentials(emulator):
    wrong = QualysClient(
        emulator.url,
        emulator.username,
        "wrong",
        ca_bundle=str(emulator.cert_path),
        sleep=SleepRecorder(),
    )
    with pytest.raises(AuthenticationFailed, match="code 2000"):
        wrong.check_credentials()

    emulator.set_faults([{"kind": "bad_credentials"}])
    with pytest.raises(AuthenticationFailed):
        client_for(emulator).list_subscription()


@pytest.mark.parametrize(
    ("fault", "error_class", "message"),
    [
        (
            {"kind": "expired"},
            AccountUnavailable,
            r"^Qualys: This account has expired \(code 2001\)\.",
        ),
        ({"kind": "registration_incomplete"}, RegistrationIncomplete, "code 2003"),
        ({"kind": "malformed"}, MalformedResponse, "not well-formed"),
        ({"kind": "truncated"}, MalformedResponse, "ends before the XML document is complete"),
        ({"kind": "html", "status": 414}, UnexpectedResponse, r"HTTP 414 \(HTML page\)"),
    ],
    ids=lambda value: value["kind"] if isinstance(value, dict) else None,
)
def test_permanent_faults(emulator, fault, error_class, message):
    sleeps = SleepRecorder()
    emulator.set_faults([{**fault, "endpoint": "asset/ip"}])

    with pytest.raises(error_class, match=message):
        client_for(emulator, sleeps).list_subscription()

    assert sleeps == []


@pytest.mark.parametrize(
    ("fault", "error_class", "expected_sleeps"),
    [
        ({"kind": "concurrency_limit"}, ConcurrencyLimited, [2.0, 4.0]),
        ({"kind": "server_error"}, ServerError, [2.0, 4.0]),
        ({"kind": "html", "status": 502}, GatewayError, [2.0, 4.0]),
        ({"kind": "rate_limit", "seconds_to_wait": 30}, RateLimited, [30.0, 30.0]),
    ],
    ids=lambda value: value["kind"] if isinstance(value, dict) else None,
)
def test_transient_faults_retry_then_succeed_or_raise(
    emulator, fault, error_class, expected_sleeps
):
    sleeps = SleepRecorder()
    client = client_for(emulator, sleeps, max_retries=2)

    emulator.set_faults([{**fault, "endpoint": "asset/ip", "times": 1}])
    assert client.list_subscription().ips.size > 0
    assert sleeps == expected_sleeps[:1]

    sleeps.clear()
    emulator.set_faults([{**fault, "endpoint": "asset/ip"}])
    with pytest.raises(error_class):
        client.list_subscription()
    assert sleeps == expected_sleeps


def test_long_rate_limit_wait_raises_at_once(emulator):
    sleeps = SleepRecorder()
    emulator.set_faults(
        [{"kind": "rate_limit", "seconds_to_wait": 68928, "endpoint": "asset/host"}]
    )

    with pytest.raises(RateLimited) as raised:
        list(client_for(emulator, sleeps, max_wait_seconds=300).iter_scanned_hosts())

    assert raised.value.retry_after == 68928
    assert "UTC" in raised.value.message
    assert sleeps == []


def test_slow_reply_times_out_then_succeeds(emulator):
    sleeps = SleepRecorder()
    emulator.set_faults([{"kind": "slow", "delay": 3.0, "endpoint": "asset/ip", "times": 1}])

    result = client_for(emulator, sleeps, read_timeout=1).list_subscription()

    assert result.ips.size > 0
    assert sleeps == [2.0]


def test_truncated_page_two_fails_the_whole_list(emulator):
    emulator.set_faults([{"kind": "truncated", "endpoint": "asset/host", "page": 2, "times": 1}])
    received = []

    with pytest.raises(MalformedResponse):
        for host in client_for(emulator).iter_scanned_hosts(page_size=10):
            received.append(host.ip)

    assert ALL_HOST_IPS[:10] == received[:10]
    assert len(received) < len(ALL_HOST_IPS)


def test_dropped_connection_resumes_after_last_host(emulator):
    sleeps = SleepRecorder()
    emulator.set_faults(
        [
            {
                "kind": "truncated",
                "drop_connection": True,
                "endpoint": "asset/host",
                "page": 2,
                "times": 1,
            }
        ]
    )

    hosts = list(client_for(emulator, sleeps).iter_scanned_hosts(page_size=10))

    assert [host.ip for host in hosts] == ALL_HOST_IPS
    assert sleeps == [2.0]


@pytest.mark.parametrize("kind", ["comments", "no_declaration"])
def test_harmless_body_variants(emulator, kind):
    emulator.set_faults([{"kind": kind}])
    client = client_for(emulator)

    assert [host.ip for host in client.iter_scanned_hosts(page_size=10)] == ALL_HOST_IPS
    assert client.list_subscription().ips.size == 256 + 1 + 11 + 1
    assert [group.id for group in client.list_asset_groups()] == [10]
    assert len(client.list_ipv6_mappings()) == 1


def test_real_rate_limit_of_the_window(qualys_emulator):
    emulator = qualys_emulator(STATE, ["--quiet", "--calls-per-window", "2"])
    sleeps = SleepRecorder()
    client = client_for(emulator, sleeps, max_wait_seconds=60)

    client.list_subscription()
    client.list_subscription()
    with pytest.raises(RateLimited) as raised:
        client.list_subscription()

    assert 3500 < raised.value.retry_after <= 3600
    assert client.budget.rate_remaining == 0
    assert sleeps == []


def test_real_concurrency_limit_is_retried(qualys_emulator):
    emulator = qualys_emulator(STATE, ["--quiet", "--concurrency", "1"])
    emulator.set_faults([{"kind": "slow", "delay": 1.5, "endpoint": "asset/ip", "times": 1}])
    first_sleeps, second_sleeps = SleepRecorder(), SleepRecorder()
    results: dict[str, Any] = {}

    def slow_call() -> None:
        results["first"] = client_for(emulator, first_sleeps).list_subscription()

    worker = threading.Thread(target=slow_call)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while emulator.status()["running"].get("asset/ip", 0) < 1:
            assert time.monotonic() < deadline, "the slow call never started"
            time.sleep(0.02)
        second = client_for(emulator, second_sleeps, sleep=lambda seconds: worker.join())
        results["second"] = second.list_subscription()
    finally:
        worker.join()

    assert results["first"].ips == results["second"].ips
    assert second.budget.calls == 2
