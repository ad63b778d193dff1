"""Batch conversion of HOST elements against the host-by-host conversion."""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from hypothesis import given
from hypothesis import strategies as st

from integrations.qualys.parsing import host_record, host_records, parse_document
from integrations.qualys.records import ScannedHostRecord

FIELD_VALUES = {
    "ID": ["101", " 102 ", "", "x7", "1_000"],
    "IP": ["192.0.2.1", " 192.0.2.2", "192.0.2.300", "192.0.2.01", "2001:db8::1", "", "  "],
    "IPV6": ["2001:DB8::7", "2001:db8::8", "not-v6", ""],
    "DNS": ["web1.example.test", "  padded.example.test  ", "", "a]]>b"],
    "NETBIOS": ["WEB1", "Réseau – Zürich 東京", ""],
    "OS": ["Linux 5.x", ""],
    "TRACKING_METHOD": ["IP", "DNS", ""],
    "LAST_VULN_SCAN_DATETIME": [
        "2026-11-30T02:00:00Z",
        "2026-11-30T04:00:00+02:00",
        "2026-11-30T02:00:00",
        " 2026-11-30T02:00:00Z ",
        "yesterday",
        "",
    ],
    "NETWORK_ID": ["12", " 13 ", "none", ""],
}

# A field is left out, written as an empty element, or given one of its values.
field_value = {
    tag: st.one_of(st.none(), st.just("<empty/>"), st.sampled_from(values))
    for tag, values in FIELD_VALUES.items()
}
host_fields = st.fixed_dictionaries(field_value)


def host_list(hosts: list[dict[str, str | None]], *, cdata: bool = False) -> bytes:
    parts = []
    for fields in hosts:
        children = []
        for tag, value in fields.items():
            if value is None:
                continue
            if value == "<empty/>":
                children.append(f"<{tag}/>")
            elif cdata and "]]>" not in value:
                children.append(f"<{tag}><![CDATA[{value}]]></{tag}>")
            else:
                children.append(f"<{tag}>{escape(value)}</{tag}>")
        parts.append("<HOST>" + "".join(children) + "</HOST>")
    return ("<HOST_LIST>" + "".join(parts) + "</HOST_LIST>").encode()


def convert_both(body: bytes):
    elements = list(parse_document(body))
    batch_warnings: list[str] = []
    single_warnings: list[str] = []
    batch = host_records(elements, batch_warnings.append)
    single = [host_record(element, single_warnings.append) for element in elements]
    single = [record for record in single if record is not None]
    return batch, batch_warnings, single, single_warnings


def snapshot(records: list[ScannedHostRecord]) -> list[tuple]:
    """Return every field plus the time zone object, which datetime equality ignores."""
    return [
        (astuple(record), record.last_vuln_scan and record.last_vuln_scan.tzinfo)
        for record in records
    ]


@given(st.lists(host_fields, max_size=12), st.booleans())
def test_batch_matches_host_by_host(hosts, cdata):
    batch, batch_warnings, single, single_warnings = convert_both(host_list(hosts, cdata=cdata))

    assert snapshot(batch) == snapshot(single)
    assert batch_warnings == single_warnings


# Values that need no warning and that the column path converts itself.
clean_fields = st.fixed_dictionaries(
    {
        "ID": st.sampled_from(["101", " 102 "]),
        "IP": st.sampled_from(["192.0.2.1", "198.51.100.7"]),
        "IPV6": st.one_of(st.none(), st.just("2001:DB8::7")),
        "DNS": field_value["DNS"],
        "NETBIOS": field_value["NETBIOS"],
        "OS": field_value["OS"],
        "TRACKING_METHOD": field_value["TRACKING_METHOD"],
        "LAST_VULN_SCAN_DATETIME": st.sampled_from(
            ["2026-11-30T02:00:00Z", "2026-11-30T04:00:00+02:00", "2026-11-30T02:00:00"]
        ),
        "NETWORK_ID": st.one_of(st.none(), st.sampled_from(["12", " 13 ", "none"])),
    }
)


@given(st.lists(clean_fields, min_size=1, max_size=12))
def test_clean_batches_match_host_by_host(hosts):
    batch, batch_warnings, single, single_warnings = convert_both(host_list(hosts))

    assert snapshot(batch) == snapshot(single)
    assert batch_warnings == single_warnings == []
    assert all(record.last_vuln_scan.tzinfo is UTC for record in batch)


def test_batch_converts_common_and_odd_values():
    hosts = [
        {"ID": "1", "IP": "192.0.2.1", "DNS": " a.example.test ", "OS": "<empty/>"},
        {"ID": "2", "IP": "192.0.2.2", "LAST_VULN_SCAN_DATETIME": "2026-11-30T04:00:00+02:00"},
        {"ID": "3", "IPV6": "2001:DB8:0:0:0:0:0:7", "NETWORK_ID": " 12 "},
    ]

    records, warnings, _, _ = convert_both(host_list(hosts))

    first, second, third = records
    assert (first.id, first.ip, first.dns, first.os) == (1, "192.0.2.1", "a.example.test", "")
    assert first.last_vuln_scan is None
    assert second.last_vuln_scan == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert (third.ip, third.ipv6, third.network_id) == (None, "2001:db8::7", 12)
    assert warnings == []


def test_batch_with_bad_values_warns_in_host_order():
    hosts = [
        {"ID": "1", "IP": "192.0.2.1", "LAST_VULN_SCAN_DATETIME": "yesterday"},
        {"ID": "x2", "IP": "192.0.2.2"},
        {"ID": "3", "IP": "192.0.2.300"},
    ]

    records, warnings, _, _ = convert_both(host_list(hosts))

    assert [record.id for record in records] == [1, 3]
    assert records[1].ip is None
    assert len(warnings) == 3
    assert (
        warnings[0] == "Host 1: scan time 'yesterday' was ignored because it is not a valid time."
    )
    assert warnings[1] == "A host with ID 'x2' was skipped because the ID is not a whole number."
    assert warnings[2] == (
        "Host 3: IP address '192.0.2.300' was skipped because it is not a valid address "
        "(the octet '300' is more than 255)."
    )
