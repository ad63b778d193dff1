"""The client against every recorded Qualys reply and documentation sample.

Files come from the shared sample folders beside the repository; each test
skips with a reason when its file is absent. Replies recorded with their
HTTP headers are served with those headers and that status.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from integrations.qualys import (
    AccountUnavailable,
    AuthenticationFailed,
    ConcurrencyLimited,
    InvalidRequest,
    RateLimited,
    RegistrationIncomplete,
    UnexpectedResponse,
)
from integrations.qualys.parsing import PARSER_OPTIONS, Warning1980
from lumeta_qualys.ipset import IPSet

from .conftest import (
    FIXTURES,
    GROUP_URL,
    HOST_URL,
    IP_MAP_URL,
    IP_URL,
    REAL_INPUTS,
    SAMPLES,
    assert_qualys_request,
    sent_params,
    shared_bytes,
)

SKIPPED_HEADERS = {
    "transfer-encoding",
    "connection",
    "keep-alive",
    "content-type",
    "content-length",
}


def recorded_reply(path: Path) -> tuple[int, dict[str, str], str]:
    """Read the status, headers and content type of a recorded reply (.http.txt or .headers.txt)."""
    text = shared_bytes(path).decode()
    if "# RESPONSE" in text:
        text = text.split("# RESPONSE", 1)[1].split("\n", 1)[1]
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    status_line = next(line for line in lines if line.startswith("HTTP/"))
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    content_type = "application/xml"
    for line in lines[lines.index(status_line) + 1 :]:
        name, _, value = line.partition(":")
        if name.lower() == "content-type":
            content_type = value.strip()
        elif name.lower() not in SKIPPED_HEADERS:
            headers[name.strip()] = value.strip()
    return status, headers, content_type


# IP list ---------------------------------------------------------------------


def test_reconstructed_ip_list(mocked, client):
    mocked.get(IP_URL, body=shared_bytes(SAMPLES / "ip_list_output.RECONSTRUCTED.xml"))

    result = client.list_subscription()

    assert result.ips == IPSet.from_strings(
        ["192.0.2.1", "192.0.2.10-192.0.2.30", "198.51.100.7", "203.0.113.0/24"]
    )
    assert result.ips.size == 1 + 21 + 1 + 256
    assert result.rejected == []


def test_asset_data_report_is_not_an_ip_list(mocked, client):
    mocked.get(IP_URL, body=shared_bytes(REAL_INPUTS / "asset_data_report_ranges_start_end.xml"))

    with pytest.raises(UnexpectedResponse, match="<ASSET_DATA_REPORT> document"):
        client.list_subscription()


# Host list ------------------------------------------------------------------


def test_host_list_details_sample(mocked, client):
    mocked.get(HOST_URL, body=shared_bytes(SAMPLES / "host_list_output_details.sample.xml"))

    hosts = list(client.iter_scanned_hosts())

    assert len(hosts) == 1
    host = hosts[0]
    assert host.id == 2872568
    assert host.ip == "192.0.2.182"
    assert host.ipv6 is None
    assert host.tracking_method == "IP"
    assert host.netbios == "HOST-EXAMPLE-01"
    assert host.os == "Linux 2.4-2.6 / Embedded Device / F5 Networks Big-IP / Linux 2.6"
    assert host.dns == ""
    assert host.last_vuln_scan == datetime(2017, 2, 5, 19, 48, 17, tzinfo=UTC)
    assert host.network_id is None
    assert client.warnings == []


def test_host_list_ec2_sample_with_metadata(mocked, client):
    mocked.get(HOST_URL, body=shared_bytes(SAMPLES / "host_list_output_ec2_details_all.sample.xml"))

    (host,) = client.iter_scanned_hosts()

    assert host.id == 135151
    assert host.ip == "192.0.2.247"
    assert host.tracking_method == "EC2"
    assert host.dns == "i-0123456789abcdef0"
    assert host.os == "Amazon Linux 2016.09"
    assert host.last_vuln_scan == datetime(2017, 3, 21, 13, 39, 38, tzinfo=UTC)


def test_truncated_sample_requests_next_page(mocked, client):
    mocked.get(HOST_URL, body=shared_bytes(SAMPLES / "host_list_output_truncated.sample.xml"))
    mocked.get(HOST_URL, body=shared_bytes(SAMPLES / "host_list_output_empty.sample.xml"))

    hosts = list(client.iter_scanned_hosts(page_size=1000))

    assert [host.id for host in hosts] == [2872568]
    assert sent_params(mocked.calls[1]) == {
        "action": "list",
        "details": "Basic",
        "truncation_limit": "1000",
        "id_min": "2400356",
    }


def test_detection_fragment_warning_url(mocked, client):
    fragment = shared_bytes(SAMPLES / "host_list_vm_detection_truncated.fragment.txt")
    url = re.search(rb"<!\[CDATA\[(.*?)\]\]>", fragment).group(1).decode()

    assert Warning1980("1980", "", url).next_id_min() == "5641289"

    # The fragment itself is not a document: served as a reply it is rejected.
    mocked.get(HOST_URL, body=fragment)
    with pytest.raises(UnexpectedResponse, match=r"HTTP 200 \(not XML\)"):
        list(client.iter_scanned_hosts())


@pytest.mark.parametrize(
    ("body_path", "headers_path"),
    [
        (
            SAMPLES / "host_list_output_empty.sample.xml",
            SAMPLES / "host_list_output_empty.http.txt",
        ),
        (REAL_INPUTS / "host_list_ids_empty.xml", REAL_INPUTS / "host_list_ids_empty.headers.txt"),
    ],
    ids=["sample", "real-input"],
)
def test_empty_host_list_capture(mocked, client, body_path, headers_path):
    status, headers, content_type = recorded_reply(headers_path)
    mocked.get(
        HOST_URL,
        body=shared_bytes(body_path),
        status=status,
        headers=headers,
        content_type=content_type,
    )

    assert list(client.iter_scanned_hosts()) == []
    assert client.budget.rate_limit == 300
    assert client.budget.rate_remaining == 297
    assert client.budget.concurrency_limit == 2


@pytest.mark.parametrize(
    ("body_path", "headers_path"),
    [
        (
            SAMPLES / "host_list_output_idset.sample.xml",
            SAMPLES / "host_list_output_idset.http.txt",
        ),
        (REAL_INPUTS / "host_list_ids_one.xml", REAL_INPUTS / "host_list_ids_one.headers.txt"),
    ],
    ids=["sample", "real-input"],
)
def test_id_set_capture_passes_credential_check(mocked, client, body_path, headers_path):
    status, headers, content_type = recorded_reply(headers_path)
    mocked.get(
        HOST_URL,
        body=shared_bytes(body_path),
        status=status,
        headers=headers,
        content_type=content_type,
    )

    client.check_credentials()

    assert_qualys_request(
        mocked.calls[0],
        "GET",
        "/api/2.0/fo/asset/host/",
        {"action": "list", "details": "None", "truncation_limit": "1"},
    )
    assert client.budget.rate_remaining == 295
    assert client.budget.rate_window_seconds == 3600


def test_id_set_reply_raises(mocked, client):
    mocked.get(HOST_URL, body=shared_bytes(REAL_INPUTS / "host_list_ids_one.xml"))

    with pytest.raises(UnexpectedResponse, match="host IDs only"):
        list(client.iter_scanned_hosts())


# Asset groups ---------------------------------------------------------------------


def test_asset_group_doc_sample_with_echoed_request(mocked, client):
    mocked.get(GROUP_URL, body=shared_bytes(SAMPLES / "asset_group_list_output.sample.xml"))

    groups = client.list_asset_groups()

    assert [(group.id, group.title, group.network_id) for group in groups] == [
        (1024368, "AG_VM_1", 0),
        (7038084, "Windows", 0),
    ]
    assert groups[0].ips == IPSet.from_strings(["192.0.2.10-192.0.2.30"])
    assert groups[1].ips == IPSet.from_strings(["198.51.100.81"])


def test_asset_group_list_with_leading_whitespace(mocked, client):
    body = shared_bytes(REAL_INPUTS / "asset_group_list_two_groups.leading-whitespace.xml")
    mocked.get(GROUP_URL, body=body)

    first, second = client.list_asset_groups()

    assert (first.id, first.title, first.ips) == (1759734, "AG - New", IPSet())
    assert (second.id, second.title) == (1759735, "AG - Example Perimeter")
    assert second.ips == IPSet.from_strings(["192.0.2.3-192.0.2.6", "192.0.2.14"])
    assert second.ips.size == 5


# IPv6 mapping records ------------------------------------------------------------


def test_ipv6_mapping_doc_sample(mocked, client):
    mocked.get(IP_MAP_URL, body=shared_bytes(SAMPLES / "ip_map_list_output.sample.xml"))

    mappings = client.list_ipv6_mappings()

    assert [(m.id, m.v4, m.v6) for m in mappings] == [
        (46947, "0.0.0.7", "2001:db8:85a3::8a2e:370:84"),
        (47036, "0.0.0.1", "2001:db8:85a3::8a2e:370:77"),
    ]
    assert_qualys_request(
        mocked.calls[0],
        "GET",
        "/api/2.0/fo/asset/ip/v4_v6/",
        {"action": "list", "output_format": "xml", "truncation_limit": "1000000"},
    )


# Write replies -----------------------------------------------------------------


def test_add_ips_success_sample(mocked, client):
    mocked.post(IP_URL, body=shared_bytes(SAMPLES / "simple_return_ip_add_success.sample.xml"))

    client.add_ips(IPSet.from_strings(["192.0.2.1", "192.0.2.5-192.0.2.9"]))

    assert_qualys_request(
        mocked.calls[0],
        "POST",
        "/api/2.0/fo/asset/ip/",
        {"action": "add", "enable_vm": "1", "ips": "192.0.2.1,192.0.2.5-192.0.2.9"},
    )


def test_add_ips_do_not_exist_sample(mocked, client):
    mocked.post(
        IP_URL, body=shared_bytes(SAMPLES / "simple_return_error_1905_ips_do_not_exist.sample.xml")
    )

    with pytest.raises(InvalidRequest, match=r"Qualys: IP\(s\) do not exist \(code 1905\)\."):
        client.add_ips(IPSet.from_strings(["192.0.2.1"]))


# Errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body_path", "status", "error_class", "code"),
    [
        (
            SAMPLES / "simple_return_error_1905_invalid_value_http400.sample.xml",
            400,
            InvalidRequest,
            1905,
        ),
        (
            SAMPLES / "simple_return_error_1960_concurrency_limit.fixture.xml",
            409,
            ConcurrencyLimited,
            1960,
        ),
        (SAMPLES / "simple_return_error_1965_rate_limit.fixture.xml", 409, RateLimited, 1965),
        (REAL_INPUTS / "simple_return_1965_rate_limit_409_body.xml", 409, RateLimited, 1965),
        (
            SAMPLES / "simple_return_error_2000_bad_login_http401.sample.xml",
            401,
            AuthenticationFailed,
            2000,
        ),
        (
            SAMPLES / "simple_return_error_2001_account_expired_http200.sample.xml",
            200,
            AccountUnavailable,
            2001,
        ),
        (REAL_INPUTS / "simple_return_2001_account_expired.xml", 200, AccountUnavailable, 2001),
        (
            SAMPLES / "simple_return_error_2003_registration_incomplete.fixture.xml",
            409,
            RegistrationIncomplete,
            2003,
        ),
        (REAL_INPUTS / "service_response_invalid_credentials.xml", 200, AuthenticationFailed, None),
        (
            REAL_INPUTS / "service_response_invalid_request_http200.xml",
            200,
            UnexpectedResponse,
            None,
        ),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else None,
)
def test_error_sample_raises_named_error(mocked, make_client, body_path, status, error_class, code):
    client = make_client(max_retries=0)
    mocked.get(HOST_URL, body=shared_bytes(body_path), status=status)

    with pytest.raises(error_class) as raised:
        list(client.iter_scanned_hosts())

    assert raised.value.code == code
    assert raised.value.status == status
    assert raised.value.message.endswith((".", ")"))


@pytest.mark.parametrize(
    "headers_path",
    [
        SAMPLES / "simple_return_error_2000_bad_login_http401.http.txt",
        SAMPLES / "simple_return_error_2001_account_expired_http200.http.txt",
        SAMPLES / "simple_return_error_1905_invalid_value_http400.http.txt",
        REAL_INPUTS / "simple_return_2001_account_expired.headers.txt",
        REAL_INPUTS / "service_response_invalid_credentials.headers.txt",
    ],
    ids=lambda path: path.name,
)
def test_recorded_error_status_and_headers(mocked, make_client, headers_path):
    client = make_client(max_retries=0)
    status, headers, content_type = recorded_reply(headers_path)
    stem = headers_path.name.replace(".http.txt", ".sample.xml").replace(".headers.txt", ".xml")
    body = shared_bytes(headers_path.parent / stem)
    mocked.get(HOST_URL, body=body, status=status, headers=headers, content_type=content_type)

    with pytest.raises((AuthenticationFailed, AccountUnavailable, InvalidRequest)) as raised:
        client.check_credentials()

    assert raised.value.status == status
    assert client.budget.calls == 1
    if "x-ratelimit-remaining" in {name.lower() for name in headers}:
        assert client.budget.rate_remaining == 295
    else:
        assert client.budget.rate_remaining is None


# DTDs ---------------------------------------------------------------------------


def simple_return_bodies() -> list[Path]:
    own = sorted(FIXTURES.glob("simple_return_*.xml"))
    shared = sorted(SAMPLES.glob("simple_return_*.xml")) if SAMPLES.is_dir() else []
    return own + shared


@pytest.mark.parametrize("path", simple_return_bodies(), ids=lambda path: path.name)
def test_simple_return_bodies_match_the_dtd(path):
    dtd = (
        etree.DTD(str(SAMPLES / "simple_return.dtd"))
        if (SAMPLES / "simple_return.dtd").is_file()
        else None
    )
    if dtd is None:
        pytest.skip(f"simple_return.dtd is not present at {SAMPLES.resolve()}")
    root = etree.fromstring(path.read_bytes().lstrip(), etree.XMLParser(**PARSER_OPTIONS))

    assert dtd.validate(root), dtd.error_log.filter_from_errors()


def test_asset_group_fixtures_match_the_element_dtd():
    fragment = shared_bytes(SAMPLES / "asset_group_element.fragment.dtd").decode()
    # The fragment names EC2_ID_LIST in the content model but declares EC2_IDS.
    dtd = etree.DTD(__import__("io").StringIO(fragment + "\n<!ELEMENT EC2_ID_LIST (#PCDATA)>"))
    parser = etree.XMLParser(**PARSER_OPTIONS)
    for name in ("asset_group_list_titles.xml", "asset_group_list_lumeta.xml"):
        root = etree.fromstring((FIXTURES / name).read_bytes(), parser)
        for group in root.iter("ASSET_GROUP"):
            assert dtd.validate(group), (name, dtd.error_log.filter_from_errors())


# Coverage of the sample folders ----------------------------------------------------


COVERED = {
    "SOURCES.md",
    "asset_group_element.fragment.dtd",
    "asset_group_list_output.sample.xml",
    "host_list_output_details.sample.xml",
    "host_list_output_ec2_details_all.sample.xml",
    "host_list_output_empty.http.txt",
    "host_list_output_empty.sample.xml",
    "host_list_output_idset.http.txt",
    "host_list_output_idset.sample.xml",
    "host_list_output_truncated.sample.xml",
    "host_list_vm_detection_truncated.fragment.txt",
    "ip_list_output.RECONSTRUCTED.xml",
    "ip_map_list_output.sample.xml",
    "simple_return.dtd",
    "simple_return_error_1905_invalid_value_http400.http.txt",
    "simple_return_error_1905_invalid_value_http400.sample.xml",
    "simple_return_error_1905_ips_do_not_exist.sample.xml",
    "simple_return_error_1960_concurrency_limit.fixture.xml",
    "simple_return_error_1965_rate_limit.fixture.xml",
    "simple_return_error_2000_bad_login_http401.http.txt",
    "simple_return_error_2000_bad_login_http401.sample.xml",
    "simple_return_error_2001_account_expired_http200.http.txt",
    "simple_return_error_2001_account_expired_http200.sample.xml",
    "simple_return_error_2003_registration_incomplete.fixture.xml",
    "simple_return_ip_add_success.sample.xml",
    "asset_data_report_ranges_start_end.xml",
    "asset_group_list_two_groups.leading-whitespace.xml",
    "host_list_ids_empty.headers.txt",
    "host_list_ids_empty.xml",
    "host_list_ids_one.headers.txt",
    "host_list_ids_one.xml",
    "service_response_invalid_credentials.headers.txt",
    "service_response_invalid_credentials.xml",
    "service_response_invalid_request_http200.xml",
    "simple_return_1965_rate_limit_409_body.xml",
    "simple_return_2001_account_expired.headers.txt",
    "simple_return_2001_account_expired.xml",
}


@pytest.mark.parametrize("folder", [SAMPLES, REAL_INPUTS], ids=["qualys-samples", "real-inputs"])
def test_every_shared_sample_has_a_test(folder):
    if not folder.is_dir():
        pytest.skip(f"{folder.name} is not present at {folder.resolve()}")
    missing = sorted(path.name for path in folder.iterdir() if path.name not in COVERED)
    assert missing == [], f"add tests for these new sample files: {missing}"
