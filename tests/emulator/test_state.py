"""The emulator's state file, fault parsing and limit counting, tested in-process."""

import json

import pytest

from integrations.emulator.faults import FaultError, parse_fault, parse_fault_flag
from integrations.emulator.limits import LimitStatus, LimitTracker, Refusal
from integrations.emulator.state import StateError, load_state


def write(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_missing_file_starts_from_defaults(tmp_path):
    state = load_state(tmp_path / "absent.json")

    assert state.users == {"apiuser": "a-password"}
    assert state.hosts == []
    assert state.limits["calls_per_window"] == 300
    assert state.missing_keys


def test_round_trip_keeps_every_value(tmp_path):
    data = {
        "users": {"apiuser": "a-password"},
        "subscription": {
            "ips": ["192.0.2.1", "192.0.2.2-192.0.2.9", "2001:db8::/126"],
            "licence_limit": 100,
        },
        "hosts": [
            {
                "id": 2,
                "ip": "192.0.2.2",
                "dns": 'odd }, {"name',
                "netbios": "Réseau – 東京",
                "os": "Linux",
                "tracking_method": "DNS",
                "network_id": 0,
                "ipv6": "2001:db8::2",
                "last_vuln_scan": "2026-11-30T02:00:00Z",
            },
            {"id": 1, "ip": "192.0.2.1"},
        ],
        "asset_groups": [{"id": 7, "title": "Perimeter", "ips": ["192.0.2.1"]}],
        "ipv6_enabled": True,
        "ipv6_mappings": [{"id": 1, "v4": "0.0.0.7", "v6": "2001:db8::7"}],
        "faults": [{"kind": "slow", "delay": 0.5, "times": 2}],
        "custom_key": {"kept": True},
    }
    path = write(tmp_path / "state.json", data)

    state = load_state(path)
    state.save()
    saved = json.loads(path.read_text(encoding="utf-8"))

    assert saved["subscription"] == {
        "ips": ["192.0.2.1-192.0.2.9", "2001:db8::-2001:db8::3"],
        "licence_limit": 100,
    }
    assert saved["hosts"] == [
        {"id": 1, "ip": "192.0.2.1", "tracking_method": "IP"},
        data["hosts"][0],
    ]
    assert saved["asset_groups"][0]["ips"] == ["192.0.2.1"]
    assert saved["ipv6_mappings"] == data["ipv6_mappings"]
    assert saved["faults"] == data["faults"]
    assert saved["custom_key"] == {"kept": True}
    assert saved["write_log"] == []
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    "data, fragment",
    [
        (
            {"hosts": [{"id": 1, "ip": "192.0.2.1"}, {"id": 1, "ip": "192.0.2.2"}]},
            "hosts[1]: id 1 is used by another host",
        ),
        ({"hosts": [{"id": 0, "ip": "192.0.2.1"}]}, "hosts[0]: id must be a positive"),
        ({"hosts": [{"id": 1, "ip": "192.0.2.01"}]}, "hosts[0]: ip must be an IPv4 address"),
        ({"hosts": [{"id": 1, "ip": "2001:db8::1"}]}, "'2001:db8::1'"),
        ({"hosts": [{"id": 1, "ip": "192.0.2.1", "tracking_method": "MAC"}]}, "'MAC'"),
        ({"subscription": {"ips": ["192.0.2.9-192.0.2.1"]}}, "subscription.ips[0]"),
        ({"subscription": {"ips": "192.0.2.1"}}, "expected a list"),
        ({"subscription": {"licence_limit": -1}}, "licence_limit"),
        ({"asset_groups": [{"id": 1, "title": "x" * 256}]}, "at most 255 characters"),
        ({"asset_groups": [{"id": 1, "title": "A"}, {"id": 2, "title": "A"}]}, "used twice"),
        ({"limits": {"concurrency": 0}}, "limits.concurrency"),
        ({"faults": [{"kind": "meteor"}]}, "faults[0]: unknown fault kind"),
        ({"ipv6_mappings": [{"v4": "0.0.0.7"}]}, "ipv6_mappings[0]"),
    ],
)
def test_invalid_values_are_named(tmp_path, data, fragment):
    path = write(tmp_path / "state.json", data)

    with pytest.raises(StateError) as caught:
        load_state(path)

    assert str(path) in str(caught.value)
    assert fragment in str(caught.value)


def test_invalid_json_names_line_and_column(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{\n  "users": {,}\n}')

    with pytest.raises(StateError, match=r"line 2 column 13: invalid JSON"):
        load_state(path)


def test_fault_flag_forms():
    compact = parse_fault_flag("truncated:endpoint=asset/host,page=2,times=1,drop_connection=true")
    as_json = parse_fault_flag('{"kind": "slow", "delay": 1}')

    assert compact.to_json() == {
        "kind": "truncated",
        "endpoint": "asset/host",
        "page": 2,
        "times": 1,
        "drop_connection": True,
    }
    assert as_json.option("delay") == 1
    assert parse_fault_flag("expired").to_json() == {"kind": "expired"}


@pytest.mark.parametrize(
    "item, fragment",
    [
        ({"kind": "slow", "delay": "long"}, "delay of a slow fault"),
        ({"kind": "html", "times": -1}, "times must be a whole number"),
        ({"kind": "html", "status": True}, "status of a html fault"),
        ({"kind": "expired", "delay": 1}, "does not take delay"),
        ({"kind": "expired", "endpoint": "asset/scan"}, "unknown endpoint"),
        (["expired"], "must be an object"),
    ],
)
def test_invalid_faults_are_rejected(item, fragment):
    with pytest.raises(FaultError, match=fragment):
        parse_fault(item)


def test_fault_matching_counts_down():
    fault = parse_fault({"kind": "expired", "endpoint": "asset/host", "page": 2, "times": 1})

    assert not fault.matches("asset/ip", "list", 2)
    assert not fault.matches("asset/host", "list", 1)
    assert fault.matches("asset/host", "list", 2)
    fault.times = 0
    assert not fault.matches("asset/host", "list", 2)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_rolling_window_frees_oldest_call_first():
    clock = Clock()
    tracker = LimitTracker({"calls_per_window": 2, "window_seconds": 60, "concurrency": 5}, clock)

    first = tracker.acquire("asset/ip")
    tracker.release("asset/ip")
    clock.now += 30
    tracker.acquire("asset/ip")
    tracker.release("asset/ip")
    refused = tracker.acquire("asset/ip")
    clock.now += 30.5
    after_oldest_left = tracker.acquire("asset/ip")

    assert isinstance(first, LimitStatus)
    assert first.remaining == 1
    assert isinstance(refused, Refusal)
    assert refused.code == 1965
    assert refused.status.to_wait == 30
    assert isinstance(after_oldest_left, LimitStatus)
    assert after_oldest_left.remaining == 0


def test_concurrency_counts_per_endpoint_and_wins():
    tracker = LimitTracker({"calls_per_window": 1, "window_seconds": 60, "concurrency": 1})

    running = tracker.acquire("asset/host")
    blocked = tracker.acquire("asset/host")
    other = tracker.acquire("asset/group")

    assert isinstance(running, LimitStatus)
    assert running.running == 1
    assert isinstance(blocked, Refusal)
    assert blocked.code == 1960
    assert isinstance(other, LimitStatus)
