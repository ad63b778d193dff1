"""The import service: one transaction, counts, stale marking, dry runs and signals."""

import gc
import gzip
from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.importers import detect_format
from inventory.models import Host, ImportRun
from inventory.services import (
    delete_hosts,
    expire_stale_hosts,
    import_file,
    import_files,
    paused_gc,
)
from inventory.signals import hosts_imported

from .conftest import addresses, fixture_path

pytestmark = pytest.mark.django_db


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reimport_counts_updated_and_unchanged(tmp_path):
    import_file(fixture_path("hosts.csv"))
    changed = write(tmp_path, "hosts.csv", "ip,hostname\n192.0.2.1,alpha\n192.0.2.2,beta-2\n")

    report = import_file(changed)

    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
    assert Host.objects.get(address="192.0.2.2").hostname == "beta-2"


def test_import_without_names_keeps_stored_details(tmp_path):
    import_file(fixture_path("dual_stack_with_mac.xml"), source="scan")
    plain = write(tmp_path, "list.txt", "198.51.100.7\n")

    report = import_file(plain, source="scan")

    assert report.unchanged == 1
    host = Host.objects.get(address="198.51.100.7")
    assert host.mac == "00:00:5E:00:53:01"
    assert host.os_name == "Linux 5.4"


def test_hosts_missing_from_next_import_become_stale(tmp_path):
    first = write(tmp_path, "a.txt", "192.0.2.1\n192.0.2.2\n192.0.2.3\n")
    import_file(first, source="scanner-1")
    import_file(write(tmp_path, "other.txt", "198.51.100.1\n"), source="scanner-2")
    second = write(tmp_path, "b.txt", "192.0.2.1\n")

    report = import_file(second, source="scanner-1")

    assert report.marked_stale == 2
    stale = set(Host.objects.stale().values_list("address", flat=True))
    assert stale == {"192.0.2.2", "192.0.2.3"}
    assert all(host.stale_since is not None for host in Host.objects.stale())
    # Stale hosts stay in the inventory; the other source is untouched.
    assert Host.objects.count() == 4
    assert not Host.objects.get(address="198.51.100.1").stale


def test_more_stale_than_listed_warns(tmp_path):
    import_file(write(tmp_path, "feed.txt", "192.0.2.0/28\n"), source="feed")
    part = write(tmp_path, "part.txt", "192.0.2.1\n192.0.2.2\n")

    preview = import_file(part, source="feed", dry_run=True)
    report = import_file(part, source="feed")

    assert report.marked_stale == 14
    assert report.warnings == [
        "14 hosts of source 'feed' became stale, more than the 2 this file listed. If the file "
        "is only part of the feed, import every part in one command, or through the API with "
        "mark_stale=0 on every part but the last and stale_before set to the first part's start "
        "on the last. Otherwise give the part a source of its own. Importing the whole feed "
        "again makes its hosts current again."
    ]
    assert preview.warnings[0].startswith("14 hosts of source 'feed' would become stale, ")


def test_feed_in_parts_counts_every_part_listed(tmp_path):
    whole = write(tmp_path, "feed.txt", "192.0.2.0/28\n")
    first = write(tmp_path, "p1.txt", "".join(f"192.0.2.{n}\n" for n in range(1, 8)))
    last = write(tmp_path, "p2.txt", "192.0.2.8\n")
    import_file(whole, source="feed")

    # In one command, then as a script sends the parts through the API.
    reports = list(import_files([first, last], source="feed"))
    import_file(whole, source="feed")
    start = timezone.now()
    import_file(first, source="feed", mark_stale=False)
    api_last = import_file(last, source="feed", stale_cutoff=start)

    # The parts listed 8 hosts, and the other 8 of the 16 went stale: no warning.
    assert reports[-1].marked_stale == 8
    assert [report.warnings for report in reports] == [[], []]
    assert api_last.marked_stale == 8
    assert api_last.warnings == []


def test_feed_that_shrank_warns_without_part_advice(tmp_path):
    import_file(write(tmp_path, "feed.txt", "192.0.2.0/28\n"), source="feed")
    parts = [write(tmp_path, "p1.txt", "192.0.2.1\n"), write(tmp_path, "p2.txt", "192.0.2.2\n")]

    reports = list(import_files(parts, source="feed"))

    assert reports[-1].marked_stale == 14
    assert reports[-1].warnings == [
        "14 hosts of source 'feed' became stale, more than the 2 the feed's files listed. If a "
        "part of the feed is missing, import the whole feed again: its hosts become current "
        "again."
    ]


