"""Host list: shapes for each details level, ascending IDs, paging with WARNING 1980."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from lxml import etree

from tests.emulator.helpers import (
    HOST_LIST,
    PARSER,
    call,
    error_of,
    host_ids,
    hosts_state,
    next_url,
    parse,
)

pytestmark = pytest.mark.services

HOSTS = [
    {
        "id": 300,
        "ip": "192.0.2.3",
        "dns": "c.example.test",
        "os": "Windows ]]> Server",
        "tracking_method": "DNS",
        "last_vuln_scan": "2026-11-01T00:00:00Z",
    },
    {
        "id": 101,
        "ip": "192.0.2.1",
        "dns": "web1.example.test",
        "netbios": "WEB1",
        "os": "Linux 5.x",
        "tracking_method": "IP",
        "last_vuln_scan": "2026-11-30T02:00:00Z",
        "ipv6": "2001:db8::1",
        "network_id": 0,
    },
    {"id": 102, "ip": "192.0.2.2"},
    {"id": 103, "ip": "192.0.2.4"},
]


@pytest.fixture(scope="module")
def emu(module_emulator):
    return module_emulator(
        {
            "subscription": {"ips": ["192.0.2.0/24"]},
            "hosts": HOSTS,
            "asset_groups": [{"id": 7, "title": "Perimeter", "ips": ["192.0.2.1-192.0.2.2"]}],
        }
    )


def test_basic_details_write_sample_shape(emu):
    response = call(emu, HOST_LIST, action="list", details="Basic")

    assert response.status_code == 200
    assert response.content.startswith(
        b'<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE HOST_LIST_OUTPUT SYSTEM "https://'
    )
    assert b"<DNS><![CDATA[web1.example.test]]></DNS>" in response.content
    assert b"<NETBIOS><![CDATA[WEB1]]></NETBIOS>" in response.content
    root = parse(response)
    assert root.tag == "HOST_LIST_OUTPUT"
    assert root.findtext("RESPONSE/DATETIME").endswith("Z")
    host = root.find("RESPONSE/HOST_LIST/HOST")
    assert [child.tag for child in host] == [
        "ID",
        "IP",
        "IPV6",
        "TRACKING_METHOD",
        "NETWORK_ID",
        "DNS",
        "NETBIOS",
        "OS",
        "LAST_VULN_SCAN_DATETIME",
    ]
    assert host.findtext("IPV6") == "2001:db8::1"
    assert root.find("RESPONSE/WARNING") is None


def test_hosts_come_in_ascending_id_order(emu):
    root = parse(call(emu, HOST_LIST, action="list"))

    assert host_ids(root) == [101, 102, 103, 300]


def test_cdata_end_marker_in_text_survives(emu):
    root = parse(call(emu, HOST_LIST, action="list", ids="300"))

    assert root.findtext("RESPONSE/HOST_LIST/HOST/OS") == "Windows ]]> Server"


def test_details_none_writes_id_set_with_ranges(emu):
    response = call(emu, HOST_LIST, action="list", details="None", truncation_limit="0")
    root = parse(response)

    assert root.find("RESPONSE/HOST_LIST") is None
    assert [item.tag for item in root.find("RESPONSE/ID_SET")] == ["ID_RANGE", "ID"]
    assert root.findtext("RESPONSE/ID_SET/ID_RANGE") == "101-103"
    assert host_ids(root) == [101, 102, 103, 300]


def test_details_all_ags_lists_group_ids(emu):
    root = parse(call(emu, HOST_LIST, action="list", details="All/AGs", ids="101,103"))
    hosts = root.findall("RESPONSE/HOST_LIST/HOST")

    assert hosts[0].findtext("ASSET_GROUP_IDS") == "7"
    assert hosts[0].findtext("LAST_VM_SCANNED_DATE") == "2026-11-30T02:00:00Z"
    assert hosts[1].find("ASSET_GROUP_IDS") is None


def test_no_hosts_gives_response_with_only_datetime(fresh_emulator):
    emu = fresh_emulator({"hosts": []})

    root = parse(call(emu, HOST_LIST, action="list", details="None"))

    assert [child.tag for child in root.find("RESPONSE")] == ["DATETIME"]


def test_api_3_0_path_and_missing_slash_are_served(emu):
    for path in ("/api/3.0/fo/asset/host/", "/api/2.0/fo/asset/host", "/api/3.0/fo/asset/host"):
        response = call(emu, path, action="list")
        assert response.status_code == 200, path
        assert host_ids(parse(response)) == [101, 102, 103, 300]


def test_filters_select_hosts(emu):
    cases = {
        (("ips", "192.0.2.2-192.0.2.3"),): [102, 300],
        (("ids", "101,200-400"),): [101, 300],
        (("id_min", "102"), ("id_max", "103")): [102, 103],
        (("ag_ids", "7"),): [101, 102],
        (("ag_titles", "Perimeter"),): [101, 102],
        (("ipv6", "2001:db8::/64"),): [101],
        (("vm_scan_since", "2026-11-15"),): [101],
    }
    for filters, expected in cases.items():
        root = parse(call(emu, HOST_LIST, action="list", **dict(filters)))
        assert host_ids(root) == expected, filters


def test_invalid_values_return_1905(emu):
    for name, value in (
        ("details", "Everything"),
        ("truncation_limit", "-1"),
        ("truncation_limit", "1000001"),
        ("ids", "abc123"),
        ("ips", "192.0.2.300"),
    ):
        response = call(emu, HOST_LIST, action="list", **{name: value})
        assert response.status_code == 400, (name, value)
        code, text = error_of(response)
        assert code == "1905", (name, value)
        assert value in text


def test_unknown_parameter_returns_1901(emu):
    response = call(emu, HOST_LIST, action="list", colour="blue")

    assert response.status_code == 400
    assert error_of(response)[0] == "1901"


def test_2500_hosts_with_limit_1000_take_three_calls(fresh_emulator):
    emu = fresh_emulator({"hosts": hosts_state(2500, start_id=5000)})
    session = emu.session()
    url = f"{emu.url}{HOST_LIST}"
    params = {"action": "list", "details": "Basic", "truncation_limit": "1000"}
    seen: list[int] = []
    calls = 0

    while url:
        response = session.get(url, params=params, timeout=60)
        params = None
        calls += 1
        assert response.headers["Transfer-Encoding"] == "chunked"
        root = parse(response)
        seen.extend(host_ids(root))
        url = next_url(root)
        if url:
            text = root.findtext("RESPONSE/WARNING/TEXT")
            assert text == "1000 record limit exceeded. Use URL to get next batch of results."

    assert calls == 3
    assert seen == list(range(5000, 7500))


def test_next_url_repeats_parameters_and_adds_id_min(fresh_emulator):
    emu = fresh_emulator({"hosts": hosts_state(5)})

    response = call(
        emu,
        HOST_LIST,
        method="POST",
        action="list",
        details="All",
        truncation_limit="2",
        ips="10.0.0.0/8",
    )
    root = parse(response)
    url = next_url(root)

    assert b"<URL><![CDATA[" in response.content
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == emu.url
    assert parts.path == HOST_LIST
    assert parse_qs(parts.query) == {
        "action": ["list"],
        "details": ["All"],
        "truncation_limit": ["2"],
        "ips": ["10.0.0.0/8"],
        "id_min": ["3"],
    }
    assert host_ids(root) == [1, 2]


def test_truncation_limit_zero_returns_everything(fresh_emulator):
    emu = fresh_emulator({"hosts": hosts_state(1500)})

    root = parse(call(emu, HOST_LIST, action="list", truncation_limit="0"))

    assert len(host_ids(root)) == 1500
    assert next_url(root) is None


def test_default_page_is_1000_hosts(fresh_emulator):
    emu = fresh_emulator({"hosts": hosts_state(1001)})

    root = parse(call(emu, HOST_LIST, action="list"))

    assert len(host_ids(root)) == 1000
    assert parse_qs(urlsplit(next_url(root)).query)["id_min"] == ["1001"]


def test_post_body_wins_over_query(emu):
    response = emu.session().post(
        f"{emu.url}{HOST_LIST}?action=list&ids=300", data={"ids": "101"}, timeout=30
    )

    assert host_ids(parse(response)) == [101]


def test_unknown_path_is_404_html(emu):
    response = requests.get(
        f"{emu.url}/api/2.0/fo/scan/",
        auth=(emu.username, emu.password),
        headers={"X-Requested-With": "t"},
        verify=str(emu.cert_path),
        timeout=30,
    )

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")


def test_nul_in_state_text_is_written_as_given(fresh_emulator):
    emu = fresh_emulator({"hosts": [{"id": 1, "ip": "192.0.2.1", "dns": "host\u0000a"}]})

    response = call(emu, HOST_LIST, action="list")

    assert b"<DNS><![CDATA[host\x00a]]></DNS>" in response.content
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(response.content, PARSER)


def test_400_body_has_no_xml_declaration(emu):
    response = call(emu, HOST_LIST, action="list", ids="abc123")

    assert response.status_code == 400
    assert response.content.startswith(b'<!DOCTYPE SIMPLE_RETURN SYSTEM "https://')
    assert response.headers["Content-Type"] == "application/xml"
