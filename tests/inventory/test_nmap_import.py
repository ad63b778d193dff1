"""nmap XML imports: real files and the faults real nmap output shows."""

import time

import pytest

from inventory.models import Host, ImportRun
from inventory.services import import_file

from .conftest import addresses, fixture_path

pytestmark = pytest.mark.django_db


def test_real_scan_imports_only_hosts_that_are_up(real_nmap):
    report = import_file(real_nmap("os_scan_vv_253_down_3_up.xml"))

    assert report.status == ImportRun.Status.SUCCEEDED
    assert addresses() == {"192.0.2.1", "192.0.2.3", "192.0.2.5"}
    assert report.added == 3
    assert report.rejected_count == 0
    assert (
        "os_scan_vv_253_down_3_up.xml: 253 hosts that are not up were skipped; only hosts that "
        "are up are imported." in report.warnings
    )
    # The recorded scan is older than a month, and the only other warning reports it.
    others = [w for w in report.warnings if "not up were skipped" not in w]
    assert len(others) <= 1
    assert all("days ago. An import marks its hosts as seen now" in w for w in others)


def test_real_scan_keeps_mac_and_vendor_as_details(real_nmap):
    import_file(real_nmap("os_scan_vv_253_down_3_up.xml"))

    macs = set(Host.objects.exclude(mac="").values_list("mac", flat=True))
    assert macs == {"00:00:5E:00:53:01", "00:00:5E:00:53:02"}
    assert Host.objects.exclude(os_name="").count() == 3


def test_real_ping_scan_gives_address_mac_and_names(real_nmap):
    import_file(real_nmap("ping_scan_ipv4_plus_mac.xml"))

    host = Host.objects.get()
    assert host.address == "198.51.100.3"
    assert host.mac == "00:00:5E:00:53:03"
    assert host.hostnames == ["host-b", "host-b.example.test"]
    assert host.hostname == "host-b"


def test_real_interrupted_scan_is_partial(real_nmap):
    report = import_file(real_nmap("derived/os_scan_interrupted_cut.xml"))

    assert report.status == ImportRun.Status.PARTIAL
    assert addresses() == {"192.0.2.1"}
    assert any("no runstats; file ends early at line 807" in w for w in report.warnings)


def test_real_appended_runs_all_import(real_nmap):
    report = import_file(real_nmap("derived/append_output_two_documents.xml"))

    assert report.status == ImportRun.Status.SUCCEEDED
    assert addresses() == {"198.51.100.3", "192.0.2.1", "192.0.2.3", "192.0.2.5"}


def test_down_host_is_not_imported():
    report = import_file(fixture_path("down_and_up.xml"))

    assert addresses() == {"192.0.2.10"}
    assert report.warnings == [
        "down_and_up.xml: 1 host that is not up was skipped; only hosts that are up are imported."
    ]


def test_byte_order_mark_before_declaration_is_accepted(tmp_path):
    path = tmp_path / "scan.xml"
    path.write_bytes(b"\xef\xbb\xbf" + fixture_path("down_and_up.xml").read_bytes())

    report = import_file(path)

    assert report.status == ImportRun.Status.SUCCEEDED, report.error
    assert addresses() == {"192.0.2.10"}


def test_utf16_xml_gets_advice_for_xml(tmp_path):
    path = tmp_path / "scan.xml"
    path.write_bytes(fixture_path("down_and_up.xml").read_text().encode("utf-16"))

    report = import_file(path, fmt="nmap")

    assert report.status == ImportRun.Status.FAILED
    assert report.error == (
        "scan.xml: the file is UTF-16 XML, as Windows PowerShell 5 writes with >, not UTF-8 "
        "text. Let nmap write the file itself (-oX scan.xml writes UTF-8), or convert it to "
        "UTF-8, and import it again."
    )


def test_host_up_only_by_pn_needs_an_answer():
    report = import_file(fixture_path("pn_user_set.xml"))

    # .1 had only filtered ports; .2 an open port, .3 a closed one, .4 a MAC address,
    # and .5 replied to a ping.
    assert addresses() == {"192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"}
    assert report.warnings == [
        "pn_user_set.xml: 1 host was skipped: nmap marked it up only because host discovery "
        "was off (-Pn, reason user-set), and no port answered. Hosts with an open or closed "
        "port, a MAC address or an OS match are imported."
    ]


