"""Adding IPs and managing asset groups: POST form bodies, chunking and replies."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import requests

from integrations.qualys import InvalidRequest, QualysTimeout, UnexpectedResponse
from lumeta_qualys.ipset import IPSet

from .conftest import GROUP_URL, IP_URL, assert_qualys_request, fixture_bytes, sent_params

GROUP_PATH = "/api/2.0/fo/asset/group/"


def many_ranges(count: int) -> IPSet:
    """Return ``count`` separate two-address ranges in 10.0.0.0/8."""
    return IPSet.from_intervals(
        v4=[(0x0A000000 + 4 * n, 0x0A000000 + 4 * n + 1) for n in range(count)]
    )


def body_size(call) -> int:
    body = call.request.body
    return len(body.encode() if isinstance(body, str) else body)


# Adding IPs -------------------------------------------------------------------


def test_add_ips_posts_merged_ranges(mocked, client):
    mocked.post(IP_URL, body=fixture_bytes("simple_return_success.xml"))
    ips = IPSet.from_strings(["192.0.2.1", "192.0.2.2", "192.0.2.3", "198.51.100.0/24"])

    client.add_ips(ips)

    assert_qualys_request(
        mocked.calls[0],
        "POST",
        "/api/2.0/fo/asset/ip/",
        {
            "action": "add",
            "enable_vm": "1",
            "ips": "192.0.2.1-192.0.2.3,198.51.100.0-198.51.100.255",
        },
    )


def test_add_ips_splits_only_past_max_body_bytes(mocked, make_client):
    client = make_client(max_body_bytes=4096)
    ips = many_ranges(400)
    for _ in range(20):
        mocked.post(IP_URL, body=fixture_bytes("simple_return_success.xml"))
    mocked.assert_all_requests_are_fired = False

    client.add_ips(ips)

    calls = list(mocked.calls)
    assert 2 <= len(calls) < 20
    assert all(body_size(call) <= 4096 for call in calls)
    # Each chunk is as full as the next token allows.
    assert all(body_size(call) > 4096 - 40 for call in calls[:-1])
    sent = IPSet.from_strings(
        token for call in calls for token in sent_params(call)["ips"].split(",")
    )
    assert sent == ips
    assert all(sent_params(call)["enable_vm"] == "1" for call in calls)


def test_add_ips_single_call_when_body_fits(mocked, client):
    mocked.post(IP_URL, body=fixture_bytes("simple_return_success.xml"))

    client.add_ips(many_ranges(5000))

    assert len(mocked.calls) == 1
    assert body_size(mocked.calls[0]) < 4_000_000


def test_add_ips_empty_set_makes_no_call(mocked, client):
    client.add_ips(IPSet())

    assert len(mocked.calls) == 0


def test_add_ips_rejects_ipv6_before_any_call(mocked, client):
    with pytest.raises(ValueError, match="1 IPv6 address"):
        client.add_ips(IPSet.from_strings(["192.0.2.1", "2001:db8::1"]))

    assert len(mocked.calls) == 0


def test_add_ips_without_vm_is_rejected(client):
    with pytest.raises(ValueError, match="enable_vm"):
        client.add_ips(IPSet.from_strings(["192.0.2.1"]), enable_vm=False)


def test_add_ips_retries_a_timeout(mocked, client, sleeps):
    mocked.post(IP_URL, body=requests.exceptions.ReadTimeout())
    mocked.post(IP_URL, body=fixture_bytes("simple_return_success.xml"))

    client.add_ips(IPSet.from_strings(["192.0.2.1"]))

    assert sleeps == [2.0]


def test_write_reply_must_be_simple_return(mocked, client):
    mocked.post(IP_URL, body=fixture_bytes("ip_list_one_ip.xml"))

    with pytest.raises(UnexpectedResponse, match="instead of <SIMPLE_RETURN>"):
        client.add_ips(IPSet.from_strings(["192.0.2.1"]))


# Asset group list ---------------------------------------------------------------------


def test_list_groups_by_exact_title(mocked, client):
    mocked.get(GROUP_URL, body=fixture_bytes("asset_group_list_lumeta.xml"))

    (group,) = client.list_asset_groups(title="LUMETA_Spectre_DISCOVERED")

    assert group.id == 4242
    assert group.network_id == 0
    assert group.ips == IPSet.from_strings(["192.0.2.10-192.0.2.30", "198.51.100.81"])
    assert_qualys_request(
        mocked.calls[0], "GET", GROUP_PATH, {"action": "list", "title": "LUMETA_Spectre_DISCOVERED"}
    )


def test_list_groups_drops_titles_that_only_look_alike(mocked, client):
    mocked.get(GROUP_URL, body=fixture_bytes("asset_group_list_titles.xml"))

    assert client.list_asset_groups(title="10.1") == []


def test_group_titles_are_exact_text(mocked, client):
    mocked.get(GROUP_URL, body=fixture_bytes("asset_group_list_titles.xml"))

    first, second, third = client.list_asset_groups()

    assert (first.title, first.ips) == ("10.10", IPSet.from_strings(["192.0.2.1", "192.0.2.2"]))
    assert (second.title, second.network_id) == ("0123", 5)
    assert second.ips == IPSet.from_strings(["198.51.100.1"])
    assert third.title == "Réseau – Zürich 東京"
    assert third.ips == IPSet()
    assert client.warnings == [
        "Asset group 2: 'bad value' was skipped because it is not a valid address or range "
        "('bad value' does not appear to be an IPv4 or IPv6 address)."
    ]


def test_group_list_follows_pages(mocked, client):
    page1 = fixture_bytes("asset_group_list_titles.xml").replace(
        b"</ASSET_GROUP_LIST>",
        b"</ASSET_GROUP_LIST><WARNING><CODE>1980</CODE><TEXT>3 record limit exceeded.</TEXT>"
        b"<URL><![CDATA[https://qualysapi.example.test/api/2.0/fo/asset/group/?action=list&id_min=4242]]></URL>"
        b"</WARNING>",
    )
    mocked.get(GROUP_URL, body=page1)
    mocked.get(GROUP_URL, body=fixture_bytes("asset_group_list_lumeta.xml"))

    groups = client.list_asset_groups()

    assert [group.id for group in groups] == [1, 2, 3, 4242]
    assert sent_params(mocked.calls[1]) == {"action": "list", "id_min": "4242"}


# Asset group add, edit, delete ------------------------------------------------------


def test_add_group_returns_id_from_reply(mocked, client):
    mocked.post(GROUP_URL, body=fixture_bytes("simple_return_group_added_with_id.xml"))

    group_id = client.add_asset_group(
        "LUMETA_Spectre_DISCOVERED", IPSet.from_strings(["192.0.2.0/30"])
    )

    assert group_id == 4243
    assert_qualys_request(
        mocked.calls[0],
        "POST",
        GROUP_PATH,
        {"action": "add", "title": "LUMETA_Spectre_DISCOVERED", "ips": "192.0.2.0-192.0.2.3"},
    )


def test_add_group_without_id_in_reply(mocked, client):
    mocked.post(GROUP_URL, body=fixture_bytes("simple_return_success.xml"))

    assert client.add_asset_group("Empty", IPSet()) is None
    assert sent_params(mocked.calls[0]) == {"action": "add", "title": "Empty"}


def test_add_group_in_chunks_looks_up_id(mocked, make_client):
    client = make_client(max_body_bytes=2048)
    ips = many_ranges(150)
    mocked.post(GROUP_URL, body=fixture_bytes("simple_return_success.xml"))
    mocked.get(GROUP_URL, body=fixture_bytes("asset_group_list_lumeta.xml"))
    for _ in range(6):
        mocked.post(GROUP_URL, body=fixture_bytes("simple_return_success.xml"))
    mocked.assert_all_requests_are_fired = False

    group_id = client.add_asset_group("LUMETA_Spectre_DISCOVERED", ips)

    assert group_id == 4242
    calls = list(mocked.calls)
    assert sent_params(calls[0])["action"] == "add"
    assert sent_params(calls[1]) == {
        "action": "list",
        "title": "LUMETA_Spectre_DISCOVERED",
        "show_attributes": "ID,TITLE",
    }
    edits = [sent_params(call) for call in calls[2:]]
    assert edits
    assert all(edit["action"] == "edit" and edit["id"] == "4242" for edit in edits)
    sent = IPSet.from_strings(sent_params(calls[0])["ips"].split(","))
    for edit in edits:
        sent = sent | IPSet.from_strings(edit["add_ips"].split(","))
    assert sent == ips


def test_add_group_is_not_retried_after_timeout(mocked, client, sleeps):

    mocked.post(GROUP_URL, body=requests.exceptions.ReadTimeout())

    with pytest.raises(QualysTimeout):
        client.add_asset_group("LUMETA_Spectre_DISCOVERED", IPSet.from_strings(["192.0.2.1"]))

    assert sleeps == []
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("title", ["", "   ", "x" * 256])
def test_add_group_rejects_bad_titles(client, title):
    with pytest.raises(ValueError, match="title"):
        client.add_asset_group(title, IPSet())


def test_set_ips_in_chunks_sets_then_adds(mocked, make_client):
    client = make_client(max_body_bytes=2048)
    ips = many_ranges(150)
    for _ in range(8):
        mocked.post(GROUP_URL, body=fixture_bytes("simple_return_success.xml"))
    mocked.assert_all_requests_are_fired = False

    client.edit_asset_group(4242, set_ips=ips)

    params = [sent_params(call) for call in mocked.calls]
    assert len(params) >= 2
    assert set(params[0]) == {"action", "id", "set_ips"}
    assert all(set(p) == {"action", "id", "add_ips"} for p in params[1:])
    assert all(p["id"] == "4242" and p["action"] == "edit" for p in params)
    assert all(body_size(call) <= 2048 for call in mocked.calls)
    sent = IPSet.from_strings(params[0]["set_ips"].split(","))
    for p in params[1:]:
        sent = sent | IPSet.from_strings(p["add_ips"].split(","))
    assert sent == ips


def test_set_ips_single_call(mocked, client):
    mocked.post(GROUP_URL, body=fixture_bytes("simple_return_success.xml"))

    client.edit_asset_group(4242, set_ips=IPSet.from_strings(["192.0.2.1", "192.0.2.2"]))

    assert_qualys_request(
        mocked.calls[0],
        "POST",
        GROUP_PATH,
        {"action": "edit", "id": "4242", "set_ips": "192.0.2.1-192.0.2.2"},
    )


def test_set_empty_removes_current_contents(mocked, client):
    mocked.get(GROUP_URL, body=fixture_bytes("asset_group_list_lumeta.xml"))
    mocked.post(GROUP_URL, body=fixture_bytes("simple_return_success.xml"))

    client.edit_asset_group(4242, set_ips=IPSet())

    assert sent_params(mocked.calls[0]) == {"action": "list", "ids": "4242"}
    assert_qualys_request(
        mocked.calls[1],
        "POST",
        GROUP_PATH,
        {"action": "edit", "id": "4242", "remove_ips": "192.0.2.10-192.0.2.30,198.51.100.81"},
    )


def test_set_empty_on_empty_group_makes_no_write(mocked, client):
    body = fixture_bytes("asset_group_list_lumeta.xml")
    start, end = body.index(b"<IP_SET>"), body.index(b"</IP_SET>") + len(b"</IP_SET>")
    mocked.get(GROUP_URL, body=body[:start] + body[end:])

    client.edit_asset_group(4242, set_ips=IPSet())

    assert len(mocked.calls) == 1


def test_set_empty_on_missing_group_raises(mocked, client):
    mocked.get(GROUP_URL, body=group_list(""))

    with pytest.raises(InvalidRequest, match="Asset group 77 was not found"):
        client.edit_asset_group(77, set_ips=IPSet())


def group_list(groups: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='UTF-8' ?>\n<ASSET_GROUP_LIST_OUTPUT><RESPONSE>"
        f"<DATETIME>2026-11-30T08:00:00Z</DATETIME><ASSET_GROUP_LIST>{groups}"
        "</ASSET_GROUP_LIST></RESPONSE></ASSET_GROUP_LIST_OUTPUT>"
    ).encode()


def group(group_id: int, entries: str) -> str:
    ip_set = f"<IP_SET>{entries}</IP_SET>" if entries else ""
    return f"<ASSET_GROUP><ID>{group_id}</ID><TITLE>T</TITLE>{ip_set}</ASSET_GROUP>"


def test_asset_group_ips_of_one_group(mocked, client):
    mocked.get(GROUP_URL, body=fixture_bytes("asset_group_list_lumeta.xml"))

    ips = client.asset_group_ips(4242)

    assert sent_params(mocked.calls[0]) == {"action": "list", "ids": "4242"}
    assert ips == IPSet.from_strings(["192.0.2.10-192.0.2.30", "198.51.100.81"])


def test_large_group_ips_read_in_chunks(mocked, client):
    # Far more than one chunk of the stream: the IP_SET is taken part by part.
    expected = many_ranges(60_000)
    entries = "".join(f"<IP_RANGE>{token}</IP_RANGE>" for token in expected.qualys_tokens())
    mocked.get(GROUP_URL, body=group_list(group(7, entries + "<IP>11.0.0.1</IP>")))

    ips = client.asset_group_ips(7)

    assert ips == expected | IPSet.from_strings(["11.0.0.1"])


def test_asset_group_ips_of_an_empty_group(mocked, client):
    mocked.get(GROUP_URL, body=group_list(group(7, "")))

    assert client.asset_group_ips(7) == IPSet()


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        (group(7, "<IP>192.0.2.1</IP>") + group(8, "<IP>192.0.2.2</IP>"), "more than one"),
        (group(8, "<IP>192.0.2.2</IP>"), "listed asset group 8 when asked for group 7"),
    ],
    ids=["two groups", "another group"],
)
def test_group_ips_reject_other_groups(mocked, client, groups, match):
    mocked.get(GROUP_URL, body=group_list(groups))

    with pytest.raises(UnexpectedResponse, match=match):
        client.asset_group_ips(7)


def test_group_ips_skip_bad_entry(mocked, client):
    mocked.get(GROUP_URL, body=group_list(group(7, "<IP>192.0.2.1</IP><IP>192.0.2.300</IP>")))

    assert client.asset_group_ips(7) == IPSet.from_strings(["192.0.2.1"])
    assert any("'192.0.2.300' was skipped" in warning for warning in client.warnings)


def test_add_and_remove_ips(mocked, client):
    mocked.post(GROUP_URL, body=fixture_bytes("simple_return_success.xml"))
    mocked.post(GROUP_URL, body=fixture_bytes("simple_return_success.xml"))

    client.edit_asset_group(
        4242,
        add_ips=IPSet.from_strings(["192.0.2.5"]),
        remove_ips=IPSet.from_strings(["198.51.100.0/31"]),
    )

    assert sent_params(mocked.calls[0]) == {"action": "edit", "id": "4242", "add_ips": "192.0.2.5"}
    assert sent_params(mocked.calls[1]) == {
        "action": "edit",
        "id": "4242",
        "remove_ips": "198.51.100.0-198.51.100.1",
    }


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({}, "needs set_ips, add_ips or remove_ips"),
        ({"set_ips": IPSet(), "add_ips": IPSet()}, "cannot be combined"),
        (
            {
                "add_ips": IPSet.from_strings(["192.0.2.1"]),
                "remove_ips": IPSet.from_strings(["192.0.2.0/30"]),
            },
            "overlap",
        ),
    ],
)
def test_edit_rejects_ambiguous_arguments(mocked, client, options, match):
    with pytest.raises(ValueError, match=match):
        client.edit_asset_group(1, **options)

    assert len(mocked.calls) == 0


def test_delete_group(mocked, client):
    mocked.post(GROUP_URL, body=fixture_bytes("simple_return_success.xml"))

    client.delete_asset_group(4242)

    assert_qualys_request(mocked.calls[0], "POST", GROUP_PATH, {"action": "delete", "id": "4242"})


def test_find_group_ids_sends_attribute_list(mocked, client):
    mocked.get(GROUP_URL, body=fixture_bytes("asset_group_list_lumeta.xml"))

    assert client.find_asset_group_ids("LUMETA_Spectre_DISCOVERED") == [4242]
    assert client.find_asset_group_ids("lumeta_spectre_discovered") == []
    assert_qualys_request(
        mocked.calls[0],
        "GET",
        GROUP_PATH,
        {"action": "list", "title": "LUMETA_Spectre_DISCOVERED", "show_attributes": "ID,TITLE"},
    )


def test_find_group_ids_retries_without_attributes(mocked, client):
    rejected = (
        b"<SIMPLE_RETURN><RESPONSE><DATETIME>2026-11-30T08:00:00Z</DATETIME><CODE>1903</CODE>"
        b"<TEXT>Unrecognized parameter(s): show_attributes</TEXT></RESPONSE></SIMPLE_RETURN>"
    )
    mocked.get(GROUP_URL, body=rejected, status=400)
    mocked.get(GROUP_URL, body=fixture_bytes("asset_group_list_lumeta.xml"))

    assert client.find_asset_group_ids("LUMETA_Spectre_DISCOVERED") == [4242]
    assert len(mocked.calls) == 2
    assert sent_params(mocked.calls[1]) == {
        "action": "list",
        "title": "LUMETA_Spectre_DISCOVERED",
    }


def test_duplicate_title_error_is_reported(mocked, client):
    body = (
        b"<SIMPLE_RETURN><RESPONSE><DATETIME>2026-11-30T08:00:00Z</DATETIME><CODE>1905</CODE>"
        b"<TEXT>Asset Group title 'X' already exists. Please use a different title.</TEXT>"
        b"</RESPONSE></SIMPLE_RETURN>"
    )
    mocked.post(GROUP_URL, body=body, status=400)

    with pytest.raises(InvalidRequest, match="already exists. Please use a different title"):
        client.add_asset_group("X", IPSet())


def test_chunk_budget_counts_encoded_ipv6_tokens(make_client):
    client = make_client(max_body_bytes=1024)
    ips = IPSet.from_intervals(
        v6=[((0x20010DB8 << 96) + 4 * n, (0x20010DB8 << 96) + 4 * n + 1) for n in range(60)]
    )
    base = {"action": "edit", "id": "1"}

    chunks = list(client._chunks(base, "add_ips", ips))

    assert len(chunks) > 1
    assert all(len(urlencode({**base, "add_ips": chunk})) <= 1024 for chunk in chunks)
    assert IPSet.from_strings(t for chunk in chunks for t in chunk.split(",")) == ips
