"""CSV imports: header detection, encodings, delimiters and whitespace."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.importers.base import EXTRA_STRIP, clean_text
from inventory.importers.csvfile import LIST_SEPARATORS, split_names
from inventory.models import Host, ImportRun
from inventory.services import import_file

from .conftest import addresses, fixture_path

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["bom.csv", "no_bom.csv"])
def test_csv_with_or_without_bom(name):
    report = import_file(fixture_path(name))

    assert report.format == "csv"
    assert report.added == 1
    host = Host.objects.get()
    assert host.address == "192.0.2.1"
    assert host.hostname == "host-a"


def test_whitespace_of_every_kind_is_stripped():
    report = import_file(fixture_path("whitespace.csv"))

    assert report.rejected_count == 0
    assert addresses() == {"192.0.2.1", "192.0.2.2", "192.0.2.3"}


def test_semicolon_export_with_details():
    report = import_file(fixture_path("semicolon_export.csv"))

    assert report.added == 2
    host = Host.objects.get(address="192.0.2.30")
    assert host.hostname == "srv-30"
    assert host.mac == "00:00:5E:00:53:30"
    assert host.os_name == "Windows Server 2019"
    assert host.tags == ["dmz", "web"]
    assert Host.objects.get(address="192.0.2.31").mac == ""
    assert any(
        w.startswith(
            'semicolon_export.csv: 1 MAC cell is not a MAC address, for example "not-a-mac"'
        )
        for w in report.warnings
    )


def test_bad_mac_cells_get_one_warning(tmp_path):
    path = tmp_path / "macs.csv"
    rows = "".join(f"192.0.2.{index},bad-{index}\n" for index in range(1, 251))
    path.write_text("ip,mac\n" + rows)

    report = import_file(path)

    assert report.added == 250
    assert report.warnings == [
        'macs.csv: 250 MAC cells are not a MAC address, for example "bad-1" on line 2. Those '
        "rows are read without a MAC address."
    ]


def test_tab_delimited_ipv6_is_canonical():
    report = import_file(fixture_path("tabs.tsv"))

    assert report.format == "csv"
    assert addresses() == {"192.0.2.40", "2001:db8::41"}
    assert Host.objects.get(address="192.0.2.40").os_name == "FreeBSD"


def test_bad_rows_are_listed_and_good_rows_land():
    report = import_file(fixture_path("bad_rows.csv"))

    assert report.status == ImportRun.Status.SUCCEEDED
    assert report.added == 6
    assert report.rejected_count == 3
    messages = [row["message"] for row in report.rejected]
    assert messages[0].startswith('bad_rows.csv line 7: "192.0.2.300" is not a valid IP address: ')
    assert messages[0].endswith("Fix or remove the row and import again.")
    assert messages[1].startswith("bad_rows.csv line 9: the address is empty")
    assert messages[2].startswith('bad_rows.csv line 10: "192.0.2.0/24" is not a valid IP address')
    assert [row["line"] for row in report.rejected] == [7, 9, 10]
    assert ImportRun.objects.get(pk=report.run_id).rejected_count == 3


def test_nul_bytes_are_removed_with_warning():
    report = import_file(fixture_path("nul.csv"))

    assert Host.objects.get().hostname == "host-50"
    assert any("NUL characters were removed" in warning for warning in report.warnings)


def test_non_utf8_file_lands_nothing():
    report = import_file(fixture_path("latin1.csv"))

    assert report.status == ImportRun.Status.FAILED
    assert report.error.startswith(
        'latin1.csv line 2: the file is not UTF-8 text. The byte 0xE9 after "192.0.2.60,h" is '
        "not UTF-8 (invalid continuation byte)"
    )
    assert Host.objects.count() == 0


@pytest.mark.parametrize("fmt", ["csv", "list"])
def test_non_utf8_byte_found_in_a_later_chunk(tmp_path, fmt):
    # Far past the text stream's first 8 KiB chunk, and after a quoted cell
    # that spans two lines.
    rows = "".join(f"192.0.{n // 256}.{n % 256},web-{n}\n" for n in range(1, 3000))
    header = "ip,hostname\n" if fmt == "csv" else ""
    if fmt == "list":
        rows = "".join(f"192.0.{n // 256}.{n % 256}\n" for n in range(1, 3000))
    quoted = '192.0.200.1,"two\nlines"\n' if fmt == "csv" else "192.0.200.1\n192.0.200.2\n"
    data = (header + quoted + rows).encode() + "192.0.201.1,Caf\u00e9\n".encode("cp1252")
    path = tmp_path / f"hosts.{fmt}"
    path.write_bytes(data)

    report = import_file(path, fmt=fmt)

    line = data.count(b"\n")
    assert report.error.startswith(f"hosts.{fmt} line {line}: the file is not UTF-8 text.")
    assert 'after "192.0.201.1,Caf"' in report.error


def test_missing_address_column_is_reported():
    report = import_file(fixture_path("no_address_column.csv"), fmt="csv")

    assert report.status == ImportRun.Status.FAILED
    assert "no address column" in report.error
    assert "ip address" in report.error


def test_quoted_fields_with_crlf(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b'"Address","Name"\r\n"192.0.2.70","web, primary"\r\n')

    import_file(path)

    assert Host.objects.get().hostnames == ["web", "primary"]


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        (
            "Asset report\nGenerated 2026-12-01\n\nIP Address,Hostname\n192.0.2.30,a\n",
            "report.csv: lines 1 to 3 above the header (line 4) were skipped as title rows.",
        ),
        (
            '#TYPE System.Management.Automation.PSCustomObject\n"IPAddress","Name"\n'
            '"192.0.2.30","a"\n',
            "report.csv: line 1 above the header (line 2) was skipped as a title row.",
        ),
    ],
)
def test_title_rows_above_header_are_skipped(tmp_path, text, warning):
    path = tmp_path / "report.csv"
    path.write_text(text)

    report = import_file(path)

    assert report.format == "csv"
    assert addresses() == {"192.0.2.30"}
    assert report.warnings == [warning]


def test_missing_header_names_first_line(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text("Name,Owner\n" + "x,y\n" * 12 + "ip\n192.0.2.30\n")

    report = import_file(path, fmt="csv")

    assert report.status == ImportRun.Status.FAILED
    assert report.error.startswith("report.csv line 1: ")


def test_ip_column_reads_ipv6_beside_it(tmp_path):
    path = tmp_path / "cmdb.csv"
    path.write_text(
        "IP Address,IPv6 Address,Hostname\n"
        "192.0.2.20,2001:db8::10,a\n"
        ",2001:db8::11,b\n"
        "192.0.2.21,,c\n"
    )

    report = import_file(path)

    assert report.rejected_count == 0
    assert addresses() == {"192.0.2.20", "2001:db8::10", "2001:db8::11", "192.0.2.21"}
    assert Host.objects.get(address="2001:db8::10").hostname == "a"


@pytest.mark.parametrize("last_line_end", ["\n", ""])
def test_unclosed_quote_fails_and_marks_nothing_stale(tmp_path, last_line_end):
    good = tmp_path / "good.csv"
    good.write_text("ip,hostname,note\n192.0.2.1,a,x\n192.0.2.2,b,y\n192.0.2.3,c,z\n")
    import_file(good, source="cmdb")
    bad = tmp_path / "bad.csv"
    # A quoted cell across two lines is fine; the quote on line 5 is never closed.
    bad.write_text(
        'ip,hostname,note\n192.0.2.1,a,"two\nlines"\n192.0.2.2,b,y\n192.0.2.3,c,"open\n'
        "192.0.2.4,d,\n192.0.2.5,e," + last_line_end
    )

    report = import_file(bad, source="cmdb")

    assert report.status == ImportRun.Status.FAILED
    assert report.error == (
        "bad.csv line 5: a quoted cell opens in this row and is not closed, so lines 5 to 7 "
        'would read as one cell. Add the closing quote (") or remove the opening one, and '
        "import again."
    )
    assert Host.objects.filter(stale=True).count() == 0
    assert addresses() == {"192.0.2.1", "192.0.2.2", "192.0.2.3"}


def test_text_after_closing_quote_fails_with_its_line(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text('ip,hostname\n192.0.2.1,a\n192.0.2.2,"b"c\n')

    report = import_file(path)

    assert report.status == ImportRun.Status.FAILED
    assert report.error.startswith("odd.csv line 3: the row cannot be read as CSV (")
    assert Host.objects.count() == 0


@given(st.text(alphabet=" \t\r\n\u00a0\u3000\ufeff\u200b\u2060ab1.", max_size=12))
def test_clean_text_matches_three_strips(value):
    assert clean_text(value) == value.strip().strip(EXTRA_STRIP).strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "192.0.2.202,host-x\n192.0.2.203,host-y\n",
            "data.csv line 1: the first row holds data ('192.0.2.202'), not a header. Add a "
            "header row that names the address column one of: ip, ip address",
        ),
        ("name,mac\nweb,00:00:5E:00:53:01\n", "data.csv line 1: no address column in the header"),
        (
            "Device;DNS\nrouter;web\n",
            "data.csv line 1: no address column in the header row 'Device;DNS'",
        ),
    ],
)
def test_csv_without_known_header_is_explained(tmp_path, text, expected):
    path = tmp_path / "data.csv"
    path.write_text(text)

    report = import_file(path)

    assert report.format == "csv"
    assert report.status == ImportRun.Status.FAILED
    assert report.error.startswith(expected)
    assert Host.objects.count() == 0


def test_ip_addr_header_is_an_address_column(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("IP Addr;DNS\n192.0.2.1;web\n")

    import_file(path)

    assert addresses() == {"192.0.2.1"}


@pytest.mark.parametrize(
    "first_line",
    [b"sep=;", b"\xef\xbb\xbfsep=;", b'"sep=;"', b'\xef\xbb\xbf"sep=;"', b"SEP=;", b"Sep=;  "],
)
def test_excel_separator_line_is_read(tmp_path, first_line):
    path = tmp_path / "excel.csv"
    path.write_bytes(first_line + b"\r\nIP Address;Host Name\r\n192.0.2.40;web\r\n")

    report = import_file(path)

    assert report.format == "csv"
    assert report.added == 1
    assert Host.objects.get().hostname == "web"


def test_separator_line_wins_over_detection(tmp_path):
    # The header splits into an "ip" column only with the named delimiter.
    path = tmp_path / "excel.csv"
    path.write_text("sep=|\nip|os\n192.0.2.41|Linux, 64-bit\n")

    import_file(path)

    assert Host.objects.get().os_name == "Linux, 64-bit"


def test_cidr_in_address_column_is_explained(tmp_path):
    path = tmp_path / "blocks.csv"
    path.write_text("ip\n192.0.2.7/32\n")

    report = import_file(path)

    assert "a CIDR block or prefix is not one address" in report.rejected[0]["message"]


def test_tab_separator_line_is_read(tmp_path):
    path = tmp_path / "excel.txt"
    path.write_text("sep=\t\nip\thostname\n192.0.2.42\tweb, db\n")

    report = import_file(path)

    assert report.format == "csv"
    assert Host.objects.get().hostnames == ["web", "db"]


@given(
    st.text(
        alphabet=st.sampled_from(["a", "B", "-", ".", ",", ";", "|", " ", "\t", "\u2003", "\u0130"])
    )
)
def test_split_names_matches_the_separator_pattern(text):
    expected = [name.lower() for name in LIST_SEPARATORS.split(text) if name]

    assert split_names(text) == expected


@given(st.text())
def test_split_names_matches_the_pattern_for_any_text(text):
    assert split_names(text) == [name.lower() for name in LIST_SEPARATORS.split(text) if name]


def test_two_address_columns_give_records_of_their_own(tmp_path):
    path = tmp_path / "dual.csv"
    path.write_text("ipv4,ipv6,hostname,tags\n192.0.2.1,2001:db8::1,web-1 web-2,prod;dmz\n")

    import_file(path)

    hosts = {host.address: host for host in Host.objects.all()}
    assert hosts["192.0.2.1"].hostnames == hosts["2001:db8::1"].hostnames == ["web-1", "web-2"]
    assert hosts["192.0.2.1"].tags == hosts["2001:db8::1"].tags == ["prod", "dmz"]


def test_crossed_version_column_warns(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("name,IPv4,IPv6\na,2001:db8::50,\nb,,198.51.100.50\nc,192.0.2.1,2001:db8::1\n")

    report = import_file(path)

    assert report.added == 4
    assert report.warnings == [
        "mixed.csv: 2 addresses are in a column named for the other IP version, for example "
        '"2001:db8::50" on line 2 in the column "IPv4". Each is read as the address it is. '
        "Check the columns of the export."
    ]


def test_multicast_row_is_rejected(tmp_path):
    path = tmp_path / "groups.csv"
    path.write_text("ip,hostname\n224.0.0.251,mdns\n192.0.2.9,web\n")

    report = import_file(path)

    assert report.added == 1
    assert report.rejected[0]["message"].startswith(
        'groups.csv line 2: "224.0.0.251" is a multicast group address (224.0.0.0/4)'
    )


def test_header_without_rows_says_so(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("\ufeffIP Address,Host Name\r\n")

    report = import_file(path)

    assert report.imported == 0
    assert report.warnings[0] == "export.csv: the file has a header row (line 1) but no data rows."


def test_xml_read_as_csv_says_so(tmp_path):
    path = tmp_path / "scan.xml"
    path.write_text('<?xml version="1.0"?>\n<nmaprun></nmaprun>\n')

    report = import_file(path, fmt="csv")

    assert report.error == (
        "scan.xml line 1: the file is XML, not CSV. If it is an nmap XML file, import it as nmap "
        "(leave the format to be detected)."
    )


def test_formula_cells_are_read_as_their_text(tmp_path):
    # ="..." keeps a spreadsheet from reading the text as a number or date.
    path = tmp_path / "export.csv"
    path.write_text(
        "IP,Hostname,MAC,OS,Tags\n"
        '"=""192.0.2.10""","=""Web-10, www""","=""00:00:5e:00:53:0a""",'
        '"=""Linux """"5""""""","=""dmz;web"""\n'
        "192.0.2.11,=b,,,\n"
        '="198.51.100.7",c,,,\n'
        '="not-an-ip",d,,,\n'
    )

    report = import_file(path)

    assert addresses() == {"192.0.2.10", "192.0.2.11", "198.51.100.7"}
    host = Host.objects.get(address="192.0.2.10")
    assert host.hostnames == ["web-10", "www"]
    assert host.mac == "00:00:5E:00:53:0A"
    assert host.os_name == 'Linux "5"'
    assert host.tags == ["dmz", "web"]
    # A cell that is no formula keeps its text, equals sign included.
    assert Host.objects.get(address="192.0.2.11").hostnames == ["=b"]
    assert report.warnings == [
        "export.csv: 2 address cells are written as spreadsheet formulas, for example "
        '"="192.0.2.10"" on line 2. The text between the quotes was read as the address, and '
        "the other cells of those rows the same way."
    ]
    assert [row["line"] for row in report.rejected] == [5]
    assert "'not-an-ip' does not appear" in report.rejected[0]["message"]


