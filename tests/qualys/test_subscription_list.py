"""The subscription IP list: intervals, bad values, empty shapes and hardened parsing."""

from __future__ import annotations

import random

import pytest

from integrations.qualys import MalformedResponse
from lumeta_qualys.ipset import AddressError, IPSet, format_address, parse_range

from .conftest import IP_URL, assert_qualys_request, fixture_bytes


def test_list_subscription_sends_list_call(mocked, client):
    mocked.get(IP_URL, body=fixture_bytes("ip_list_one_ip.xml"))

    client.list_subscription()

    assert len(mocked.calls) == 1
    assert_qualys_request(mocked.calls[0], "GET", "/api/2.0/fo/asset/ip/", {"action": "list"})


def test_unaligned_ranges_keep_every_address(mocked, client):
    mocked.get(IP_URL, body=fixture_bytes("ip_list_unaligned_ranges.xml"))

    result = client.list_subscription()

    assert result.ips.v4 == ((int.from_bytes(bytes([192, 0, 2, 1])), 0xC0000214),)
    assert result.ips.size_v4 == 20
    assert result.ips.size_v6 == 255
    assert list(result.ips.qualys_tokens()) == [
        "192.0.2.1-192.0.2.20",
        "2001:db8::1-2001:db8::ff",
    ]


def test_overlaps_duplicates_and_bad_values_merge(mocked, client):
    mocked.get(IP_URL, body=fixture_bytes("ip_list_overlaps.xml"))

    result = client.list_subscription()

    expected = IPSet.from_strings(
        [
            "192.0.2.10-192.0.2.12",  # an IP inside a range counts once: 3, not 4
            "198.51.100.1-198.51.100.8",  # overlapping ranges: 8, not 10
            "203.0.113.7",  # duplicate IP: 1
            "203.0.113.20-203.0.113.29",  # adjacent ranges merge
            "203.0.113.100",  # network_id attribute is not part of the address
            "0.0.0.7",  # IPv6 placeholder kept as listed
            "2001:db8::7",
            "2001:db8::100-2001:db8::1ff",
        ]
    )
    assert result.ips == expected
    assert result.ips.size_v4 == 3 + 8 + 1 + 10 + 1 + 1
    assert result.ips.size_v6 == 1 + 256
    assert result.rejected == ["not-an-ip", "203.0.113.9-203.0.113.2"]
    assert len(client.warnings) == 2
    assert "'not-an-ip'" in client.warnings[0]
    assert "ends before it starts" in client.warnings[1]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("ip_list_no_ip_set.xml", IPSet()),
        ("ip_list_one_ip.xml", IPSet.from_strings(["192.0.2.1"])),
        ("ip_list_empty_ip_set.xml", IPSet()),
    ],
)
def test_missing_single_and_empty_ip_set(mocked, client, fixture, expected):
    mocked.get(IP_URL, body=fixture_bytes(fixture))

    result = client.list_subscription()

    assert result.ips == expected
    assert result.rejected == []
    assert client.warnings == []


def test_entity_declarations_are_rejected(mocked, client):
    mocked.get(IP_URL, body=fixture_bytes("entity_expansion.xml"))

    with pytest.raises(MalformedResponse, match="declares DTD entities"):
        client.list_subscription()


def test_external_entity_is_rejected_without_reading_file(mocked, client):
    mocked.get(IP_URL, body=fixture_bytes("external_entity.xml"))

    with pytest.raises(MalformedResponse, match="declares DTD entities"):
        client.list_subscription()


def test_leading_whitespace_and_bom_before_declaration(mocked, client):
    body = b"\xef\xbb\xbf\n\t  " + fixture_bytes("ip_list_unaligned_ranges.xml")
    mocked.get(IP_URL, body=body)

    assert client.list_subscription().ips.size == 20 + 255


def test_body_cut_inside_ip_set_raises(mocked, client):
    body = fixture_bytes("ip_list_overlaps.xml")
    mocked.get(IP_URL, body=body[: body.index(b"<IP>203.0.113.7")])

    with pytest.raises(MalformedResponse, match="ends before the XML document is complete"):
        client.list_subscription()


def test_truncation_warning_on_ip_list_is_not_ignored(mocked, client):
    body = (
        b"<IP_LIST_OUTPUT><RESPONSE><IP_SET><IP>192.0.2.1</IP></IP_SET>"
        b"<WARNING><CODE>1980</CODE><TEXT>1 record limit exceeded.</TEXT>"
        b"<URL>https://qualysapi.example.test/api/2.0/fo/asset/ip/?action=list&amp;id_min=2</URL>"
        b"</WARNING></RESPONSE></IP_LIST_OUTPUT>"
    )
    mocked.get(IP_URL, body=body)

    with pytest.raises(Exception, match="incomplete"):
        client.list_subscription()