def test_every_ip_address_element_becomes_a_host():
    report = import_file(fixture_path("dual_stack_with_mac.xml"))

    assert report.added == 2
    assert addresses() == {"198.51.100.7", "2001:db8::7"}
    for host in Host.objects.all():
        assert host.mac == "00:00:5E:00:53:01"
        assert host.mac_vendor == "Example"
        assert host.hostnames == ["web-7.example.test", "web-7"]


def test_os_guess_is_the_most_accurate_match():
    import_file(fixture_path("dual_stack_with_mac.xml"))

    # Two matches tie at 97 %; nmap lists the better one first.
    assert Host.objects.get(address="198.51.100.7").os_name == "Linux 5.4"


def test_ipv6_only_host_imports():
    report = import_file(fixture_path("ipv6_only.xml"))

    assert report.status == ImportRun.Status.SUCCEEDED
    host = Host.objects.get()
    assert host.address == "2001:db8::8"
    assert host.version == 6


def test_entity_declarations_are_rejected():
    report = import_file(fixture_path("entity_bomb.xml"))

    assert report.status == ImportRun.Status.FAILED
    assert "DTD entity declarations are not allowed" in report.error
    assert "Import the XML file that nmap wrote (-oX), unchanged." in report.error
    assert Host.objects.count() == 0


def test_external_entity_is_never_read():
    report = import_file(fixture_path("external_entity.xml"))

    assert report.status == ImportRun.Status.FAILED
    assert "DTD entity declarations are not allowed" in report.error
    assert Host.objects.count() == 0


def test_bare_doctype_is_accepted():
    report = import_file(fixture_path("down_and_up.xml"))

    assert report.status == ImportRun.Status.SUCCEEDED
    assert report.error == ""


def test_interrupted_scan_keeps_complete_hosts():
    report = import_file(fixture_path("interrupted.xml"))

    assert report.status == ImportRun.Status.PARTIAL
    assert addresses() == {"192.0.2.1"}
    assert any("file ends early at line 2" in warning for warning in report.warnings)


def test_appended_runs_import_with_rejected_address():
    report = import_file(fixture_path("appended_runs.xml"))

    assert report.status == ImportRun.Status.SUCCEEDED
    assert addresses() == {"192.0.2.21", "192.0.2.22"}
    assert report.rejected_count == 1
    message = report.rejected[0]["message"]
    assert message.startswith('appended_runs.xml line 9: "192.0.2.300" is not a valid IP address')


def test_malformed_file_lands_nothing():
    report = import_file(fixture_path("malformed_middle.xml"))

    assert report.status == ImportRun.Status.FAILED
    assert "malformed_middle.xml line 4" in report.error
    assert "not well-formed XML" in report.error
    assert Host.objects.count() == 0


def test_csv_forced_to_nmap_names_the_format(tmp_path):
    path = tmp_path / "hosts.csv"
    path.write_bytes(b"\xef\xbb\xbfip,hostname\n192.0.2.1,alpha\n")

    report = import_file(path, fmt="nmap")

    assert report.status == ImportRun.Status.FAILED
    assert report.error == (
        "hosts.csv line 1: the file is not XML, so not nmap output. If it is a CSV file or a "
        "list of addresses, import it with the format left on detect or set to csv or list."
    )


def test_xml_with_another_root_is_rejected(tmp_path):
    path = tmp_path / "other.xml"
    path.write_text('<?xml version="1.0"?><report><host/></report>')

    report = import_file(path)

    assert report.status == ImportRun.Status.FAILED
    assert "not <nmaprun>" in report.error


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


HOST = '<host><status state="up"/><address addr="{}" addrtype="ipv4"/></host>\n'


