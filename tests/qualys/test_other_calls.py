"""IPv6 mappings, the credential check, host IDs, report ranges and resumed host pages."""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.qualys import AuthenticationFailed, MalformedResponse
from integrations.qualys.parsing import read_ip_list
from lumeta_qualys.ipset import IPSet

from .conftest import (
    HOST_URL,
    IP_MAP_URL,
    REAL_INPUTS,
    assert_qualys_request,
    fixture_bytes,
    sent_params,
    shared_bytes,
)


def test_ipv6_mappings_skip_bad_records(mocked, client):
    mocked.get(IP_MAP_URL, body=fixture_bytes("ip_map_list_page.xml"))

    mappings = client.list_ipv6_mappings()

    assert [(m.id, m.v4, m.v6) for m in mappings] == [(1, "0.0.0.7", "2001:db8::7")]
    assert len(client.warnings) == 1
    assert "IPv6 mapping 2 was skipped" in client.warnings[0]
    assert "'not-v6'" in client.warnings[0]


def test_ipv6_mappings_and_placeholders_give_ipv6_addresses(mocked, client):
    """An IPv6 placeholder stands for its mapped address and is never an IPv4 host."""
    ip_list = (
        b"<IP_LIST_OUTPUT><RESPONSE><IP_SET><IP>0.0.0.7</IP><IP>192.0.2.1</IP></IP_SET>"
        b"</RESPONSE></IP_LIST_OUTPUT>"
    )
    mocked.get("https://qualysapi.example.test/api/2.0/fo/asset/ip/", body=ip_list)
    mocked.get(IP_MAP_URL, body=fixture_bytes("ip_map_list_page.xml"))
    from lumeta_qualys.ipset import IPV6_PLACEHOLDERS

    listed = client.list_subscription().ips
    mapped = IPSet.from_strings(m.v6 for m in client.list_ipv6_mappings() if m.v4 in listed)
    subscription = (listed - IPV6_PLACEHOLDERS) | mapped

    assert subscription == IPSet.from_strings(["192.0.2.1", "2001:db8::7"])


def test_check_credentials_is_one_small_call(mocked, client):
    mocked.get(HOST_URL, body=shared_bytes(REAL_INPUTS / "host_list_ids_one.xml"))

    client.check_credentials()

    assert len(mocked.calls) == 1
    assert_qualys_request(
        mocked.calls[0],
        "GET",
        "/api/2.0/fo/asset/host/",
        {"action": "list", "details": "None", "truncation_limit": "1"},
    )


def test_check_credentials_expired_account(mocked, client):
    body = shared_bytes(REAL_INPUTS / "simple_return_2001_account_expired.xml")
    mocked.get(HOST_URL, body=body)

    with pytest.raises(Exception, match=r"^Qualys: This account has expired \(code 2001\)\."):
        client.check_credentials()


def test_check_credentials_bad_password(mocked, client):
    mocked.get(HOST_URL, body=b"", status=401)

    with pytest.raises(AuthenticationFailed):
        client.check_credentials()


def test_host_ids_with_ranges(mocked, client):
    body = (
        b"<HOST_LIST_OUTPUT><RESPONSE><DATETIME>2026-11-30T08:00:00Z</DATETIME>"
        b"<ID_SET><ID>101</ID><ID_RANGE>200-203</ID_RANGE><ID_RANGE>9-x</ID_RANGE></ID_SET>"
        b"</RESPONSE></HOST_LIST_OUTPUT>"
    )
    mocked.get(HOST_URL, body=body)

    assert list(client.iter_host_ids()) == [101, 200, 201, 202, 203]
    assert sent_params(mocked.calls[0]) == {
        "action": "list",
        "details": "None",
        "truncation_limit": "0",
    }
    assert client.warnings == ["Host ID '9-x' was skipped because it is not a number or a range."]


def test_host_ids_of_real_capture(mocked, client):
    mocked.get(HOST_URL, body=shared_bytes(REAL_INPUTS / "host_list_ids_one.xml"))

    assert list(client.iter_host_ids()) == [107800671]


def test_report_ranges_with_start_and_end():
    data = shared_bytes(REAL_INPUTS / "asset_data_report_ranges_start_end.xml")

    target, target_rejected = read_ip_list(data, "HEADER/TARGET/COMBINED_IP_LIST")
    no_results, _ = read_ip_list(data, "APPENDICES/NO_RESULTS/IP_LIST")

    assert target == IPSet.from_strings(["198.51.100.0/24", "203.0.113.0/24"])
    assert target_rejected == []
    assert no_results == IPSet.from_strings(
        ["198.51.100.0-198.51.100.4", "203.0.113.0-203.0.113.4", "203.0.113.6-203.0.113.255"]
    )
    assert "203.0.113.5" not in no_results


def test_report_range_with_hole():
    data = (
        b'<COMBINED_IP_LIST><RANGE network_id="-100"><START>203.0.113.0</START>'
        b"<END>203.0.113.4</END></RANGE>"
        b'<RANGE network_id="-100"><START>203.0.113.6</START><END>203.0.113.255</END></RANGE>'
        b"</COMBINED_IP_LIST>"
    )

    ips, rejected = read_ip_list(data, ".")

    assert ips.size == 255
    assert "203.0.113.5" not in ips
    assert rejected == []


