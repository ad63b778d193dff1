"""Asset groups: list shapes and paging, add, edit, delete, title rules, subscription check."""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.emulator.helpers import GROUP, call, error_of, ip_tokens, next_url, parse

pytestmark = pytest.mark.services

STATE = {
    "subscription": {"ips": ["192.0.2.0/24", "198.51.100.0/24"]},
    "asset_groups": [
        {"id": 7, "title": "Perimeter", "ips": ["192.0.2.1", "192.0.2.10-192.0.2.30"]},
        {"id": 3, "title": "Empty group", "ips": []},
        {"id": 12, "title": "Réseau – Zürich 東京", "ips": ["198.51.100.7"], "comments": "c"},
    ],
}


@pytest.fixture(scope="module")
def reader(module_emulator):
    return module_emulator(STATE)


@pytest.fixture
def emu(fresh_emulator):
    return fresh_emulator(STATE)


def groups(emu, **params):
    response = call(emu, GROUP, action="list", **params)
    assert response.status_code == 200, response.text
    root = parse(response)
    assert root.tag == "ASSET_GROUP_LIST_OUTPUT"
    return root, root.findall("RESPONSE/ASSET_GROUP_LIST/ASSET_GROUP")


def test_list_writes_sample_shape(reader):
    response = call(reader, GROUP, action="list")
    root, items = groups(reader)

    assert b"<TITLE><![CDATA[Perimeter]]></TITLE>" in response.content
    assert [item.findtext("ID") for item in items] == ["3", "7", "12"]
    assert [child.tag for child in items[1]] == ["ID", "TITLE", "NETWORK_ID", "IP_SET"]
    assert ip_tokens(items[1]) == ["192.0.2.1", "192.0.2.10-192.0.2.30"]
    assert items[2].findtext("TITLE") == "Réseau – Zürich 東京"


def test_group_without_ips_has_no_ip_set(reader):
    _, items = groups(reader, ids="3")

    assert items[0].find("IP_SET") is None


def test_title_filter_is_exact(reader):
    assert [i.findtext("ID") for i in groups(reader, title="Perimeter")[1]] == ["7"]
    assert groups(reader, title="perimeter")[1] == []
    assert groups(reader, title="Perim")[1] == []


def test_show_attributes_selects_children(reader):
    _, items = groups(reader, ids="12", show_attributes="ID,TITLE")
    assert [child.tag for child in items[0]] == ["ID", "TITLE"]

    _, items = groups(reader, ids="12", show_attributes="ALL")
    tags = [child.tag for child in items[0]]
    assert tags[:2] == ["ID", "TITLE"]
    assert {"BUSINESS_IMPACT", "COMMENTS", "IP_SET"} <= set(tags)


def test_list_pages_with_truncation_limit(reader):
    root, items = groups(reader, truncation_limit="2")

    assert [item.findtext("ID") for item in items] == ["3", "7"]
    query = parse_qs(urlsplit(next_url(root)).query)
    assert query == {"action": ["list"], "truncation_limit": ["2"], "id_min": ["12"]}
    root, items = groups(reader, truncation_limit="2", id_min="12")
    assert [item.findtext("ID") for item in items] == ["12"]
    assert next_url(root) is None


def test_add_creates_group_and_returns_id(emu):
    response = call(
        emu,
        GROUP,
        method="POST",
        action="add",
        title="LUMETA_Spectre_DISCOVERED",
        ips="192.0.2.5,192.0.2.6",
    )

    assert response.status_code == 200
    root = parse(response)
    assert root.find("RESPONSE/CODE") is None
    assert root.findtext("RESPONSE/TEXT") == "Asset Group successfully added."
    assert root.findtext("RESPONSE/ITEM_LIST/ITEM/KEY") == "ID"
    new_id = root.findtext("RESPONSE/ITEM_LIST/ITEM/VALUE")
    _, items = groups(emu, title="LUMETA_Spectre_DISCOVERED")
    assert items[0].findtext("ID") == new_id == "13"
    assert ip_tokens(items[0]) == ["192.0.2.5-192.0.2.6"]
    assert emu.write_log()[-1]["action"] == "asset/group add"


def test_add_without_ips_creates_empty_group(emu):
    assert call(emu, GROUP, method="POST", action="add", title="Nothing yet").status_code == 200

    _, items = groups(emu, title="Nothing yet")

    assert items[0].find("IP_SET") is None