def scan_of(tmp_path, name: str, *hosts: str):
    """Write an nmap run of the given host elements, one per line from line 3."""
    return write(
        tmp_path, name, '<?xml version="1.0"?>\n<nmaprun>\n' + "".join(hosts) + "</nmaprun>\n"
    )


def test_parameter_entity_is_rejected(tmp_path):
    dtd = tmp_path / "outside.dtd"
    dtd.write_text('<!ENTITY leak "from outside">')
    path = write(
        tmp_path,
        "param.xml",
        f'<?xml version="1.0"?>\n<!DOCTYPE nmaprun [<!ENTITY % outside SYSTEM "{dtd.as_uri()}">'
        "%outside;]>\n<nmaprun>" + HOST.format("192.0.2.1") + "</nmaprun>\n",
    )

    report = import_file(path)

    assert report.status == ImportRun.Status.FAILED
    assert "DTD entity declarations are not allowed" in report.error
    assert Host.objects.count() == 0


def test_external_dtd_is_not_read(tmp_path):
    dtd = tmp_path / "nmap.dtd"
    dtd.write_text('<!ENTITY name "from-the-dtd">')
    path = write(
        tmp_path,
        "system.xml",
        f'<?xml version="1.0"?>\n<!DOCTYPE nmaprun SYSTEM "{dtd.as_uri()}">\n<nmaprun>'
        '<host><status state="up"/><address addr="192.0.2.1" addrtype="ipv4"/>'
        '<hostnames><hostname name="plain"/></hostnames></host></nmaprun>\n',
    )

    report = import_file(path)

    assert report.status == ImportRun.Status.SUCCEEDED
    assert Host.objects.get().hostnames == ["plain"]


def test_hosthint_is_not_a_host(tmp_path):
    path = write(
        tmp_path,
        "hint.xml",
        '<?xml version="1.0"?>\n<nmaprun>\n'
        '<hosthint><status state="up"/><address addr="192.0.2.9" addrtype="ipv4"/></hosthint>\n'
        + HOST.format("192.0.2.1")
        + '<hosthint><status state="up"/><address addr="192.0.2.8" addrtype="ipv4"/></hosthint>\n'
        "</nmaprun>\n",
    )

    report = import_file(path)

    assert report.added == 1
    assert addresses() == {"192.0.2.1"}


def test_only_direct_children_describe_host(tmp_path):
    path = write(
        tmp_path,
        "nested.xml",
        '<?xml version="1.0"?>\n<nmaprun><host><status state="up"/>'
        '<address addr="192.0.2.1" addrtype="ipv4"/>'
        '<ports><port><address addr="192.0.2.99" addrtype="ipv4"/>'
        '<hostname name="not-a-name"/></port></ports>'
        '<hostnames><hostname name="real"/></hostnames></host></nmaprun>\n',
    )

    import_file(path)

    host = Host.objects.get()
    assert host.address == "192.0.2.1"
    assert host.hostnames == ["real"]


def test_line_numbers_hold_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr("inventory.importers.nmap.CHUNK_SIZE", 7)
    body = "".join(HOST.format(f"192.0.2.{index}") for index in range(1, 40))
    path = write(
        tmp_path,
        "chunks.xml",
        '<?xml version="1.0"?>\n<nmaprun>\n' + body + HOST.format("192.0.2.300") + "</nmaprun>\n",
    )

    report = import_file(path)

    assert report.added == 39
    assert report.rejected[0]["line"] == 42


def test_host_without_ip_warns_with_line(tmp_path):
    path = write(
        tmp_path,
        "no_address.xml",
        '<?xml version="1.0"?>\n<nmaprun>\n'
        + HOST.format("192.0.2.1")
        + '<host><status state="up"/>\n<address addr="00:00:5E:00:53:01" addrtype="mac"/></host>\n'
        "</nmaprun>\n",
    )

    report = import_file(path)

    assert report.added == 1
    assert "no_address.xml line 4: a host that is up has no IP address." in report.warnings


def test_runstats_count_mismatch_is_warned(tmp_path):
    path = write(
        tmp_path,
        "runstats.xml",
        '<?xml version="1.0"?>\n<nmaprun>\n'
        + HOST.format("192.0.2.1")
        + '<runstats><hosts up="2" down="0" total="2"/></runstats></nmaprun>\n',
    )

    report = import_file(path)

    assert "runstats reports 2 hosts up, but 1 host up was read." in report.warnings[0]