class BreakingReader(io.RawIOBase):
    """A raw body that fails with a reset connection after ``limit`` bytes."""

    def __init__(self, data: bytes, limit: int):
        self.data = data
        self.limit = limit
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.position >= self.limit:
            raise ConnectionResetError("connection reset by peer")
        size = min(len(buffer), 1024, self.limit - self.position)
        buffer[:size] = self.data[self.position : self.position + size]
        self.position += size
        return size


def host_page(ids: range) -> bytes:
    hosts = b"".join(
        f"<HOST><ID>{n}</ID><IP>10.1.{n // 256}.{n % 256}</IP></HOST>".encode() for n in ids
    )
    return (
        b'<?xml version="1.0" encoding="UTF-8" ?><HOST_LIST_OUTPUT><RESPONSE><HOST_LIST>'
        + hosts
        + b"</HOST_LIST></RESPONSE></HOST_LIST_OUTPUT>"
    )


def test_broken_page_resumes_after_last_host(mocked, client, sleeps):
    full = host_page(range(1, 5001))
    mocked.get(HOST_URL, body=io.BufferedReader(BreakingReader(full, len(full) // 2)))

    def rest(request):
        id_min = int(parse_qs(urlsplit(request.url).query)["id_min"][0])
        return 200, {}, host_page(range(id_min, 5001))

    mocked.add_callback("GET", HOST_URL, callback=rest)

    ids = [host.id for host in client.iter_scanned_hosts()]

    assert ids == list(range(1, 5001))
    resumed_at = int(sent_params(mocked.calls[1])["id_min"])
    assert 1 < resumed_at < 5000
    assert sent_params(mocked.calls[1])["details"] == "Basic"
    assert sleeps == [2.0]
    # The run records the second read.
    assert len(client.warnings) == 1
    assert client.warnings[0].startswith("Page 1 of /api/2.0/fo/asset/host/ broke off (")
    assert client.warnings[0].endswith(
        f"it was read again from id_min={resumed_at} after 2 s, after the last host already "
        "read, so no host was lost."
    )


def test_broken_pages_give_up_after_max_retries(mocked, make_client, sleeps):
    client = make_client(max_retries=1)
    full = host_page(range(1, 5001))
    for _ in range(2):
        mocked.get(HOST_URL, body=io.BufferedReader(BreakingReader(full, len(full) // 2)))

    with pytest.raises(Exception, match="broke while reading"):
        list(client.iter_scanned_hosts())

    assert sleeps == [2.0]


def test_cut_short_page_is_not_resumed(mocked, client, sleeps):
    mocked.get(HOST_URL, body=fixture_bytes("host_list_cut_short.xml"))

    with pytest.raises(MalformedResponse):
        list(client.iter_scanned_hosts())

    assert sleeps == []


def test_reply_is_parsed_from_bytes_not_header_charset(mocked, client):
    mocked.get(
        "https://qualysapi.example.test/api/2.0/fo/asset/group/",
        body=fixture_bytes("asset_group_list_titles.xml"),
        content_type="text/xml;charset=ISO-8859-1",
    )

    titles = [group.title for group in client.list_asset_groups()]

    assert titles[2] == "Réseau – Zürich 東京"


def test_failing_syncs_open_no_sessions(mocked, make_client):
    """Basic auth on every call: twenty failed runs leave no Qualys session behind."""
    for _ in range(20):
        mocked.get(HOST_URL, body=fixture_bytes("host_list_page1.xml"))
        mocked.get(HOST_URL, body=b"", status=503)

    for _ in range(20):
        client = make_client(max_retries=0)
        with pytest.raises(Exception, match="HTTP 503"):
            list(client.iter_scanned_hosts())

    assert len(mocked.calls) == 40
    assert all("/fo/session/" not in call.request.url for call in mocked.calls)
    assert all("Cookie" not in call.request.headers for call in mocked.calls)
    assert all(call.request.headers["Authorization"].startswith("Basic ") for call in mocked.calls)


class GeneratedHostList(io.RawIOBase):
    """A host list body generated while it is read, so the test never keeps it whole in memory."""

    def __init__(self, count: int):
        self.parts = self._parts(count)
        self.pending = b""
        self.size = 0

    @staticmethod
    def _parts(count: int):
        yield b'<?xml version="1.0" encoding="UTF-8" ?><HOST_LIST_OUTPUT><RESPONSE><HOST_LIST>'
        for start in range(1, count + 1, 1000):
            yield b"".join(
                f"<HOST><ID>{n}</ID><IP>10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}</IP>"
                f"<TRACKING_METHOD>IP</TRACKING_METHOD></HOST>".encode()
                for n in range(start, min(start + 1000, count + 1))
            )
        yield b"</HOST_LIST></RESPONSE></HOST_LIST_OUTPUT>"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            try:
                self.pending = next(self.parts)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        self.size += size
        return size


def resident_bytes() -> int:
    """Return the current resident set size of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_large_host_list_streams_in_bounded_memory(mocked, client):
    body = GeneratedHostList(200_000)
    mocked.get(HOST_URL, body=io.BufferedReader(body))

    baseline = resident_bytes()
    highest = baseline
    count = 0
    addresses = set()
    for host in client.iter_scanned_hosts(page_size=0):
        count += 1
        if count % 10_000 == 0:
            addresses.add(host.ip)
            highest = max(highest, resident_bytes())

    assert count == 200_000
    assert len(addresses) == 20
    assert body.size > 15_000_000
    # The body is over 15 MB, and a tree of all 200,000 hosts takes well over
    # 100 MB in lxml. Streaming keeps the growth to a few chunks and records.
    assert highest - baseline < 40_000_000
