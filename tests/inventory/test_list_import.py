"""Plain list imports: addresses, CIDR blocks, ranges and the per-line limit."""

import pytest

from inventory.importers import MAX_ADDRESSES_PER_LINE
from inventory.models import Host
from inventory.services import import_file

from .conftest import addresses, fixture_path

pytestmark = pytest.mark.django_db


def test_list_expands_blocks_and_ranges():
    report = import_file(fixture_path("list.txt"))

    assert report.format == "list"
    assert addresses() == {
        "192.0.2.1",
        "192.0.2.8",
        "192.0.2.9",
        "192.0.2.10",
        "192.0.2.11",
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
        "2001:db8::10",
    }
    lines = {row["line"]: row["message"] for row in report.rejected}
    assert set(lines) == {7, 8}
    assert '"not-an-address" is not a valid IP address, CIDR block or range' in lines[7]
    assert "has host bits set" in lines[8]


def test_list_strips_every_whitespace_kind(tmp_path):
    # A leading space, a trailing tab, a no-break space, and CR LF line ends.
    path = tmp_path / "pasted.txt"
    path.write_bytes(b" 192.0.2.1\r\n192.0.2.2\t\r\n192.0.2.3\xc2\xa0\r\n\t2001:db8::4 \r\n")

    report = import_file(path)

    assert report.format == "list"
    assert report.rejected_count == 0
    assert addresses() == {"192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::4"}


@pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", b""], ids=["bom", "no-bom"])
def test_list_with_or_without_bom(tmp_path, bom):
    # Notepad's "UTF-8 with BOM" encoding puts a byte order mark before the first line.
    path = tmp_path / "hosts.txt"
    path.write_bytes(bom + b"192.0.2.1\r\n192.0.2.8/31\r\n")

    report = import_file(path)

    assert report.format == "list"
    assert report.rejected_count == 0
    assert addresses() == {"192.0.2.1", "192.0.2.8", "192.0.2.9"}


def test_block_at_the_limit_imports(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("10.20.0.0/16\n")

    report = import_file(path)

    assert MAX_ADDRESSES_PER_LINE == 65_536
    assert report.added == 65_536
    assert Host.objects.count() == 65_536


def test_block_over_the_limit_is_rejected(tmp_path):
    path = tmp_path / "too-big.txt"
    path.write_text("192.0.2.1\n10.20.0.0-10.21.0.0\n2001:db8::/64\n")

    report = import_file(path)

    assert addresses() == {"192.0.2.1"}
    messages = [row["message"] for row in report.rejected]
    assert messages[0] == (
        'too-big.txt line 2: "10.20.0.0-10.21.0.0" holds 65,537 addresses, more than the '
        "limit of 65,536 per line. Split it into smaller blocks and import again."
    )
    assert "holds 18,446,744,073,709,551,616 addresses" in messages[1]


def test_csv_read_as_list_hints_csv(tmp_path):
    path = tmp_path / "asset.csv"
    path.write_text("name,ip\nsrv-two,198.51.100.41\n")

    report = import_file(path, fmt="list")

    assert report.rejected_count == 2
    assert report.rejected[1]["message"].endswith(
        "the line has cells like a CSV file. Import the file as CSV (leave the format to be "
        "detected), or fix the line and import again."
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("web-01.example.test", "it is a host name, and a list takes only IP addresses"),
        ("cafe", "it is a host name"),
        ("192.0.2.32 192.0.2.33", "the line contains 2 addresses. Put one address"),
        ("192.0.2.32, 192.0.2.33", "the line contains 2 addresses. Put one address"),
        ("web-01 192.0.2.33", "the line holds 2 values separated by spaces. Put one"),
        ("192.0.2.1–192.0.2.9", "it has a dash (– or —) where a range takes a hyphen (-)."),
        ('<host><address addr="192.0.2.1"/></host>', "the line is XML. If the file is an nmap"),
        ("192.0.2.300", "the octet '300' is more than 255. Fix or remove the line"),
    ],
)
def test_rejected_line_says_what_it_is(tmp_path, line, reason):
    path = tmp_path / "hosts.txt"
    path.write_text(line + "\n")

    report = import_file(path, fmt="list")

    (rejected,) = report.rejected
    assert rejected["message"].startswith(
        f'hosts.txt line 1: "{line}" is not a valid IP address, CIDR block or range: {reason}'
    )


def test_control_characters_are_escaped_in_messages(tmp_path):
    path = tmp_path / "sheet.txt"
    path.write_bytes(b"192.0.2.1\nab\x03\x1bcd\n")

    report = import_file(path, fmt="list")

    assert report.rejected[0]["value"] == "ab\x03\x1bcd"
    assert report.rejected[0]["message"].startswith(
        'sheet.txt line 2: "ab\\x03\\x1bcd" is not a valid IP address, CIDR block or range'
    )


def test_addresses_no_host_has_are_rejected(tmp_path):
    path = tmp_path / "special.txt"
    path.write_text(
        "0.0.0.0\n127.0.0.1\n224.0.0.251\n255.255.255.255\n::\n::1\nff02::1\n"
        "126.255.255.254-127.0.0.1\n192.0.2.1\n"
    )

    report = import_file(path)

    assert report.added == 1
    messages = [rejection["message"] for rejection in report.rejected]
    assert messages[0] == (
        'special.txt line 1: "0.0.0.0" is in 0.0.0.0/8 ("this network"), not the address of a '
        "discovered host. Fix or remove the line and import again."
    )
    assert '"127.0.0.1" is a loopback address (127.0.0.0/8)' in messages[1]
    assert '"224.0.0.251" is a multicast group address (224.0.0.0/4)' in messages[2]
    assert '"255.255.255.255" is the limited broadcast address' in messages[3]
    assert '"::" is the unspecified address' in messages[4]
    assert '"::1" is the loopback address' in messages[5]
    assert '"ff02::1" is a multicast group address (ff00::/8)' in messages[6]
    assert messages[7].startswith(
        'special.txt line 8: "126.255.255.254-127.0.0.1" is a range that contains addresses no '
        "host has: one of them is a loopback address (127.0.0.0/8)"
    )


@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n   \n"])
def test_list_without_entries_says_so(tmp_path, content):
    path = tmp_path / "hosts.txt"
    path.write_text(content)

    report = import_file(path, fmt="list")

    assert report.imported == 0
    assert report.warnings[0] == (
        "hosts.txt: the file lists no address: it is empty, or has only blank lines and # comments."
    )


def test_mapped_block_is_imported_as_ipv4(tmp_path):
    path = tmp_path / "hosts.txt"
    path.write_text("::ffff:192.0.2.0/126\n::ffff:192.0.2.9\n")

    report = import_file(path)

    assert addresses() == {"192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.9"}
    assert report.warnings == [
        "hosts.txt: 2 IPv4-mapped IPv6 values are read as the IPv4 addresses they "
        'name, for example "::ffff:192.0.2.0/126" on line 1 as 192.0.2.0-192.0.2.3.'
    ]
