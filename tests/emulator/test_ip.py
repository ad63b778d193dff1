"""IP list and IP add: merged ranges, validation, licence limit, state file and write log."""

import json

import pytest

from tests.emulator.helpers import IP, call, error_of, ip_tokens, parse

pytestmark = pytest.mark.services

SUBSCRIPTION = {"ips": ["192.0.2.1", "192.0.2.10-192.0.2.30"], "licence_limit": None}


@pytest.fixture(scope="module")
def reader(module_emulator):
    return module_emulator({"subscription": SUBSCRIPTION})


def list_tokens(emu, **params):
    response = call(emu, IP, action="list", **params)
    assert response.status_code == 200, response.text
    root = parse(response)
    assert root.tag == "IP_LIST_OUTPUT"
    return ip_tokens(root.find("RESPONSE"))


def test_list_writes_ip_and_ip_range(reader):
    response = call(reader, IP, action="list")

    assert b"<IP>192.0.2.1</IP>" in response.content
    assert b"<IP_RANGE>192.0.2.10-192.0.2.30</IP_RANGE>" in response.content
    assert response.headers["Content-Type"] == "application/xml"
    assert list_tokens(reader) == ["192.0.2.1", "192.0.2.10-192.0.2.30"]


def test_list_ips_filter_intersects(reader):
    assert list_tokens(reader, ips="192.0.2.0-192.0.2.12,198.51.100.1") == [
        "192.0.2.1",
        "192.0.2.10-192.0.2.12",
    ]


def test_empty_subscription_has_no_ip_set(module_emulator):
    emu = module_emulator({"subscription": {"ips": []}})

    root = parse(call(emu, IP, action="list"))

    assert [child.tag for child in root.find("RESPONSE")] == ["DATETIME"]


def test_add_merges_adjacent_and_overlapping_ranges(fresh_emulator):
    emu = fresh_emulator({"subscription": SUBSCRIPTION})

    response = call(
        emu,
        IP,
        method="POST",
        action="add",
        ips="192.0.2.2-192.0.2.9,192.0.2.25-192.0.2.40",
        enable_vm="1",
    )

    assert response.status_code == 200
    root = parse(response)
    assert root.tag == "SIMPLE_RETURN"
    assert root.find("RESPONSE/CODE") is None
    assert root.findtext("RESPONSE/TEXT") == "IPs successfully added to Vulnerability Management"
    assert list_tokens(emu) == ["192.0.2.1-192.0.2.40"]
    assert emu.read_state()["subscription"]["ips"] == ["192.0.2.1-192.0.2.40"]


def test_add_accepts_cidr_and_already_subscribed_ips(fresh_emulator):
    emu = fresh_emulator({"subscription": SUBSCRIPTION})

    response = call(
        emu,
        IP,
        method="POST",
        action="add",
        ips="192.0.2.1,198.51.100.0/30",
        enable_vm="1",
        enable_pc="0",
    )

    assert response.status_code == 200
    assert list_tokens(emu) == ["192.0.2.1", "192.0.2.10-192.0.2.30", "198.51.100.0-198.51.100.3"]


def test_add_with_action_in_query_and_ips_in_body(fresh_emulator):
    emu = fresh_emulator({"subscription": SUBSCRIPTION})

    response = emu.session().post(
        f"{emu.url}{IP}?action=add", data={"ips": "203.0.113.5", "enable_vm": "1"}, timeout=30
    )

    assert response.status_code == 200
    assert "203.0.113.5" in list_tokens(emu)


def test_add_records_write_log_entry(fresh_emulator):
    emu = fresh_emulator({"subscription": SUBSCRIPTION})

    call(emu, IP, method="POST", action="add", ips="203.0.113.5", enable_vm="1")
    log = emu.write_log()

    assert len(log) == 1
    assert log[0]["action"] == "asset/ip add"
    assert log[0]["params"] == {"action": "add", "ips": "203.0.113.5", "enable_vm": "1"}
    assert log[0]["user"] == "apiuser"
    assert log[0]["at"].endswith("Z")


