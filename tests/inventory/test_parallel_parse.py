"""Large files are parsed in a child process with the same outcome as in-process parsing."""

import io
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from inventory import services, writer
from inventory.importers import ParseState, parallel
from inventory.models import Host, ImportRun
from inventory.services import import_file

from .conftest import fixture_path

pytestmark = pytest.mark.django_db

FIXTURES = [
    ("appended_runs.xml", "nmap"),
    ("dual_stack_with_mac.xml", "nmap"),
    ("interrupted.xml", "nmap"),
    ("down_and_up.xml", "nmap"),
    ("masscan.xml", "nmap"),
    ("control_references.xml", "nmap"),
    ("bad_rows.csv", "csv"),
    ("bom.csv", "csv"),
    ("whitespace.csv", "csv"),
    ("nul.csv", "csv"),
    ("list.txt", "list"),
]

HOST_FIELDS = ("address", "key", "hostname", "hostnames", "mac", "mac_vendor", "os_name", "tags")


def parse_everything_in_child(monkeypatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "PARALLEL_FORMATS", ("nmap", "csv", "list"))
    original = parallel.parse_records

    def always_aside(fmt, stream, state, total_bytes, aside=True):
        return original(fmt, stream, state, total_bytes, aside=True)

    # Also when the writer streams into one COPY (PostgreSQL, empty table).
    monkeypatch.setattr(services, "parse_records", always_aside)


@pytest.fixture
def in_child(monkeypatch):
    """Parse every file in a child process, whatever its size and format."""
    parse_everything_in_child(monkeypatch)


def import_outcome(path) -> tuple[dict, list[tuple]]:
    report = import_file(path).as_dict()
    report.pop("run_id")
    hosts = list(Host.objects.order_by("key").values_list(*HOST_FIELDS))
    Host.objects.all().delete()
    return report, hosts


@pytest.mark.parametrize(("name", "fmt"), FIXTURES)
def test_child_parse_matches_in_process(monkeypatch, name, fmt):
    in_process = import_outcome(fixture_path(name))
    parse_everything_in_child(monkeypatch)

    in_child = import_outcome(fixture_path(name))

    assert in_child == in_process


def nmap_with_notes(first: int, hosts: int) -> str:
    """Return an nmap run whose warnings and rejected rows fall among thousands of hosts."""
    parts = ['<?xml version="1.0"?>\n<nmaprun>\n']
    for index in range(first, first + hosts):
        address = f"198.18.{index >> 8}.{index & 255}"
        if index % 997 == 0:
            address += ".9"
        mac = "00:00:5E:00:53:01" if index % 1499 else "not-a-mac"
        parts.append(
            f'<host><status state="up"/><address addr="{address}" addrtype="ipv4"/>'
            f'<address addr="{mac}" addrtype="mac"/></host>\n'
        )
    parts.append(f'<runstats><hosts up="{hosts + 1}"/></runstats></nmaprun>\n')
    return "".join(parts)


def test_child_notes_keep_file_order(monkeypatch, tmp_path):
    path = tmp_path / "notes.xml"
    # Two appended runs: the first run's runstats warning falls inside a frame.
    path.write_text(nmap_with_notes(0, 2500) + nmap_with_notes(2500, 2000))
    in_process = import_outcome(path)
    parse_everything_in_child(monkeypatch)

    in_child = import_outcome(path)

    assert in_child == in_process
    report = in_child[0]
    assert report["rejected_count"] == 5
    warnings = report["warnings"]
    # Four MAC warnings, two runstats mismatches and the count of runs. The
    # five hosts whose address was rejected get no warning of their own.
    assert len(warnings) == 7
    assert "runstats reports 2,501 hosts up, but 2,500 hosts up were read." in warnings[2]
    assert warnings[-1] == "notes.xml: 2 nmap runs were read from one file."


def test_child_parse_error_lands_nothing(in_child):
    report = import_file(fixture_path("malformed_middle.xml"))

    assert report.status == ImportRun.Status.FAILED
    assert "malformed_middle.xml line 4" in report.error
    assert "not well-formed XML" in report.error
    assert Host.objects.count() == 0


def test_child_csv_error_lands_nothing(in_child, tmp_path):
    path = tmp_path / "open.csv"
    path.write_text('ip,note\n192.0.2.1,a\n192.0.2.2,"open\n192.0.2.3,b\n')

    report = import_file(path)

    assert report.status == ImportRun.Status.FAILED
    assert report.error.startswith("open.csv line 3: a quoted cell opens in this row")
    assert Host.objects.count() == 0


def test_child_rejects_entity_declarations(in_child):
    report = import_file(fixture_path("entity_bomb.xml"))

    assert report.status == ImportRun.Status.FAILED
    assert "DTD entity declarations are not allowed" in report.error


def test_child_records_arrive_in_file_order(in_child):
    text = "".join(f"192.0.2.{index}\n" for index in range(1, 200))
    stream = io.BytesIO(text.encode())
    state = ParseState("many.txt")

    records = list(parallel.parse_records("list", stream, state, total_bytes=len(text)))

    assert [record.address for record in records] == [f"192.0.2.{index}" for index in range(1, 200)]
    assert [record.line for record in records] == list(range(1, 200))


