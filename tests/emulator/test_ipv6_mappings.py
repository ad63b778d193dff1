"""IPv6 mapping records: XML and CSV output, filters, paging."""

import pytest

from tests.emulator.helpers import MAPPING, call, error_of, next_url, parse

pytestmark = pytest.mark.services

MAPPINGS = [
    {"id": 47036, "v4": "0.0.0.1", "v6": "2001:db8:85a3::8a2e:370:77"},
    {"id": 46947, "v4": "0.0.0.7", "v6": "2001:db8:85a3::8a2e:370:84"},
    {"id": 50000, "v4": "0.0.0.9", "v6": "2001:db8:1::9"},
]


@pytest.fixture(scope="module")
def emu(module_emulator):
    return module_emulator(
        {
            "ipv6_enabled": True,
            "ipv6_mappings": MAPPINGS,
            "subscription": {"ips": ["0.0.0.1-0.0.0.9", "192.0.2.1"]},
        }
    )


def maps(root):
    return [
        (m.findtext("ID"), m.findtext("V4"), m.findtext("V6"))
        for m in root.iterfind("RESPONSE/IP_MAP_LIST/IP_MAP")
    ]


def test_xml_list_writes_sample_shape(emu):
    response = call(emu, MAPPING, action="list", output_format="xml")
    root = parse(response)

    assert root.tag == "IP_MAP_LIST_OUTPUT"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8" ?>')
    assert maps(root) == [
        ("46947", "0.0.0.7", "2001:db8:85a3::8a2e:370:84"),
        ("47036", "0.0.0.1", "2001:db8:85a3::8a2e:370:77"),
        ("50000", "0.0.0.9", "2001:db8:1::9"),
    ]


def test_csv_is_the_default(emu):
    response = call(emu, MAPPING, action="list")

    assert response.headers["Content-Type"] == "text/csv"
    lines = response.text.split("\r\n")
    assert lines[0] == '"ID","IPV4","IPV6"'
    assert lines[1] == '"46947","0.0.0.7","2001:db8:85a3::8a2e:370:84"'


def test_filters_and_paging(emu):
    by_v6 = maps(
        parse(
            call(
                emu, MAPPING, action="list", output_format="XML", ipv6_network="2001:db8:85a3::/64"
            )
        )
    )
    by_v4 = maps(
        parse(call(emu, MAPPING, action="list", output_format="XML", ipv4_filter="0.0.0.9"))
    )
    page = parse(call(emu, MAPPING, action="list", output_format="XML", truncation_limit="2"))

    assert [item[0] for item in by_v6] == ["46947", "47036"]
    assert [item[0] for item in by_v4] == ["50000"]
    assert len(maps(page)) == 2
    assert next_url(page).endswith("truncation_limit=2&id_min=50000")


def test_invalid_output_format_is_1905(emu):
    response = call(emu, MAPPING, action="list", output_format="json")

    assert response.status_code == 400
    assert error_of(response)[0] == "1905"


def test_no_mappings_gives_empty_response(module_emulator):
    emu = module_emulator()

    root = parse(call(emu, MAPPING, action="list", output_format="xml"))

    assert [child.tag for child in root.find("RESPONSE")] == ["DATETIME"]


def test_placeholders_can_be_added_with_ipv6_on(emu):
    response = call(
        emu, "/api/2.0/fo/asset/ip/", method="POST", action="add", ips="0.0.0.10", enable_vm="1"
    )

    assert response.status_code == 200