def test_mapped_address_is_imported_once_as_ipv4(tmp_path):
    path = tmp_path / "hosts.csv"
    path.write_text("ip,hostname\n::ffff:192.0.2.77,web\n192.0.2.77,web\n::ffff:127.0.0.1,lo\n")

    report = import_file(path)

    assert addresses() == {"192.0.2.77"}
    assert report.repeated == 1
    assert report.rejected[0]["message"].startswith(
        'hosts.csv line 4: "::ffff:127.0.0.1" is a loopback address (127.0.0.0/8)'
    )
    assert report.warnings[0] == (
        "hosts.csv: 2 IPv4-mapped IPv6 values are read as the IPv4 addresses they "
        'name, for example "::ffff:192.0.2.77" on line 2 as 192.0.2.77.'
    )


def test_unclosed_quote_on_last_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('ip,hostname\n192.0.2.1,"open\n')

    report = import_file(path)

    assert report.error.startswith(
        "bad.csv line 2: a quoted cell opens in this row and is not closed, so line 2 would "
        "read as one cell."
    )


def test_tags_differing_in_case_are_one_tag(tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("ip,tags\n192.0.2.1,PCI; dmz; pci\n")
    second = tmp_path / "second.csv"
    second.write_text("ip,tags\n192.0.2.1,Pci|DMZ|owner:net-team\n")

    import_file(first, source="cmdb")
    report = import_file(second, source="cmdb")

    assert Host.objects.get().tags == ["PCI", "dmz", "owner:net-team"]
    assert report.updated == 1


def test_asset_export_with_several_addresses_per_cell(tmp_path):
    # Asset-inventory tools list every address of an asset in one cell.
    path = tmp_path / "assets.csv"
    path.write_text(
        "name,addresses,os\n"
        'web-1,"192.0.2.10 192.0.2.11",Linux\n'
        'db-1,"192.0.2.20; 2001:db8::20",Windows\n'
        "printer,192.0.2.30,\n"
        'bad,"192.0.2.40, 192.0.2.999",\n'
    )

    report = import_file(path)

    assert addresses() == {
        "192.0.2.10", "192.0.2.11", "192.0.2.20", "2001:db8::20", "192.0.2.30", "192.0.2.40",
    }  # fmt: skip
    assert Host.objects.get(address="192.0.2.11").hostname == "web-1"
    assert Host.objects.get(address="2001:db8::20").os_name == "Windows"
    assert report.rejected_count == 1
    assert report.rejected[0]["line"] == 5
    assert '"192.0.2.999" is not a valid IP address' in report.rejected[0]["message"]


ADAPTER_EXPORT = (
    "Asset Name,Adapters: IPs,Host\n"
    'web-1,"192.0.2.10, 192.0.2.11",web-1.example.test\n'
    "db-1,2001:db8::20,db-1.example.test\n"
)


def test_named_address_column_is_read(tmp_path):
    path = tmp_path / "axonius.csv"
    path.write_text(ADAPTER_EXPORT)

    report = import_file(path, address_column=" adapters:_IPs ")

    assert report.format == "csv"
    assert addresses() == {"192.0.2.10", "192.0.2.11", "2001:db8::20"}
    # An asset's name is a host name column, read before a "host" column.
    assert Host.objects.get(address="192.0.2.11").hostname == "web-1"
    assert ImportRun.objects.get().address_column == "adapters:_IPs"


@pytest.mark.parametrize(
    ("header", "row"),
    [
        # Active Directory's Get-ADComputer properties, as Export-Csv writes them.
        (
            "DNSHostName,IPv4Address,OperatingSystem,MACAddress",
            "srv-1.example.test,192.0.2.1,Windows Server 2022,00-00-5E-00-53-01",
        ),
        (
            "Computer Name;IP-Address;Operating_System;Physical Address",
            "srv-1.example.test;192.0.2.1;Windows Server 2022;00:00:5e:00:53:01",
        ),
        # Get-ADComputer with its Name column: the DNS name wins over the short name.
        (
            '"DNSHostName","IPv4Address","Name","OperatingSystem","MACAddress"',
            '"srv-1.example.test","192.0.2.1","SRV-1","Windows Server 2022","00-00-5E-00-53-01"',
        ),
        (
            "fqdn*,ip.address,Operating System Name and Version,Ethernet Address",
            "srv-1.example.test,192.0.2.1,Windows Server 2022,00:00:5e:00:53:01",
        ),
    ],
    ids=["camel case", "separators", "directory export", "punctuation"],
)
def test_header_names_match_without_separators(tmp_path, header, row):
    path = tmp_path / "computers.csv"
    path.write_text(f"{header}\n{row}\n")

    report = import_file(path)

    assert (report.added, report.rejected_count) == (1, 0)
    host = Host.objects.get()
    assert host.address == "192.0.2.1"
    assert host.hostname == "srv-1.example.test"
    assert host.os_name == "Windows Server 2022"
    assert host.mac == "00:00:5E:00:53:01"


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("Name,Address,IPv4Address", "st1,1 Example Street,203.0.113.102"),
        ("Name,Address,IPv4", "st1,1 Example Street,203.0.113.102"),
        ("Address,Primary IP,Name", "1 Example Street,203.0.113.102,st1"),
    ],
)
def test_ip_column_wins_over_street_address(tmp_path, header, row):
    path = tmp_path / "sites.csv"
    path.write_text(f"{header}\n{row}\n")

    report = import_file(path)

    assert (report.added, report.rejected_count) == (1, 0)
    host = Host.objects.get()
    assert host.address == "203.0.113.102"
    assert host.hostname == "st1"


