"""The emulator's bodies have the shapes of recorded and documented Qualys bodies.

Each test builds a state that mirrors one sample, makes the same call to the
emulator, and compares the element trees. Tags must come in the same order
with the same texts, except DATETIME and the host names in URLs. The samples are
read from the ``shared`` folder beside the repository; without it the tests
are skipped.
"""

from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.emulator.helpers import GROUP, HOST_LIST, IP, MAPPING, PARSER, call, parse

pytestmark = pytest.mark.services

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SAMPLES = SHARED / "qualys-samples"


def sample(name: str) -> etree._Element:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample {path} is not available (the shared folder is absent)")
    return etree.fromstring(path.read_bytes().lstrip(), PARSER)


def outline(root: etree._Element, texts: bool = True) -> list[tuple[str, str]]:
    """Return (path, text) for every element, leaving out comments and times."""
    rows = []
    for element in root.iter(etree.Element):
        path = root.getroottree().getpath(element)
        text = (element.text or "").strip()
        if element.tag == "DATETIME" or not texts:
            text = ""
        elif element.tag in ("RESOURCE", "URL"):
            text = text.split("/", 3)[-1]
        rows.append((path, text))
    return rows


@pytest.fixture(scope="module")
def emu(module_emulator):
    return module_emulator(
        {
            "subscription": {
                "ips": [
                    "192.0.2.1",
                    "192.0.2.10-192.0.2.30",
                    "198.51.100.7",
                    "198.51.100.81",
                    "203.0.113.0/24",
                    "0.0.0.1",
                    "0.0.0.7",
                ],
            },
            "hosts": [{"id": 107800671, "ip": "192.0.2.1"}],
            "asset_groups": [
                {"id": 1024368, "title": "AG_VM_1", "ips": ["192.0.2.10-192.0.2.30"]},
                {"id": 7038084, "title": "Windows", "ips": ["198.51.100.81"]},
            ],
            "ipv6_enabled": True,
            "ipv6_mappings": [
                {"id": 46947, "v4": "0.0.0.7", "v6": "2001:db8:85a3::8a2e:370:84"},
                {"id": 47036, "v4": "0.0.0.1", "v6": "2001:db8:85a3::8a2e:370:77"},
            ],
        }
    )


def test_ip_list_matches_reconstruction(emu):
    ours = parse(call(emu, IP, action="list", ips="192.0.2.0/24,198.51.100.7,203.0.113.0/24"))

    assert outline(ours) == outline(sample("ip_list_output.RECONSTRUCTED.xml"))


def test_asset_group_list_matches_documentation_sample(emu):
    ours = parse(call(emu, GROUP, action="list", echo_request="1"))
    documented = sample("asset_group_list_output.sample.xml")

    assert outline(ours) == outline(documented)


def test_host_id_set_matches_capture(emu):
    ours = parse(call(emu, HOST_LIST, action="list", details="None", truncation_limit="0"))

    assert outline(ours) == outline(sample("host_list_output_idset.sample.xml"))


def test_empty_host_list_matches_capture(emu):
    ours = parse(call(emu, HOST_LIST, action="list", details="None", ids="1"))

    assert outline(ours) == outline(sample("host_list_output_empty.sample.xml"))


def test_ip_map_list_matches_documentation_sample(emu):
    ours = parse(call(emu, MAPPING, action="list", output_format="xml"))

    assert outline(ours) == outline(sample("ip_map_list_output.sample.xml"))


def test_bad_login_matches_capture(emu):
    response = requests.get(
        f"{emu.url}{IP}",
        params={"action": "list"},
        auth=("apiuser", "x"),
        headers={"X-Requested-With": "t"},
        verify=str(emu.cert_path),
        timeout=30,
    )

    assert outline(parse(response)) == outline(
        sample("simple_return_error_2000_bad_login_http401.sample.xml")
    )


def test_ip_add_success_matches_fixture(emu):
    response = call(emu, IP, method="POST", action="add", ips="192.0.2.1", enable_vm="1")

    assert outline(parse(response)) == outline(sample("simple_return_ip_add_success.sample.xml"))


def test_ips_do_not_exist_matches_fixture(emu):
    response = call(emu, GROUP, method="POST", action="add", title="T", ips="192.0.2.2")

    assert outline(parse(response)) == outline(
        sample("simple_return_error_1905_ips_do_not_exist.sample.xml")
    )


def test_expired_account_matches_capture(emu):
    emu.set_faults([{"kind": "expired", "times": 1}])

    response = call(emu, IP, action="list")

    assert outline(parse(response)) == outline(
        sample("simple_return_error_2001_account_expired_http200.sample.xml")
    )


def test_truncated_host_list_has_sample_layout(fresh_emulator):
    emu = fresh_emulator(
        {
            "hosts": [
                {
                    "id": 2872568,
                    "ip": "192.0.2.182",
                    "netbios": "HOST-EXAMPLE-01",
                    "os": "Linux",
                    "last_vuln_scan": "2017-02-05T19:48:17Z",
                },
                {"id": 2872569, "ip": "192.0.2.183"},
            ]
        }
    )

    ours = parse(call(emu, HOST_LIST, action="list", truncation_limit="1"))

    assert outline(ours, texts=False) == outline(
        sample("host_list_output_truncated.sample.xml"), texts=False
    )


def test_host_details_are_in_sample_order(fresh_emulator):
    documented = [
        child.tag
        for child in sample("host_list_output_details.sample.xml").find("RESPONSE/HOST_LIST/HOST")
    ]
    state_host = {
        "id": 2872568,
        "ip": "192.0.2.182",
        "netbios": "HOST-EXAMPLE-01",
        "os": "Linux",
        "last_vuln_scan": "2017-02-05T19:48:17Z",
        "owner": "apiuser",
        "last_compliance_scan": "2016-10-09T16:23:26Z",
    }
    emu = fresh_emulator(
        {
            "hosts": [state_host],
            "subscription": {"ips": ["192.0.2.182"]},
            "asset_groups": [{"id": 473828, "title": "G", "ips": ["192.0.2.182"]}],
        }
    )

    ours = [
        child.tag
        for child in parse(call(emu, HOST_LIST, action="list", details="All/AGs")).find(
            "RESPONSE/HOST_LIST/HOST"
        )
    ]

    assert set(ours) <= set(documented)
    assert ours == [tag for tag in documented if tag in ours]