def test_fewer_stale_than_listed_does_not_warn(tmp_path):
    import_file(write(tmp_path, "feed.txt", "192.0.2.1\n192.0.2.2\n192.0.2.3\n"), source="feed")

    report = import_file(write(tmp_path, "feed.txt", "192.0.2.1\n192.0.2.2\n"), source="feed")

    assert report.marked_stale == 1
    assert report.warnings == []


def test_file_name_source_stale_warning(tmp_path):
    (tmp_path / "team-a").mkdir()
    (tmp_path / "team-b").mkdir()
    import_file(write(tmp_path, "team-a/hosts.csv", "ip\n192.0.2.1\n192.0.2.2\n"))

    report = import_file(write(tmp_path, "team-b/hosts.csv", "ip\n198.51.100.1\n"))
    named = import_file(write(tmp_path, "team-b/hosts.csv", "ip\n198.51.100.2\n"), source="b")
    named_again = import_file(write(tmp_path, "team-b/hosts.csv", "ip\n198.51.100.3\n"), source="b")

    assert report.marked_stale == 2
    assert report.warnings == [
        "No source was given, so the source is the file's name, 'hosts.csv': 2 hosts that "
        "earlier imports of a file of that name listed became stale. If another feed sends "
        "files of the same name, give each feed a source of its own."
    ]
    assert named.warnings == []
    assert named_again.marked_stale == 1
    assert named_again.warnings == []


def test_preview_says_hosts_would_become_stale(tmp_path):
    import_file(write(tmp_path, "a.txt", "192.0.2.1\n192.0.2.2\n"), source="cmdb")

    report = import_file(
        write(tmp_path, "b.txt", "192.0.2.1\nbogus\n"), source="cmdb", dry_run=True
    )

    assert report.marked_stale == 1
    assert report.warnings[0].startswith(
        "1 host of source 'cmdb' would become stale while 1 row was rejected."
    )


def test_stale_marking_beside_rejected_rows_warns(tmp_path):
    import_file(write(tmp_path, "a.txt", "192.0.2.1\n192.0.2.2\n192.0.2.3\n"), source="cmdb")

    report = import_file(
        write(tmp_path, "b.txt", "192.0.2.1\n192.0.2.4\n192.0.2.0002\n"), source="cmdb"
    )

    assert report.marked_stale == 2
    assert report.rejected_count == 1
    assert report.warnings == [
        "2 hosts of source 'cmdb' became stale while 1 row was rejected. If a rejected row "
        "names one of them, fix the row and import the file again: the host becomes current "
        "again."
    ]


def test_source_differing_in_case_warns(tmp_path):
    import_file(write(tmp_path, "a.txt", "192.0.2.1\n"), source="weekly-scan")

    report = import_file(write(tmp_path, "b.txt", "192.0.2.2\n"), source="Weekly-Scan")
    same = import_file(write(tmp_path, "c.txt", "192.0.2.3\n"), source="weekly-scan")

    assert report.warnings == [
        "The source 'Weekly-Scan' differs only in letter case from the source 'weekly-scan' of "
        "an earlier import. They are two feeds, and neither marks the other's hosts stale. "
        "Give one feed one spelling."
    ]
    assert any("differs only in letter case" in warning for warning in same.warnings)
    assert ImportRun.objects.get(source="Weekly-Scan").dry_run is False


@pytest.mark.parametrize("dry_run", [False, True])
def test_host_taken_from_another_source_is_named(tmp_path, dry_run):
    import_file(write(tmp_path, "cmdb.txt", "192.0.2.1\n192.0.2.2\n192.0.2.3\n"), source="cmdb")

    report = import_file(
        write(tmp_path, "lab.txt", "192.0.2.2\n192.0.2.3\n192.0.2.9\n"),
        source="lab",
        dry_run=dry_run,
    )

    verb = "would belong" if dry_run else "now belong"
    assert (
        f"lab.txt: 2 hosts of another source {verb} to source “lab”, for example 192.0.2.2, "
        "which was of “cmdb”. A host has one source: only imports of “lab” mark them stale "
        "from then on."
    ) in report.warnings
    assert report.updated == 2
    again = import_file(write(tmp_path, "lab2.txt", "192.0.2.2\n"), source="lab")
    # After a real import the host is lab's own; after a preview it is still cmdb's.
    assert any("of another source" in warning for warning in again.warnings) == dry_run