def test_empty_dns_name_falls_back_to_name(tmp_path):
    # Get-ADComputer leaves DNSHostName empty for a computer without a DNS name.
    path = tmp_path / "computers.csv"
    path.write_text(
        '"DNSHostName","IPv4Address","Name"\n'
        '"ws01.example.test","192.0.2.1","WS01"\n'
        '"","192.0.2.2","WS02"\n'
    )

    import_file(path)

    assert Host.objects.get(address="192.0.2.1").hostnames == ["ws01.example.test"]
    assert Host.objects.get(address="192.0.2.2").hostnames == ["ws02"]


def test_cell_of_several_macs_gives_the_first_valid(tmp_path):
    # An asset export's columns: names, macs and addresses hold one value per adapter.
    path = tmp_path / "assets.csv"
    path.write_text(
        "addresses,names,macs\n"
        '192.0.2.7,"srv-7.example.test srv-7","bad 00:00:5E:00:53:07 00:00:5E:00:53:08"\n'
    )

    report = import_file(path)

    assert report.warnings == []
    host = Host.objects.get()
    assert host.mac == "00:00:5E:00:53:07"
    assert host.hostnames == ["srv-7.example.test", "srv-7"]


def test_finding_title_is_not_a_host_name(tmp_path):
    # A Nessus vulnerability export: Name is the plugin's title.
    path = tmp_path / "nessus.csv"
    path.write_text(
        "Plugin ID,CVE,Risk,Host,Protocol,Port,Name\n"
        "10180,,None,192.0.2.5,tcp,0,Ping the remote host\n"
    )

    report = import_file(path)

    assert report.added == 1
    assert Host.objects.get().hostnames == []


