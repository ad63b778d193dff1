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


V6_STATE = {
    "ipv6_enabled": True,
    "subscription": {"ips": ["0.0.0.1-0.0.0.20", "192.0.2.1"]},
    "ipv6_mappings": [{"id": 5, "v4": "0.0.0.1", "v6": "2001:db8::1"}],
}


def test_add_csv_records(fresh_emulator):
    emu = fresh_emulator(V6_STATE)

    response = call(
        emu,
        MAPPING,
        method="POST",
        action="add",
        csv_data="V4,V6\r\n0.0.0.2,2001:db8::2\r\n0.0.0.3,2001:DB8:0::3\r\n",
    )
    listed = maps(parse(call(emu, MAPPING, action="list", output_format="xml")))

    assert response.status_code == 200
    assert parse(response).find("RESPONSE/CODE") is None
    assert listed == [
        ("5", "0.0.0.1", "2001:db8::1"),
        ("6", "0.0.0.2", "2001:db8::2"),
        ("7", "0.0.0.3", "2001:db8::3"),
    ]
    assert emu.write_log()[-1]["action"] == "asset/ip/v4_v6 add"


def test_add_xml_records(fresh_emulator):
    emu = fresh_emulator(V6_STATE)
    xml = "<IP_MAP_LIST><IP_MAP><V4>0.0.0.9</V4><V6>2001:db8::9</V6></IP_MAP></IP_MAP_LIST>"

    response = call(emu, MAPPING, method="POST", action="add", xml_data=xml)

    assert response.status_code == 200
    assert ("6", "0.0.0.9", "2001:db8::9") in maps(
        parse(call(emu, MAPPING, action="list", output_format="xml"))
    )


def test_add_all_or_nothing(fresh_emulator):
    emu = fresh_emulator(V6_STATE)
    csv = "0.0.0.2,2001:db8::2\n0.0.0.1,2001:db8::99\n192.0.2.1,2001:db8::98\n0.0.0.30,2001:db8::30"

    refused = call(emu, MAPPING, method="POST", action="add", csv_data=csv)
    partial = call(emu, MAPPING, method="POST", action="add", csv_data=csv, all_or_nothing="0")

    assert refused.status_code == 400
    code, text = error_of(refused)
    assert code == "1905"
    assert "0.0.0.1 or 2001:db8::99 already has a mapping record" in text
    assert partial.status_code == 200
    root = parse(partial)
    assert root.findtext("RESPONSE/TEXT") == "1 IPv6 mapping record(s) added, 3 rejected."
    rejected = root.xpath("RESPONSE/ITEM_LIST/ITEM[KEY='REJECTED']/VALUE/text()")
    assert len(rejected) == 3
    assert "192.0.2.1 is not an IPv6 mapping address" in rejected[1]
    assert "0.0.0.30 is not in the subscription" in rejected[2]
    assert len(emu.write_log()) == 1


def test_add_needs_ipv6_support_and_data(fresh_emulator):
    emu = fresh_emulator({"subscription": {"ips": ["0.0.0.1"]}})

    disabled = call(emu, MAPPING, method="POST", action="add", csv_data="0.0.0.1,2001:db8::1")
    missing = call(emu, MAPPING, method="POST", action="add")
    both = call(emu, MAPPING, method="POST", action="add", csv_data="x", xml_data="y")

    assert error_of(disabled) == (
        "1905",
        "IPv6 mapping records are not enabled for this subscription.",
    )
    assert error_of(missing)[0] == "1903"
    assert error_of(both)[0] == "1904"