def test_add_requires_a_module_flag(reader):
    for flags in ({}, {"enable_vm": "0"}, {"enable_vm": "0", "enable_pc": "0"}):
        response = call(reader, IP, method="POST", action="add", ips="203.0.113.5", **flags)
        assert response.status_code == 400, flags
        code, text = error_of(response)
        assert code == "1922"
        assert "enable_vm" in text


def test_add_rejects_bad_input_with_1905(reader):
    for ips in (
        "192.0.2.300",
        "192.0.2.9-192.0.2.1",
        "2001:db8::1",
        "192.0.2.1,,192.0.2.2",
        "0.0.0.7",
    ):
        response = call(reader, IP, method="POST", action="add", ips=ips, enable_vm="1")
        assert response.status_code == 400, ips
        assert error_of(response)[0] == "1905", ips
    assert list_tokens(reader) == ["192.0.2.1", "192.0.2.10-192.0.2.30"]
    assert reader.write_log() == []


def test_add_without_ips_is_1903(reader):
    response = call(reader, IP, method="POST", action="add", enable_vm="1")

    assert response.status_code == 400
    assert error_of(response) == ("1903", "Missing required parameter(s): ips")


def test_add_by_get_is_refused_with_1908(reader):
    response = call(reader, IP, method="GET", action="add", ips="203.0.113.5", enable_vm="1")

    assert response.status_code == 400
    assert error_of(response)[0] == "1908"
    assert "203.0.113.5" not in list_tokens(reader)


def test_licence_limit_blocks_add_that_exceeds_it(fresh_emulator):
    emu = fresh_emulator({"subscription": {"ips": ["192.0.2.1-192.0.2.8"], "licence_limit": 10}})

    refused = call(emu, IP, method="POST", action="add", ips="192.0.2.9-192.0.2.11", enable_vm="1")
    accepted = call(emu, IP, method="POST", action="add", ips="192.0.2.5-192.0.2.10", enable_vm="1")

    assert refused.status_code == 400
    code, text = error_of(refused)
    assert code == "1905"
    assert "8 in use, 3 new, limit 10" in text
    assert accepted.status_code == 200
    assert list_tokens(emu) == ["192.0.2.1-192.0.2.10"]
    assert [entry["params"]["ips"] for entry in emu.write_log()] == ["192.0.2.5-192.0.2.10"]


def test_licence_limit_flag_overrides_state(qualys_emulator):
    emu = qualys_emulator({"subscription": SUBSCRIPTION}, args=["--licence-limit", "22"])

    response = call(emu, IP, method="POST", action="add", ips="203.0.113.5", enable_vm="1")

    assert response.status_code == 400
    assert emu.read_state()["subscription"]["licence_limit"] == 22


def test_state_survives_restart(qualys_emulator):
    first = qualys_emulator({"subscription": SUBSCRIPTION})
    call(first, IP, method="POST", action="add", ips="203.0.113.0/24", enable_vm="1")
    first.stop()
    saved = first.read_state()

    second = qualys_emulator(saved)

    assert list_tokens(second) == [
        "192.0.2.1",
        "192.0.2.10-192.0.2.30",
        "203.0.113.0-203.0.113.255",
    ]
    assert len(second.write_log()) == 1


def test_state_file_is_replaced_atomically(fresh_emulator):
    emu = fresh_emulator({"subscription": SUBSCRIPTION})
    before = emu.state_path.stat().st_ino

    call(emu, IP, method="POST", action="add", ips="203.0.113.5", enable_vm="1")

    assert emu.state_path.stat().st_ino != before
    assert json.loads(emu.state_path.read_text())["subscription"]["ips"][-1] == "203.0.113.5"
    assert [p.name for p in emu.state_path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_ipv6_text_in_state_is_listed(fresh_emulator):
    emu = fresh_emulator({"subscription": {"ips": ["192.0.2.1", "2001:db8::/126", "2001:db8::9"]}})

    assert list_tokens(emu) == ["192.0.2.1", "2001:db8::-2001:db8::3", "2001:db8::9"]