def test_named_column_matches_without_separators(tmp_path):
    path = tmp_path / "axonius.csv"
    path.write_text(ADAPTER_EXPORT)

    import_file(path, address_column="Adapters:IPs")

    assert addresses() == {"192.0.2.10", "192.0.2.11", "2001:db8::20"}


def test_missing_named_column_names_the_header(tmp_path):
    path = tmp_path / "axonius.csv"
    path.write_text(ADAPTER_EXPORT)

    report = import_file(path, address_column="Adapters: MACs")

    assert report.status == ImportRun.Status.FAILED
    assert report.error == (
        "axonius.csv line 1: no column named 'Adapters: MACs' in the header row "
        "'Asset Name,Adapters: IPs,Host'. Give the address column's name as the header row "
        "writes it."
    )
    assert Host.objects.count() == 0


SWITCH_EXPORT = (
    "ip,Device,Name\n"
    "192.0.2.10,core-1.example.test,Core switch\n"
    "192.0.2.11,,Edge switch\n"
)


def test_named_name_column_is_the_only_one_read(tmp_path):
    path = tmp_path / "switches.csv"
    path.write_text(SWITCH_EXPORT)

    report = import_file(path, name_column=" device ")

    assert report.added == 2
    assert Host.objects.get(address="192.0.2.10").hostnames == ["core-1.example.test"]
    # The "Name" column is not read, not even where the named column is empty.
    assert Host.objects.get(address="192.0.2.11").hostnames == []
    assert ImportRun.objects.get().name_column == "device"