def test_child_sends_records_in_several_frames(in_child, tmp_path):
    path = tmp_path / "block.txt"
    # 4,096 addresses: more than one frame of records.
    path.write_text("198.18.0.0/20\n")

    report = import_file(path)

    assert report.added == 4096
    assert Host.objects.count() == 4096
    assert Host.objects.order_by("key").last().address == "198.18.15.255"


def test_child_failure_names_exit_status(monkeypatch):
    def failing_command(
        fmt: str, file_name: str, address_column: str = "", name_column: str = ""
    ) -> list[str]:
        return [
            sys.executable,
            "-c",
            "import sys; sys.stderr.write('parser crashed\\n'); sys.exit(3)",
        ]

    monkeypatch.setattr(parallel, "child_command", failing_command)
    state = ParseState("hosts.xml")

    with pytest.raises(RuntimeError) as caught:
        list(parallel.parse_records("nmap", io.BytesIO(b"<nmaprun/>"), state, total_bytes=1 << 30))

    message = str(caught.value)
    assert "parser process for hosts.xml ended without a result" in message
    assert "exit status 3" in message
    assert "parser crashed" in message


def fail_on_child_start(*args, **kwargs):
    raise AssertionError("a child process was started")


def test_small_file_is_parsed_in_process(monkeypatch):
    monkeypatch.setattr(parallel.subprocess, "Popen", fail_on_child_start)

    report = import_file(fixture_path("dual_stack_with_mac.xml"))

    assert report.added == 2


def test_large_list_is_parsed_in_process(monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel.subprocess, "Popen", fail_on_child_start)

    report = import_file(fixture_path("list.txt"))

    assert report.added == 9


@pytest.fixture
def started_children(monkeypatch) -> list[list[str]]:
    """Parse large files aside and record the format and file of each parser process."""
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    started: list[list[str]] = []
    original = parallel.child_command

    def recording_command(
        fmt: str, file_name: str, address_column: str = "", name_column: str = ""
    ) -> list[str]:
        started.append([fmt, file_name])
        return original(fmt, file_name, address_column, name_column)

    monkeypatch.setattr(parallel, "child_command", recording_command)
    return started


@pytest.mark.parametrize(
    ("name", "fmt", "added"), [("dual_stack_with_mac.xml", "nmap", 2), ("hosts.csv", "csv", 3)]
)
def test_large_file_is_parsed_in_child(started_children, name, fmt, added):
    Host.objects.create(address="198.51.100.200", source="earlier")

    report = import_file(fixture_path(name))

    assert report.added == added
    assert started_children == [[fmt, name]]


def test_streaming_copy_skips_parser_process(started_children):
    report = import_file(fixture_path("dual_stack_with_mac.xml"))

    assert report.added == 2
    # On PostgreSQL the empty table's single COPY already runs beside the parse.
    expected = [] if connection.vendor == "postgresql" else [["nmap", "dual_stack_with_mac.xml"]]
    assert started_children == expected


def test_write_failure_stops_child(monkeypatch, in_child, tmp_path):
    started: list[subprocess.Popen] = []
    original_popen = parallel.subprocess.Popen

    def recording_popen(*args, **kwargs):
        child = original_popen(*args, **kwargs)
        started.append(child)
        return child

    def failing_add(self, record):
        raise RuntimeError("disk full")

    monkeypatch.setattr(parallel.subprocess, "Popen", recording_popen)
    monkeypatch.setattr(writer.HostWriter, "add", failing_add)
    path = tmp_path / "block.txt"
    path.write_text("198.18.0.0/16\n")

    with pytest.raises(RuntimeError, match="disk full"):
        import_file(path)

    assert len(started) == 1
    assert started[0].returncode is not None
    assert Host.objects.count() == 0


def test_child_reads_named_address_column(in_child, tmp_path):
    path = tmp_path / "assets.csv"
    path.write_text('Name,Adapters: IPs\nweb-1,"192.0.2.10 192.0.2.11"\n')

    report = import_file(path, address_column="Adapters: IPs")

    assert report.added == 2
    assert set(Host.objects.values_list("address", flat=True)) == {"192.0.2.10", "192.0.2.11"}


def test_child_reads_named_name_column(in_child, tmp_path):
    path = tmp_path / "switches.csv"
    path.write_text("ip,Device,Name\n192.0.2.10,core-1.example.test,Core switch\n")

    report = import_file(path, name_column="Device")

    assert report.added == 1
    assert Host.objects.get().hostnames == ["core-1.example.test"]


def test_parser_process_leaves_the_orm_unloaded():
    # The child process imports the parsers alone; Django's ORM would add
    # about 10 MiB and its start-up time to every large import.
    code = "import sys, inventory.importers.parallel; print('django.db' in sys.modules)"

    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=settings.BASE_DIR,
    )

    assert result.stdout.strip() == "False"