def test_add_title_rules(emu):
    cases = [
        ({"title": "Perimeter"}, "1905", "already exists. Please use a different title"),
        ({"title": "x" * 256}, "1905", "longer than 255"),
        ({"title": ""}, "1903", "title"),
        ({}, "1903", "title"),
    ]
    for params, code, text in cases:
        response = call(emu, GROUP, method="POST", action="add", **params)
        assert response.status_code == 400, params
        got_code, got_text = error_of(response)
        assert got_code == code, params
        assert text in got_text, params
    assert call(emu, GROUP, method="POST", action="add", title="y" * 255).status_code == 200
    assert len(emu.write_log()) == 1


def test_ips_outside_subscription_are_rejected(emu):
    add = call(emu, GROUP, method="POST", action="add", title="New", ips="192.0.2.5,203.0.113.1")
    edit = call(emu, GROUP, method="POST", action="edit", id="7", add_ips="203.0.113.1")

    for response in (add, edit):
        assert response.status_code == 400
        assert error_of(response) == ("1905", "IP(s) do not exist.")
    assert groups(emu, title="New")[1] == []
    assert emu.write_log() == []


def test_edit_set_add_remove_ips_and_title(emu):
    ok = [
        call(emu, GROUP, method="POST", action="edit", id="7", set_ips="192.0.2.100-192.0.2.110"),
        call(
            emu,
            GROUP,
            method="POST",
            action="edit",
            id="7",
            add_ips="192.0.2.111",
            remove_ips="192.0.2.100-192.0.2.104",
        ),
        call(emu, GROUP, method="POST", action="edit", id="7", set_title="Edge"),
    ]

    for response in ok:
        assert response.status_code == 200, response.text
        assert parse(response).findtext("RESPONSE/TEXT") == "Asset Group Updated Successfully"
    _, items = groups(emu, ids="7")
    assert items[0].findtext("TITLE") == "Edge"
    assert ip_tokens(items[0]) == ["192.0.2.105-192.0.2.111"]
    assert [entry["params"].get("set_title") for entry in emu.write_log()] == [None, None, "Edge"]


def test_edit_rejects_bad_requests(emu):
    cases = [
        ({"id": "7", "set_ips": ""}, "1905"),
        ({"id": "7", "set_ips": "192.0.2.1", "add_ips": "192.0.2.2"}, "1904"),
        ({"id": "7"}, "1922"),
        ({"id": "99", "add_ips": "192.0.2.2"}, "1905"),
        ({"add_ips": "192.0.2.2"}, "1903"),
        ({"id": "7", "set_title": "Empty group"}, "1905"),
    ]
    for params, code in cases:
        response = call(emu, GROUP, method="POST", action="edit", **params)
        assert response.status_code == 400, params
        assert error_of(response)[0] == code, params
    assert emu.write_log() == []


def test_edit_to_own_title_is_allowed(emu):
    response = call(emu, GROUP, method="POST", action="edit", id="7", set_title="Perimeter")

    assert response.status_code == 200


def test_delete_removes_group(emu):
    response = call(emu, GROUP, method="POST", action="delete", id="7")
    again = call(emu, GROUP, method="POST", action="delete", id="7")

    assert parse(response).findtext("RESPONSE/TEXT") == "Asset Group Deleted Successfully"
    assert [item.findtext("ID") for item in groups(emu)[1]] == ["3", "12"]
    assert again.status_code == 400
    assert [group["id"] for group in emu.read_state()["asset_groups"]] == [3, 12]


def test_writes_by_get_are_refused(reader):
    for action, params in (
        ("add", {"title": "G"}),
        ("edit", {"id": "7", "set_title": "G"}),
        ("delete", {"id": "7"}),
    ):
        response = call(reader, GROUP, method="GET", action=action, **params)
        assert response.status_code == 400, action
        assert error_of(response)[0] == "1908", action
    assert len(groups(reader)[1]) == 3


def test_echo_request_adds_request_block(reader):
    response = call(reader, GROUP, action="list", ids="7", echo_request="1")
    root = parse(response)
    request = root.find("REQUEST")

    assert [child.tag for child in root] == ["REQUEST", "RESPONSE"]
    assert request.findtext("USER_LOGIN") == "apiuser"
    assert request.findtext("RESOURCE") == f"{reader.url}{GROUP}"
    params = {p.findtext("KEY"): p.findtext("VALUE") for p in request.iterfind("PARAM_LIST/PARAM")}
    assert params == {"action": "list", "ids": "7"}
    assert call(reader, GROUP, action="list").content.find(b"<REQUEST>") == -1
    assert error_of(call(reader, GROUP, action="list", echo_request="yes"))[0] == "1905"


def test_echo_request_on_write_reply(emu):
    response = call(emu, GROUP, method="POST", action="delete", id="3", echo_request="1")
    root = parse(response)

    assert [child.tag for child in root] == ["REQUEST", "RESPONSE"]
    assert root.findtext("RESPONSE/TEXT") == "Asset Group Deleted Successfully"