def test_named_name_column_makes_the_format_csv(tmp_path):
    # Naming the column skips format detection, as naming the address column does.
    path = tmp_path / "hosts.txt"
    path.write_text("ip;Device\n192.0.2.10;core-1.example.test\n")

    report = import_file(path, name_column="Device")

    assert report.format == "csv"
    assert Host.objects.get().hostnames == ["core-1.example.test"]


@pytest.mark.parametrize(
    ("column", "error"),
    [
        (
            "Hostname",
            "switches.csv line 1: no column named 'Hostname' in the header row 'ip,Device,Name'. "
            "Give the host-name column's name as the header row writes it, or leave it empty "
            "to find the column by its name.",
        ),
        (
            "IP",
            "switches.csv line 1: the column 'IP' is the address column. Name the column that "
            "holds the host names, or leave the host-name column empty.",
        ),
    ],
)
def test_bad_named_name_column_fails_the_import(tmp_path, column, error):
    path = tmp_path / "switches.csv"
    path.write_text(SWITCH_EXPORT)

    report = import_file(path, name_column=column)

    assert report.status == ImportRun.Status.FAILED
    assert report.error == error
    assert Host.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "advice"),
    [
        (
            "<nmaprun></nmaprun>\n",
            "the file is XML, not CSV, and a host-name column is read from CSV files only. "
            "Import it again without a host-name column.",
        ),
        (
            "192.0.2.1\n192.0.2.2\n",
            "or import a file with one address per line as a plain list, without a host-name "
            "column.",
        ),
    ],
)
def test_named_name_column_advice_leaves_it_out(tmp_path, content, advice):
    path = tmp_path / "scan.txt"
    path.write_text(content)

    report = import_file(path, name_column="Device")

    assert report.status == ImportRun.Status.FAILED
    assert advice in report.error