def test_interrupted_run_before_another_names_its_lines(tmp_path):
    path = write(
        tmp_path,
        "appended.xml",
        '<?xml version="1.0"?>\n<nmaprun>\n'
        + HOST.format("192.0.2.1")
        + '<host><status state="up"/>\n'
        + '<?xml version="1.0"?>\n<nmaprun>\n'
        + HOST.format("192.0.2.2")
        + '<runstats><hosts up="1"/></runstats></nmaprun>\n',
    )

    report = import_file(path)

    assert report.status == ImportRun.Status.PARTIAL
    assert addresses() == {"192.0.2.1", "192.0.2.2"}
    assert report.warnings[0] == (
        "appended.xml: the nmap run that starts at line 1 ends early, at line 5 where the next "
        "run starts. That scan was probably interrupted: 1 complete host that is up was "
        "read from it, and no host was marked stale."
    )


def test_host_with_rejected_address_is_not_warned_again(tmp_path):
    path = scan_of(
        tmp_path, "bad_address.xml", HOST.format("192.0.2.300"), HOST.format("192.0.2.3")
    )

    report = import_file(path)

    assert report.added == 1
    assert report.rejected_count == 1
    assert report.rejected[0]["message"].endswith(
        "The address was left out. nmap writes only valid addresses here, so the file was "
        "probably edited: correct the address element and import the file again."
    )
    assert report.warnings == []


def test_entity_error_names_its_line(tmp_path):
    path = write(
        tmp_path,
        "appended.xml",
        '<?xml version="1.0"?>\n<nmaprun>' + HOST.format("192.0.2.1") + "</nmaprun>\n"
        '<?xml version="1.0"?>\n<!DOCTYPE nmaprun [\n<!ENTITY a "b">\n]>\n<nmaprun/>\n',
    )

    report = import_file(path)

    assert report.error.startswith("appended.xml line 6: DTD entity declarations are not allowed")
    assert Host.objects.count() == 0


def test_scan_without_up_hosts_says_so(tmp_path):
    down = '<host><status state="down"/><address addr="{}" addrtype="ipv4"/></host>\n'
    path = scan_of(tmp_path, "alldown.xml", down.format("192.0.2.1"), down.format("192.0.2.2"))

    report = import_file(path)

    assert report.added == 0
    assert report.warnings[0] == (
        "alldown.xml: the scan lists 2 hosts, and none of them is up. Only hosts that are up "
        "are imported: check the scan's targets and options, or import a scan that found hosts."
    )


def test_loopback_host_is_rejected(tmp_path):
    path = scan_of(tmp_path, "localhost.xml", HOST.format("127.0.0.1"), HOST.format("192.0.2.3"))

    report = import_file(path)

    assert report.added == 1
    assert report.rejected[0]["message"] == (
        'localhost.xml line 3: "127.0.0.1" is a loopback address (127.0.0.0/8), not the address '
        "of a discovered host. The address was left out."
    )
    assert report.warnings == []


def test_whitespace_around_addresses_is_stripped(tmp_path):
    # Space, tab, NBSP, CR and LF as character references, a raw NBSP, a
    # zero-width space and a byte order mark, before or after the address.
    values = [
        " 192.0.2.1",
        "192.0.2.2&#9;",
        "&#160;192.0.2.3",
        "192.0.2.4&#13;",
        "\u00a0192.0.2.5\u00a0",
        "\u200b192.0.2.6",
        "2001:db8::7&#10;",
        "\ufeff192.0.2.8",
    ]
    hosts = [HOST.format(value) for value in values]
    path = scan_of(tmp_path, "spaces.xml", *hosts)

    report = import_file(path)

    assert report.rejected == []
    assert report.added == len(values)
    assert addresses() == {*(f"192.0.2.{last}" for last in (1, 2, 3, 4, 5, 6, 8)), "2001:db8::7"}