def test_stale_host_seen_again_is_current(tmp_path):
    path = write(tmp_path, "a.txt", "192.0.2.1\n192.0.2.2\n")
    import_file(path, source="s")
    import_file(write(tmp_path, "b.txt", "192.0.2.1\n"), source="s")

    report = import_file(path, source="s")

    assert report.updated == 1
    assert Host.objects.stale().count() == 0
    assert Host.objects.get(address="192.0.2.2").stale_since is None


def test_default_source_is_the_file_name(tmp_path):
    import_file(write(tmp_path, "scan.txt", "192.0.2.1\n192.0.2.2\n"))
    report = import_file(write(tmp_path, "scan.txt", "192.0.2.1\n"))

    assert report.source == "scan.txt"
    assert report.marked_stale == 1


def test_file_name_control_characters(tmp_path):
    report = import_file(write(tmp_path, "scan\tweek.txt", "192.0.2.1\n"))
    assert Host.objects.get().source == report.source == "scan\tweek.txt"

    with pytest.raises(ValueError, match="contains the control character U\\+0000"):
        import_file(write(tmp_path, "b.txt", "192.0.2.2\n"), source="feed\x00")
    assert ImportRun.objects.count() == 1


def test_quoted_source_is_stored_as_given(tmp_path):
    import_file(write(tmp_path, "a.txt", "192.0.2.1\n"), source="O'Brien's scan")

    assert Host.objects.get().source == "O'Brien's scan"


@pytest.mark.parametrize(
    ("name", "text", "fmt"),
    [
        ("bad.csv", "ip,hostname\nfoo,a\nbar,b\n", None),
        ("header.csv", "ip,hostname\n", None),
        ("comments.txt", "# nothing here\n", None),
        (
            "scan.xml",
            '<?xml version="1.0"?><nmaprun><host><status state="up"/>'
            '<address addr="192.0.2.1" addrtype="ipv4"/></host></nmaprun>',
            "list",
        ),
    ],
)
def test_import_without_a_host_marks_nothing_stale(tmp_path, name, text, fmt):
    import_file(write(tmp_path, "a.txt", "192.0.2.1\n192.0.2.9\n"), source="scan")

    report = import_file(write(tmp_path, name, text), fmt=fmt, source="scan")

    assert report.imported == 0
    assert report.marked_stale == 0
    assert Host.objects.stale().count() == 0
    assert report.warnings[-1] == (
        "No host could be imported, so no host of source 'scan' was marked stale. "
        "To remove hosts that are gone, delete them in the administration's host list, which "
        "filters by source."
    )


def test_partial_import_marks_nothing_stale(tmp_path):
    import_file(write(tmp_path, "a.txt", "192.0.2.1\n192.0.2.9\n"), source="scan")

    report = import_file(fixture_path("interrupted.xml"), source="scan")

    assert report.status == ImportRun.Status.PARTIAL
    assert report.marked_stale == 0
    assert Host.objects.stale().count() == 0


def test_dry_run_writes_nothing(tmp_path, signals):
    import_file(write(tmp_path, "a.txt", "192.0.2.1\n192.0.2.2\n"), source="s")
    signals.imported.clear()
    before = list(Host.objects.values_list("address", "last_seen", "stale"))

    report = import_file(
        write(tmp_path, "b.txt", "192.0.2.2\n192.0.2.3\n"), source="s", dry_run=True
    )

    assert report.status == ImportRun.Status.PREVIEW
    assert (report.added, report.unchanged, report.marked_stale) == (1, 1, 1)
    assert list(Host.objects.values_list("address", "last_seen", "stale")) == before
    assert signals.imported == []


