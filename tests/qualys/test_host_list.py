"""The scanned-host list: paging through WARNING 1980, records, and failures mid-list."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from integrations.qualys import MalformedResponse, QualysClient, UnexpectedResponse
from integrations.qualys.parsing import Warning1980

from .conftest import HOST_URL, assert_qualys_request, fixture_bytes


def test_pages_follow_warning_and_resend_own_parameters(mocked, client):
    mocked.get(HOST_URL, body=fixture_bytes("host_list_page1.xml"))
    mocked.get(HOST_URL, body=fixture_bytes("host_list_page2_escaped_url.xml"))
    mocked.get(HOST_URL, body=fixture_bytes("host_list_page3_last.xml"))

    hosts = list(client.iter_scanned_hosts(page_size=2))

    assert [host.ip for host in hosts] == ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.7"]
    assert [host.id for host in hosts] == [1, 2, 3, 7]
    assert len(mocked.calls) == 3
    path = "/api/2.0/fo/asset/host/"
    base = {"action": "list", "details": "Basic", "truncation_limit": "2"}
    assert_qualys_request(mocked.calls[0], "GET", path, base)
    assert_qualys_request(mocked.calls[1], "GET", path, {**base, "id_min": "3"})
    # The second page's URL was &amp;-escaped text, not CDATA.
    assert_qualys_request(mocked.calls[2], "GET", path, {**base, "id_min": "7"})
    # The host name in the WARNING URL is never contacted.
    assert all("example.invalid" not in call.request.url for call in mocked.calls)


def test_host_list_version_three_path(mocked, make_client):
    client = make_client(host_list_version="3.0")
    mocked.get(
        "https://qualysapi.example.test/api/3.0/fo/asset/host/",
        body=fixture_bytes("host_list_page3_last.xml"),
    )

    assert [host.id for host in client.iter_scanned_hosts()] == [7]
    assert_qualys_request(
        mocked.calls[0],
        "GET",
        "/api/3.0/fo/asset/host/",
        {"action": "list", "details": "Basic", "truncation_limit": "5000"},
    )


def test_repeated_next_page_raises(mocked, client):
    mocked.get(HOST_URL, body=fixture_bytes("host_list_page1.xml"))
    mocked.get(HOST_URL, body=fixture_bytes("host_list_page1.xml"))

    hosts = []
    with pytest.raises(MalformedResponse, match="id_min=3, a page already read"):
        for host in client.iter_scanned_hosts(page_size=2):
            hosts.append(host.id)
    # The hosts already passed on are a partial list, which the raise marks as such.
    assert hosts == [1, 2, 1, 2]


def test_warning_without_id_min_raises(mocked, client):
    body = fixture_bytes("host_list_page1.xml").replace(b"&id_min=3", b"")
    mocked.get(HOST_URL, body=body)

    with pytest.raises(MalformedResponse, match="no numeric id_min"):
        list(client.iter_scanned_hosts())


def test_other_warning_code_raises(mocked, client):
    body = fixture_bytes("host_list_page1.xml").replace(b"<CODE>1980</CODE>", b"<CODE>1999</CODE>")
    mocked.get(HOST_URL, body=body)

    with pytest.raises(UnexpectedResponse, match="warning '1999'"):
        list(client.iter_scanned_hosts())


def test_failed_second_page_raises_after_first_page(mocked, client):
    mocked.get(HOST_URL, body=fixture_bytes("host_list_page1.xml"))
    mocked.get(HOST_URL, body=fixture_bytes("html_414.html"), status=414, content_type="text/html")

    with pytest.raises(UnexpectedResponse, match=r"Qualys returned HTTP 414 \(HTML page\)"):
        list(client.iter_scanned_hosts(page_size=2))


def test_cut_short_page_raises(mocked, client):
    mocked.get(HOST_URL, body=fixture_bytes("host_list_cut_short.xml"))

    received = []
    with pytest.raises(MalformedResponse, match="ends before the XML document is complete"):
        for host in client.iter_scanned_hosts():
            received.append(host.id)
    assert received == [1]


def test_host_fields_and_bad_values(mocked, client):
    mocked.get(HOST_URL, body=fixture_bytes("host_list_details_edge_cases.xml"))

    hosts = list(client.iter_scanned_hosts())

    first, second, third = hosts
    assert first.id == 9
    assert first.ip == "0.0.0.7"
    assert first.ipv6 == "2001:db8::7"
    assert first.network_id == 12
    assert first.dns == "host-a.example.test"
    assert first.netbios == "HOST-A"
    assert first.os == "Linux 5.x"
    assert first.tracking_method == "IP"
    assert first.last_vuln_scan == datetime(2026, 11, 29, 22, 15, 3, tzinfo=UTC)

    assert second.id == 10
    assert second.ip is None
    assert second.dns == "Rhostb"
    assert second.netbios == "Réseau – Zürich 東京"
    assert second.last_vuln_scan is None
    assert second.network_id is None

    assert third.ip == "198.51.100.11"
    assert third.tracking_method == ""
    assert third.last_vuln_scan is None

    assert any("'192.0.2.300'" in warning for warning in client.warnings)
    assert any("'yesterday'" in warning for warning in client.warnings)
    assert any("1 control character" in warning for warning in client.warnings)
    assert len(client.warnings) == 3


def host_list_body(response: bytes) -> bytes:
    """Return a HOST_LIST_OUTPUT body with ``response`` after the DATETIME element."""
    return (
        b'<?xml version="1.0" encoding="UTF-8" ?>\n<HOST_LIST_OUTPUT><RESPONSE>'
        b"<DATETIME>2026-11-30T08:00:00Z</DATETIME>" + response + b"</RESPONSE></HOST_LIST_OUTPUT>"
    )


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (b"", []),
        (b"<HOST_LIST/>", []),
        (b"<HOST_LIST><HOST><ID>5</ID><IP>192.0.2.5</IP></HOST></HOST_LIST>", ["192.0.2.5"]),
    ],
    ids=["no host list", "empty host list", "one host"],
)
def test_empty_and_single_host_lists(mocked, client, response, expected):
    mocked.get(HOST_URL, body=host_list_body(response))

    hosts = list(client.iter_scanned_hosts())

    assert [host.ip for host in hosts] == expected
    assert client.warnings == []


def test_host_ids_without_addresses_are_rejected(mocked, client):
    # details=None gives only ID_SET, which has no address to build the scanned set from.
    mocked.get(HOST_URL, body=host_list_body(b"<ID_SET><ID>4200017</ID></ID_SET>"))

    with pytest.raises(UnexpectedResponse, match="host IDs only"):
        list(client.iter_scanned_hosts())


@pytest.mark.parametrize("page_size", [-1, 1_000_001])
def test_page_size_out_of_range_is_rejected(client, page_size):
    with pytest.raises(ValueError, match="page_size"):
        list(client.iter_scanned_hosts(page_size=page_size))


def test_details_none_is_rejected(client):
    with pytest.raises(ValueError, match="details='None'"):
        list(client.iter_scanned_hosts(details="None"))


def test_unknown_host_list_version_is_rejected():
    with pytest.raises(ValueError, match="'4.0'"):
        QualysClient("https://qualysapi.example.test", "u", "p", host_list_version="4.0")


def test_first_host_arrives_before_body_is_read(mocked, client):
    head = b'<?xml version="1.0" encoding="UTF-8" ?><HOST_LIST_OUTPUT><RESPONSE><HOST_LIST>'
    hosts = b"".join(
        f"<HOST><ID>{n}</ID><IP>10.0.{n // 256}.{n % 256}</IP></HOST>".encode()
        for n in range(1, 40_000)
    )
    body = head + hosts + b"</HOST_LIST></RESPONSE></HOST_LIST_OUTPUT>"
    raw = CountingReader(body)
    mocked.get(HOST_URL, body=io.BufferedReader(raw))

    hosts_iterator = client.iter_scanned_hosts()
    first = next(hosts_iterator)

    assert first.ip == "10.0.0.1"
    assert raw.consumed < len(body) // 4
    assert sum(1 for _ in hosts_iterator) == 39_998
    assert raw.consumed == len(body)


class CountingReader(io.RawIOBase):
    """A raw byte stream that counts how much of the body has been read."""

    def __init__(self, data: bytes):
        self.data = data
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), 16 * 1024, len(self.data) - self.consumed)
        buffer[:size] = self.data[self.consumed : self.consumed + size]
        self.consumed += size
        return size


@pytest.mark.parametrize(
    "url",
    [
        "https://qualysapi.example.test/api/2.0/fo/asset/host/?action=list&id_min=3",
        # Escaped although inside CDATA, where an ampersand needs no escape.
        "https://qualysapi.example.test/api/2.0/fo/asset/host/?action=list&amp;id_min=3",
        "/api/2.0/fo/asset/host/?id_min=3&amp;action=list&amp;truncation_limit=2",
    ],
)
def test_warning_url_gives_next_id_min(url):
    assert Warning1980("1980", "", url).next_id_min() == "3"
