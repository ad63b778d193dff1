"""The host writer: look-ups skipped where nothing is stored, indexes rebuilt after a first load."""

import json
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory import writer
from inventory.importers.base import HostRecord
from inventory.models import Host, ImportRun
from inventory.services import import_file
from inventory.signals import hosts_imported

pytestmark = pytest.mark.django_db

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="indexes are rebuilt after a first import on SQLite only"
)


HOST = '<host><status state="up"/><address addr="{}" addrtype="ipv4"/></host>\n'


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def host_indexes() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
            "ORDER BY name",
            [Host._meta.db_table],
        )
        return cursor.fetchall()


@pytest.fixture
def look_ups(monkeypatch):
    """Record the keys of each batch whose stored rows the writer reads."""
    calls: list[list[str]] = []
    original = writer.HostWriter._stored_rows

    def recording(self, keys):
        calls.append(list(keys))
        return original(self, keys)

    monkeypatch.setattr(writer.HostWriter, "_stored_rows", recording)
    return calls


def test_first_import_skips_look_ups(tmp_path, look_ups):
    report = import_file(write(tmp_path, "a.txt", "192.0.2.0/28\n"))

    assert report.added == 16
    assert look_ups == []


def test_look_up_runs_when_batch_range_holds_hosts(tmp_path, look_ups):
    import_file(write(tmp_path, "seed.txt", "192.0.2.5\n"), source="scan")

    report = import_file(write(tmp_path, "a.txt", "192.0.2.1-192.0.2.10\n"), source="scan")

    assert (report.added, report.updated, report.unchanged) == (9, 0, 1)
    assert len(look_ups) == 1


@pytest.fixture
def probes(monkeypatch) -> list[tuple[str, str]]:
    """Record the key ranges that the writer probes for stored hosts."""
    recorded: list[tuple[str, str]] = []
    original = writer.HostWriter._holds_any

    def recording(self, low, high):
        recorded.append((low, high))
        return original(self, low, high)

    monkeypatch.setattr(writer.HostWriter, "_holds_any", recording)
    return recorded


def test_sorted_first_import_skips_probes(tmp_path, monkeypatch, probes):
    monkeypatch.setattr(writer, "BATCH_SIZE", 3)

    report = import_file(write(tmp_path, "a.txt", "192.0.2.0/29\n198.51.100.1-198.51.100.2\n"))

    assert report.added == 10
    assert Host.objects.count() == 10
    # Every batch lies beyond the keys written before it into the empty table.
    assert probes == []


def test_unsorted_first_import_counts_repeats(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "BATCH_SIZE", 3)
    lines = "192.0.2.1\n192.0.2.2\n192.0.2.3\n192.0.2.7\n192.0.2.8\n192.0.2.9\n192.0.2.2\n"
    lines += "198.51.100.1\n192.0.2.5\n192.0.2.8\n"

    report = import_file(write(tmp_path, "a.txt", lines))

    assert (report.added, report.updated, report.unchanged, report.repeated) == (8, 0, 0, 2)
    assert Host.objects.count() == 8


def test_late_parse_error_lands_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "BATCH_SIZE", 1)
    hosts = "".join(HOST.format(f"192.0.2.{index}") for index in range(1, 6))
    path = write(
        tmp_path, "cut.xml", f'<?xml version="1.0"?>\n<nmaprun>\n{hosts}<host></hots>\n</nmaprun>\n'
    )

    report = import_file(path)

    assert report.status == ImportRun.Status.FAILED
    assert "cut.xml line 8" in report.error
    assert Host.objects.count() == 0
    # The connection is usable: the next import lands.
    assert import_file(write(tmp_path, "b.txt", "192.0.2.1\n")).added == 1


def test_unsorted_batches_find_stored_hosts(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "BATCH_SIZE", 3)
    import_file(write(tmp_path, "seed.txt", "192.0.2.50\n198.51.100.1\n"), source="scan")
    lines = "203.0.113.9\n192.0.2.1\n198.51.100.1\n192.0.2.50\n203.0.113.1\n192.0.2.2\n"

    report = import_file(write(tmp_path, "a.txt", lines), source="scan")

    assert (report.added, report.updated, report.unchanged) == (4, 0, 2)
    assert Host.objects.count() == 6


@sqlite_only
def test_first_import_rebuilds_every_index(tmp_path):
    before = host_indexes()

    import_file(write(tmp_path, "a.txt", "192.0.2.0/29\n"))

    assert host_indexes() == before
    assert len([name for name, statement in before if statement]) == 6