def test_failure_rolls_back_whole_import(tmp_path):
    import_file(write(tmp_path, "a.txt", "192.0.2.1\n"), source="s")

    def fail(sender, **kwargs):
        raise RuntimeError("receiver failed")

    hosts_imported.connect(fail, dispatch_uid="test-fail")
    try:
        with pytest.raises(RuntimeError):
            import_file(write(tmp_path, "b.txt", "192.0.2.2\n192.0.2.3\n"), source="s")
    finally:
        hosts_imported.disconnect(dispatch_uid="test-fail")

    assert addresses() == {"192.0.2.1"}
    assert not Host.objects.get(address="192.0.2.1").stale
    run = ImportRun.objects.order_by("-pk").first()
    assert run.status == ImportRun.Status.FAILED
    assert "receiver failed" in run.error


def test_signal_carries_max_pk_before_import(tmp_path, signals):
    import_file(write(tmp_path, "a.txt", "192.0.2.1\n192.0.2.2\n"))
    before = Host.objects.order_by("-pk").first().pk
    signals.imported.clear()

    report = import_file(write(tmp_path, "b.txt", "192.0.2.2\n192.0.2.3\n2001:db8::3\n"))

    assert len(signals.imported) == 1
    sent = signals.imported[0]
    assert sent["new_since_pk"] == before
    assert sent["import_run"].pk == report.run_id
    added = set(Host.objects.filter(pk__gt=before).values_list("address", flat=True))
    assert added == {"192.0.2.3", "2001:db8::3"}


def test_first_import_signal_starts_at_zero(tmp_path, signals):
    import_file(write(tmp_path, "a.txt", "192.0.2.1\n"))

    assert signals.imported[0]["new_since_pk"] == 0


def test_repeated_address_is_counted_once(tmp_path):
    report = import_file(write(tmp_path, "a.csv", "ip,hostname\n192.0.2.1,a\n192.0.2.1,b\n"))

    assert report.added == 1
    host = Host.objects.get()
    # The later row's name is the primary one, and the earlier name is kept.
    assert host.hostname == "b"
    assert host.hostnames == ["b", "a"]
    assert report.warnings == [
        "a.csv: 1 more listing of an address listed earlier in the file was merged into the first "
        "listing, for example 192.0.2.1, listed again on line 3."
    ]


def test_address_listed_three_times_names_the_address(tmp_path):
    text = "ip\n192.0.2.1\n192.0.2.7\n192.0.2.7\n192.0.2.7\n"

    report = import_file(write(tmp_path, "a.csv", text))

    assert report.repeated == 2
    assert report.warnings == [
        "a.csv: 2 more listings of addresses listed earlier in the file were merged into the "
        "first listing, for example 192.0.2.7, listed again on line 4."
    ]


def test_repeats_across_batches_are_merged(tmp_path, monkeypatch):
    monkeypatch.setattr("inventory.writer.BATCH_SIZE", 2)
    lines = "".join(f"192.0.2.{n}\n" for n in range(1, 6)) + "192.0.2.1\n192.0.2.2\n"
    import_file(write(tmp_path, "seed.txt", "192.0.2.2\n"))

    report = import_file(write(tmp_path, "a.txt", lines))

    assert (report.added, report.updated, report.unchanged) == (4, 1, 0)
    assert report.repeated == 2


def test_first_repeat_named_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr("inventory.writer.BATCH_SIZE", 3)
    # Line 4 repeats an address of the first batch; line 6 one of its own batch.
    lines = "192.0.2.1\n192.0.2.2\n192.0.2.3\n192.0.2.1\n192.0.2.5\n192.0.2.5\n"

    report = import_file(write(tmp_path, "a.txt", lines))

    assert report.repeated == 2
    assert report.warnings == [
        "a.txt: 2 more listings of addresses listed earlier in the file were merged into the "
        "first listing, for example 192.0.2.1, listed again on line 4."
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'<?xml version="1.0"?><nmaprun/>', "nmap"),
        (b"\xef\xbb\xbf  <nmaprun>", "nmap"),
        (b"IP;Name\r\n192.0.2.1;a\r\n", "csv"),
        (b"\xef\xbb\xbfHost Name,IPv4\n", "csv"),
        (b"192.0.2.1\n192.0.2.2\n", "list"),
        (b"# comment\n192.0.2.0/30\n", "list"),
    ],
)
def test_format_is_detected_from_content(content, expected):
    assert detect_format(content) == expected