MASSCAN_HOST = (
    '<host endtime="1764576000"><address addr="{}" addrtype="ipv4"/><ports>'
    '<port protocol="tcp" portid="{}"><state state="{}" reason="syn-ack" reason_ttl="64"/>'
    "</port></ports></host>\n"
)


def test_masscan_hosts_without_status_import(tmp_path):
    # masscan writes nmap's format with no status element, one host element
    # per open port, and a runstats figure that counts those elements.
    path = write(
        tmp_path,
        "masscan.xml",
        '<?xml version="1.0"?>\n<nmaprun scanner="masscan" start="1764576000">\n'
        + MASSCAN_HOST.format("192.0.2.80", 443, "open")
        + MASSCAN_HOST.format("192.0.2.80", 22, "open")
        + MASSCAN_HOST.format("192.0.2.81", 80, "open")
        + MASSCAN_HOST.format("192.0.2.82", 80, "filtered")
        + '<runstats><finished time="1764576060"/><hosts up="4" down="0" total="4"/></runstats>'
        "</nmaprun>\n",
    )

    report = import_file(path)

    assert report.status == ImportRun.Status.SUCCEEDED, report.error
    assert addresses() == {"192.0.2.80", "192.0.2.81"}
    assert report.added == 2
    assert not any("runstats" in warning for warning in report.warnings)
    assert "masscan.xml: 1 more listing of an address listed earlier" in report.warnings[-1]


def test_nmap_host_without_status_needs_an_answer(tmp_path):
    path = scan_of(
        tmp_path,
        "no_status.xml",
        MASSCAN_HOST.format("192.0.2.90", 80, "closed"),
        MASSCAN_HOST.format("192.0.2.91", 80, "filtered"),
        '<host><address addr="192.0.2.92" addrtype="ipv4"/>'
        '<address addr="00:00:5E:00:53:92" addrtype="mac"/></host>\n',
    )

    report = import_file(path)

    assert addresses() == {"192.0.2.90", "192.0.2.92"}
    assert report.warnings == [
        "no_status.xml: 1 host was skipped: without a status element, as masscan writes hosts, "
        "a host counts when a port replied or it has a MAC address."
    ]


def test_control_character_references_are_removed(tmp_path):
    # nmap copies what a service sends into attributes, as references that
    # XML 1.0 does not allow.
    path = scan_of(
        tmp_path,
        "control.xml",
        HOST.format("192.0.2.120"),
        '<host><status state="up"/><address addr="192.0.2.121" addrtype="ipv4"/><ports>'
        '<port protocol="tcp" portid="445"><state state="open"/>'
        '<service name="ife-biteP&#x1b;" product="Samba&#27;&#X0001F;"/></port></ports>'
        '<hostnames><hostname name="smb&#x1B;.example.test"/></hostnames></host>\n',
        '<host><status state="up"/><address addr="192.0.2.122" addrtype="ipv4"/>'
        '<hostnames><hostname name="line&#xa;feed&#9;ok"/></hostnames></host>\n',
    )

    report = import_file(path)

    assert report.status == ImportRun.Status.SUCCEEDED, report.error
    assert addresses() == {"192.0.2.120", "192.0.2.121", "192.0.2.122"}
    assert Host.objects.get(address="192.0.2.121").hostname == "smb.example.test"
    assert report.warnings == [
        "control.xml line 4: 4 references to a control character, such as &#x1b;, were "
        "removed. XML does not allow control characters, and nmap copies them from what hosts "
        "send. The hosts that had them are imported."
    ]


def test_control_reference_split_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr("inventory.importers.nmap.CHUNK_SIZE", 3)
    hosts = [
        f'<host><status state="up"/><address addr="192.0.2.{index}" addrtype="ipv4"/>'
        f'<hostnames><hostname name="h{index}&#x0001b;"/></hostnames></host>\n'
        for index in range(1, 12)
    ]
    path = scan_of(tmp_path, "split.xml", *hosts)

    report = import_file(path)

    assert report.status == ImportRun.Status.SUCCEEDED, report.error
    assert report.added == 11
    assert Host.objects.get(address="192.0.2.11").hostname == "h11"
    assert "split.xml line 3: 11 references to a control character" in report.warnings[0]