@sqlite_only
def test_failed_first_import_keeps_indexes(tmp_path, failing_receiver):
    before = host_indexes()

    with pytest.raises(RuntimeError):
        import_file(write(tmp_path, "a.txt", "192.0.2.1\n"))

    assert host_indexes() == before
    assert Host.objects.count() == 0


@sqlite_only
def test_first_dry_run_keeps_indexes(tmp_path):
    before = host_indexes()

    report = import_file(write(tmp_path, "a.txt", "192.0.2.1\n"), dry_run=True)

    assert report.status == ImportRun.Status.PREVIEW
    assert host_indexes() == before


@sqlite_only
def test_second_import_keeps_indexes_in_place(tmp_path, monkeypatch):
    import_file(write(tmp_path, "a.txt", "192.0.2.1\n"))
    dropped: list[str] = []
    monkeypatch.setattr(
        writer.HostWriter, "_defer_indexes", lambda self, cursor: dropped.append("dropped")
    )

    import_file(write(tmp_path, "b.txt", "192.0.2.2\n"))

    assert dropped == []


@given(st.lists(st.text(max_size=12), max_size=4))
def test_json_list_matches_json_dumps(values):
    assert writer.json_list(values) == json.dumps(values)


def test_plain_names_skip_json_dumps(monkeypatch):
    def fail_dumps(values):
        raise AssertionError(f"json.dumps called for {values!r}")

    monkeypatch.setattr(writer.json, "dumps", fail_dumps)

    assert writer.json_list(["host-1", "host-1.example.test"]) == (
        '["host-1", "host-1.example.test"]'
    )


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="new hosts are sent as COPY text on PostgreSQL only"
)
# Any text PostgreSQL can store: no NUL, no lone surrogates.
stored_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)


# New hosts are sent as COPY text on PostgreSQL. On SQLite the source and
# times are written into the INSERT statement. Both must store any text.
@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(stored_text, max_size=3),
    vendor=stored_text,
    os_name=stored_text,
    tags=st.lists(stored_text, max_size=2),
    source=stored_text,
)
def test_new_hosts_store_every_character(names, vendor, os_name, tags, source):
    Host.objects.all().delete()
    seen_at = timezone.now()
    host_writer = writer.HostWriter(source, seen_at)
    host_writer.add(HostRecord(4, 3221225985, "192.0.2.1", 1, names, "", vendor, os_name, tags))
    host_writer.finish()

    host = Host.objects.get()
    assert (host.hostname, host.hostnames) == (names[0] if names else "", names)
    assert (host.mac_vendor, host.os_name, host.tags) == (vendor, os_name, tags)
    assert host.source == source
    assert host.first_seen == host.last_seen == seen_at
    assert not (host.stale or host.subscribed or host.scanned)


@pytest.mark.parametrize(
    ("value", "literal"),
    [("feed", "'feed'"), ("O'Brien's scan", "'O''Brien''s scan'"), ("", "''"), (True, "1")],
)
def test_sqlite_literal_quotes_text(value, literal):
    assert writer.sqlite_literal(value) == literal


def test_sqlite_literal_refuses_nul():
    with pytest.raises(ValueError, match="NUL"):
        writer.sqlite_literal("feed\x00")


def test_first_import_runs_no_stale_update(tmp_path):
    with CaptureQueriesContext(connection) as queries:
        report = import_file(write(tmp_path, "a.txt", "192.0.2.1\n"))

    assert report.marked_stale == 0
    assert not [query for query in queries if '"stale" = ' in query["sql"]]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_import_waits_for_running_import(tmp_path):
    path = write(tmp_path, "second.txt", "192.0.2.1\n192.0.2.2\n")
    reports = []

    def second_import():
        try:
            reports.append(import_file(path, source="second"))
        finally:
            connections.close_all()

    with transaction.atomic():
        # This transaction acts as a running import: it takes the lock and
        # adds a host that the second import lists too.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [writer.IMPORT_LOCK_KEY])
        Host.objects.create(address="192.0.2.1", source="first")
        thread = threading.Thread(target=second_import)
        thread.start()
        assert wait_for_advisory_lock_wait(), "the second import did not wait for the lock"
    thread.join(timeout=30)

    assert [(report.added, report.updated) for report in reports] == [(1, 1)]
    assert Host.objects.get(address="192.0.2.1").source == "second"