def test_extension_does_not_decide_format(tmp_path):
    path = tmp_path / "hosts.csv"
    path.write_text("192.0.2.1\n192.0.2.2\n")

    report = import_file(path)

    assert report.format == "list"
    assert report.added == 2


def test_expiry_is_off_by_default(settings):
    Host.objects.create(
        address="192.0.2.1",
        source="s",
        stale=True,
        stale_since=timezone.now() - timedelta(days=400),
    )

    assert settings.INVENTORY_STALE_EXPIRY_DAYS == 0
    assert expire_stale_hosts() == 0
    assert Host.objects.count() == 1


def test_expiry_deletes_old_stale_hosts(signals):
    old = timezone.now() - timedelta(days=31)
    Host.objects.create(address="192.0.2.1", source="s", stale=True, stale_since=old)
    Host.objects.create(address="192.0.2.2", source="s", stale=True, stale_since=timezone.now())
    Host.objects.create(address="192.0.2.3", source="s")

    deleted = expire_stale_hosts(days=30)

    assert deleted == 1
    assert addresses() == {"192.0.2.2", "192.0.2.3"}
    assert signals.deleted == [{"keys": ["4c0000201"], "signal": signals.deleted[0]["signal"]}]


def test_bulk_delete_sends_keys(signals):
    Host.objects.create(address="192.0.2.1", source="s")
    Host.objects.create(address="2001:db8::1", source="s")

    delete_hosts(Host.objects.all())

    assert Host.objects.count() == 0
    assert sorted(signals.deleted[0]["keys"]) == ["4c0000201", "620010db8000000000000000000000001"]


def test_expiry_task_follows_setting(settings):
    from inventory.tasks import expire_stale_hosts as task

    settings.INVENTORY_STALE_EXPIRY_DAYS = 10
    old = timezone.now() - timedelta(days=11)
    Host.objects.create(address="192.0.2.1", source="s", stale=True, stale_since=old)

    assert task() == "1 stale hosts expired"
    assert Host.objects.count() == 0


def test_collector_paused_during_import(tmp_path):
    states: list[bool] = []

    def record(sender, **kwargs):
        states.append(gc.isenabled())

    hosts_imported.connect(record, dispatch_uid="test-gc")
    try:
        import_file(write(tmp_path, "a.txt", "192.0.2.1\n"))
    finally:
        hosts_imported.disconnect(dispatch_uid="test-gc")

    assert states == [False]
    assert gc.isenabled()


def test_paused_gc_keeps_disabled_state():
    gc.disable()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_collector_resumes_after_failed_import(tmp_path, failing_receiver):
    with pytest.raises(RuntimeError):
        import_file(write(tmp_path, "a.txt", "192.0.2.1\n"))

    assert gc.isenabled()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            gzip.compress(b"192.0.2.1\n"),
            "the file is gzip-compressed, not UTF-8 text. Decompress it",
        ),
        (b"PK\x03\x04\x14\x00\x06\x00rest", "a ZIP archive, such as an Excel workbook (.xlsx)"),
        (
            "ip\n192.0.2.1\n".encode("utf-16"),
            "the file is UTF-16 text, as Excel's Unicode Text export writes, not UTF-8 text.",
        ),
    ],
)
@pytest.mark.parametrize("fmt", [None, "list"])
def test_compressed_or_utf16_file_is_refused(tmp_path, content, expected, fmt):
    path = tmp_path / "hosts.dat"
    path.write_bytes(content)

    report = import_file(path, fmt=fmt)

    assert report.status == ImportRun.Status.FAILED
    assert report.error.startswith("hosts.dat: ")
    assert expected in report.error
    assert report.rejected == []
    assert Host.objects.count() == 0


def test_interrupted_scan_without_complete_host_is_empty(tmp_path):
    path = write(
        tmp_path,
        "cut.xml",
        '<?xml version="1.0"?>\n<nmaprun>\n<host><status state="up"/><address addr="192.0.2.1"',
    )

    report = import_file(path)

    assert report.status == ImportRun.Status.EMPTY
    assert ImportRun.objects.get().status == ImportRun.Status.EMPTY
    assert "file ends early at line 3" in report.warnings[0]