def test_raw_control_character_is_named(tmp_path):
    path = tmp_path / "nul.xml"
    path.write_bytes(
        b'<?xml version="1.0"?>\n<nmaprun>\n'
        + HOST.format("192.0.2.1").encode()
        + b'<host><status state="up"/><address addr="192.0.2.2" addrtype="ipv4"/>'
        b'<hostnames><hostname name="a\x00b"/></hostnames></host>\n</nmaprun>\n'
    )

    report = import_file(path)

    assert report.status == ImportRun.Status.FAILED
    assert report.error == (
        "nul.xml line 4: the file contains the control character U+0000, which XML does not "
        "allow. nmap does not write it so, which suggests that the file was changed after the "
        "scan: remove that character and import the file again."
    )
    assert Host.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("masscan.xml", {"192.0.2.80", "192.0.2.81"}),
        ("control_references.xml", {"192.0.2.120", "192.0.2.121"}),
    ],
)
def test_fixture_scans_import_every_host(name, expected):
    report = import_file(fixture_path(name))

    assert report.status == ImportRun.Status.SUCCEEDED, report.error
    assert addresses() == expected


def test_warnings_past_the_cap_are_counted(tmp_path):
    hosts = [
        f'<host><status state="up"/><address addr="198.18.0.{index}" addrtype="ipv4"/>'
        f'<address addr="bad-{index}" addrtype="mac"/></host>\n'
        for index in range(1, 251)
    ]
    path = scan_of(tmp_path, "many.xml", *hosts)

    report = import_file(path)

    assert report.added == 250
    assert len(report.warnings) == 201
    assert (
        report.warnings[-1]
        == "many.xml: 50 more warnings were not kept: a report keeps the first 200."
    )


def test_old_scan_is_warned(tmp_path):
    # 2019-01-01 08:00 UTC, and a recent run appended after it.
    old = '<?xml version="1.0"?>\n<nmaprun start="1546329600">\n' + HOST.format("192.0.2.1")
    path = write(tmp_path, "old2019.xml", old + "</nmaprun>\n")
    recent = write(
        tmp_path,
        "appended.xml",
        old
        + "</nmaprun>\n"
        + f'<?xml version="1.0"?>\n<nmaprun start="{int(time.time()) - 3600}">\n'
        + HOST.format("192.0.2.2")
        + "</nmaprun>\n",
    )

    report = import_file(path)

    assert report.status == ImportRun.Status.SUCCEEDED
    assert report.warnings[0].startswith("old2019.xml: the scan started on 2019-01-01 08:00 UTC, ")
    assert (
        "An import marks its hosts as seen now, so a host retired since then is current"
        in (report.warnings[0])
    )
    assert not any("scan started" in warning for warning in import_file(recent).warnings)


@pytest.mark.parametrize("start", ["1000000000000", "99999999999999999999"])
def test_start_time_out_of_range_is_ignored(tmp_path, start):
    path = write(
        tmp_path,
        "far.xml",
        f'<?xml version="1.0"?>\n<nmaprun start="{start}">\n'
        + HOST.format("192.0.2.1")
        + "</nmaprun>\n",
    )

    report = import_file(path)

    assert report.status == ImportRun.Status.SUCCEEDED, report.error
    assert report.added == 1
    assert report.warnings == []


def test_reference_to_invalid_character_is_named(tmp_path):
    path = write(
        tmp_path,
        "fffe.xml",
        '<?xml version="1.0"?>\n<nmaprun>\n<host><status state="up"/>'
        '<address addr="192.0.2.1" addrtype="ipv4"/><hostnames><hostname name="a&#xFFFE;"/>'
        "</hostnames></host>\n</nmaprun>\n",
    )

    report = import_file(path)

    assert report.error == (
        "fffe.xml line 3: the file contains a reference to a character that XML does not allow. "
        "nmap does not write it so, which suggests that the file was changed after the scan: "
        "remove that character and import the file again."
    )