def test_single_bad_mac_cell_wording(tmp_path):
    path = tmp_path / "macs.csv"
    path.write_text("ip,mac\n192.0.2.1,bad\n192.0.2.2,00:00:5e:00:53:02\n")

    report = import_file(path)

    assert report.warnings == [
        'macs.csv: 1 MAC cell is not a MAC address, for example "bad" on line 2. That row is '
        "read without a MAC address."
    ]


def test_named_name_column_needs_csv_format(tmp_path):
    path = tmp_path / "switches.csv"
    path.write_text(SWITCH_EXPORT)

    with pytest.raises(ValueError, match="A host-name column is read from CSV files only"):
        import_file(path, fmt="list", name_column="Device")


@pytest.mark.parametrize("header", ["HWaddr", "HW Address", "MAC Addr"])
def test_more_mac_column_names(tmp_path, header):
    path = tmp_path / "leases.csv"
    path.write_text(f"ip,{header}\n192.0.2.10,00:00:5e:00:53:01\n")

    import_file(path)

    assert Host.objects.get().mac == "00:00:5E:00:53:01"


def test_named_column_needs_csv_format(tmp_path):
    path = tmp_path / "axonius.csv"
    path.write_text(ADAPTER_EXPORT)

    with pytest.raises(ValueError, match="An address column is read from CSV files only"):
        import_file(path, fmt="list", address_column="Adapters: IPs")