def wait_for_advisory_lock_wait(seconds: float = 10.0) -> bool:
    """Return True once another connection waits for an advisory lock."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # A transaction reads one snapshot of pg_stat_activity until it is cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND wait_event = 'advisory' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone():
                return True
            time.sleep(0.05)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the page cache size is SQLite's")
def test_first_import_uses_smaller_page_cache(tmp_path, monkeypatch):
    sizes: list[int] = []
    original = writer.HostWriter.finish

    def recording_finish(self):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            sizes.append(cursor.fetchone()[0])
        original(self)

    monkeypatch.setattr(writer.HostWriter, "finish", recording_finish)

    import_file(write(tmp_path, "a.txt", "192.0.2.1\n"))
    import_file(write(tmp_path, "b.txt", "192.0.2.2\n"))

    assert sizes == [-writer.SQLITE_FIRST_IMPORT_CACHE_KIB, -writer.SQLITE_IMPORT_CACHE_KIB]


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="CHECK constraints are skipped for inserts on SQLite only"
)
def test_unchecked_inserts_store_valid_json(tmp_path):
    names = 'name,with "quotes",tab\there,ünïcode,back\\slash\n'
    path = write(
        tmp_path,
        "odd.csv",
        "ip,hostname\n"
        + "".join(
            f"192.0.2.{index},{name}\n" for index, name in enumerate(names.split(","), start=1)
        ),
    )

    report = import_file(path)

    assert report.added == 5
    assert Host.objects.get(address="192.0.2.2").hostnames == ["with", '"quotes"']
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM inventory_host WHERE NOT json_valid(hostnames) "
            "OR NOT json_valid(tags)"
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute("PRAGMA ignore_check_constraints")
        assert cursor.fetchone()[0] == 0


def test_unsorted_first_import_probes_after_overlap(tmp_path, monkeypatch, probes):
    monkeypatch.setattr(writer, "BATCH_SIZE", 2)
    # Batches: .1 .2 | .5 .6 | .3 .9 (overlaps the span written so far) | .7 .8
    text = "".join(f"192.0.2.{n}\n" for n in (1, 2, 5, 6, 3, 9, 7, 8))

    report = import_file(write(tmp_path, "a.txt", text))

    assert report.added == 8
    assert len(probes) == 2


wal_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="WAL checkpoints are an SQLite matter"
)


def autocheckpoint_pages() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        return cursor.fetchone()[0]


@wal_only
def test_import_commits_without_checkpoint_then_restores_it(tmp_path, monkeypatch, caplog):
    held_during_import = []

    def receiver(**kwargs):
        held_during_import.append(autocheckpoint_pages())

    threads = []
    release = writer.HeldCheckpoint.release

    def recording_release(self, written):
        threads.append(release(self, written))
        return threads[-1]

    monkeypatch.setattr(writer, "CHECKPOINT_ASIDE_HOSTS", 2)
    monkeypatch.setattr(writer.HeldCheckpoint, "release", recording_release)
    hosts_imported.connect(receiver)
    try:
        import_file(write(tmp_path, "a.txt", "192.0.2.1\n192.0.2.2\n"))
        import_file(write(tmp_path, "b.txt", "192.0.2.3\n"))
    finally:
        hosts_imported.disconnect(receiver)

    assert held_during_import == [0, 0]
    assert autocheckpoint_pages() == 1000
    # Two hosts reach the lowered threshold, one does not.
    assert threads[1] is None
    threads[0].join(timeout=30)
    assert not threads[0].is_alive()
    assert "checkpoint" not in caplog.text


def test_host_keeps_names_earlier_imports_saw(tmp_path):
    first, second = tmp_path / "cmdb.csv", tmp_path / "scan.csv"
    first.write_text("ip,hostname\n192.0.2.5,old-name.example.test\n")
    second.write_text("ip,hostname\n192.0.2.5,new-name.example.test\n")
    import_file(first, source="feed")
    import_file(second, source="feed")

    again = import_file(second, source="feed")

    host = Host.objects.get()
    assert host.hostname == "new-name.example.test"
    assert host.hostnames == ["new-name.example.test", "old-name.example.test"]
    assert (again.updated, again.unchanged) == (0, 1)


def test_host_names_stop_at_the_limit(tmp_path):
    for number in range(writer.MAX_HOST_NAMES + 5):
        path = tmp_path / f"scan-{number}.csv"
        path.write_text(f"ip,hostname\n192.0.2.5,name-{number}\n")
        import_file(path, source="feed")

    names = Host.objects.get().hostnames

    assert len(names) == writer.MAX_HOST_NAMES
    assert names[0] == f"name-{writer.MAX_HOST_NAMES + 4}"
    assert names[-1] == "name-5"