def test_mismatched_tag_in_first_chunk_is_malformed(mocked, client):
    body = fixture_bytes("ip_list_one_ip.xml").replace(
        b"<IP_SET>", b"<DATETIME>x</DATETIM><IP_SET>"
    )
    mocked.get(IP_URL, body=body)

    with pytest.raises(MalformedResponse, match="not well-formed XML"):
        client.list_subscription()


def test_many_bad_values_are_counted_not_all_listed(mocked, client):
    bad = b"".join(b"<IP>bad-%d</IP>" % n for n in range(250))
    body = (
        b"<IP_LIST_OUTPUT><RESPONSE><IP_SET>"
        + bad
        + b"<IP>192.0.2.1</IP></IP_SET></RESPONSE></IP_LIST_OUTPUT>"
    )
    mocked.get(IP_URL, body=body)

    result = client.list_subscription()

    assert result.ips == IPSet.from_strings(["192.0.2.1"])
    assert len(result.rejected) == 250
    assert len(client.warnings) == 201
    assert client.warnings[-1] == (
        "50 more values were skipped or cleaned; only the first 200 are listed."
    )


def test_empty_and_unknown_entries_keep_their_place(mocked, client):
    body = (
        b"<IP_LIST_OUTPUT><RESPONSE><IP_SET><IP>192.0.2.1</IP><IP/><OTHER>x</OTHER>"
        b"<IP_RANGE>192.0.2.5-192.0.2.6</IP_RANGE><IP></IP><IP>192.0.2.9</IP>"
        b"</IP_SET></RESPONSE></IP_LIST_OUTPUT>"
    )
    mocked.get(IP_URL, body=body)

    result = client.list_subscription()

    assert result.ips == IPSet.from_strings(["192.0.2.1", "192.0.2.5-192.0.2.6", "192.0.2.9"])
    assert result.rejected == ["", ""]
    assert len(client.warnings) == 2


@pytest.mark.parametrize("order", ["ascending", "shuffled"])
def test_long_list_read_in_chunks_matches_each_entry(mocked, client, order):
    texts = []
    for n in range(20_000):
        start = (10 << 24) + n * 8
        if n % 3:
            texts.append(format_address(4, start))
        else:
            # Every third entry is a range that reaches into the next entry.
            texts.append(f"{format_address(4, start)}-{format_address(4, start + 9)}")
    texts[5_000] = "2001:db8::1-2001:db8::9"
    texts[12_345] = "10.0.0.300"
    texts[17_000] = "10.1.0.9-10.1.0.1"
    if order == "shuffled":
        random.Random(7).shuffle(texts)
    entries = b"".join(
        b"<IP_RANGE network_id='3'>%s</IP_RANGE>" % text.encode()
        if "-" in text
        else b"<IP>%s</IP>" % text.encode()
        for text in texts
    )
    body = (
        b"<IP_LIST_OUTPUT><RESPONSE><IP_SET>" + entries + b"</IP_SET></RESPONSE></IP_LIST_OUTPUT>"
    )
    mocked.get(IP_URL, body=body)

    result = client.list_subscription()

    valid = []
    invalid = []
    for text in texts:
        try:
            valid.append(parse_range(text))
        except AddressError:
            invalid.append(text)
    assert len(body) > 10 * 64 * 1024
    assert result.ips == IPSet.from_ranges(valid)
    assert result.rejected == invalid
    assert len(invalid) == 2


def test_doctype_dtd_is_never_loaded(mocked, client, tmp_path):
    # Loading this broken DTD (load_dtd or dtd_validation) would fail the
    # reply, so a reply that parses proves that the DTD was not read.
    dtd = tmp_path / "ip_list_output.dtd"
    dtd.write_text("<!ELEMENT IP_LIST_OUTPUT (((\n")
    body = fixture_bytes("ip_list_overlaps.xml").replace(
        b"https://qualysapi.example.test/api/2.0/fo/asset/ip/ip_list_output.dtd",
        dtd.as_uri().encode(),
    )
    assert dtd.as_uri().encode() in body
    mocked.get(IP_URL, body=body)

    result = client.list_subscription()

    assert result.ips.size_v4 == 3 + 8 + 1 + 10 + 1 + 1
    assert result.rejected == ["not-an-ip", "203.0.113.9-203.0.113.2"]