def test_host_column_beside_ips_column_holds_names(tmp_path):
    path = tmp_path / "assets.csv"
    path.write_text("Host,IPs,OS\nweb01,192.0.2.1 192.0.2.2,Linux\n")

    report = import_file(path)

    assert report.added == 2
    assert Host.objects.get(address="192.0.2.2").hostname == "web01"


def test_xml_with_named_address_column_says_why(tmp_path):
    path = tmp_path / "scan.csv"
    path.write_text('<?xml version="1.0"?>\n<nmaprun></nmaprun>\n')

    report = import_file(path, address_column="ip")

    assert "an address column is read from CSV files only" in report.error


def test_non_host_addresses_in_shared_cells_are_counted(tmp_path):
    path = tmp_path / "assets.csv"
    path.write_text(
        "Asset Name,IP Addresses,IPv6 Addresses,MAC Addresses\n"
        'web-1,"192.0.2.150, 127.0.0.1","fe80::1, ::1, 2001:db8::150",00:00:5E:00:53:50\n'
        'db-1,"192.0.2.151; 192.0.2.999",,\n'
    )

    report = import_file(path)

    assert addresses() == {"192.0.2.150", "2001:db8::150", "192.0.2.151"}
    assert Host.objects.get(address="2001:db8::150").hostname == "web-1"
    assert Host.objects.get(address="192.0.2.150").mac == "00:00:5E:00:53:50"
    assert report.rejected_count == 1
    assert report.rejected[0]["message"].endswith(
        "The row's other addresses stay in the import; correct this one in the export and import "
        "again."
    )
    assert (
        "assets.csv: 3 addresses were left out of cells that list several addresses, because no "
        'discovered host has such an address: for example "127.0.0.1" on line 2'
    ) in report.warnings[0]


def test_plural_ipv4_and_ipv6_columns_are_read(tmp_path):
    path = tmp_path / "assets.csv"
    path.write_text("IPv4 Addresses,IPv6 Addresses\n192.0.2.160 192.0.2.161,2001:db8::160\n")

    report = import_file(path)

    assert report.added == 3
