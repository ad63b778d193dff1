"""The import_hosts and expire_hosts commands."""

import io
import logging
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from inventory.models import Host, ImportRun
from tests.support.services import ROOT, subprocess_env

from .conftest import addresses, fixture_path

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_hosts", *args, "--no-progress", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_command_imports_and_prints_report():
    output = run(str(fixture_path("bad_rows.csv")), "--source", "cmdb")

    assert "bad_rows.csv (csv, source 'cmdb'): succeeded" in output
    assert "added 6, updated 0, unchanged 0, marked stale 0, rejected 3" in output
    assert 'rejected: bad_rows.csv line 7: "192.0.2.300"' in output
    assert Host.objects.filter(source="cmdb").count() == 6
    assert ImportRun.objects.get().via == ImportRun.Via.COMMAND


def test_command_records_the_named_user(django_user_model):
    user = django_user_model.objects.create_user("cron-importer")

    run(str(fixture_path("hosts.csv")), "--user", "cron-importer")

    imported = ImportRun.objects.get()
    assert imported.started_by == user
    assert imported.via == ImportRun.Via.COMMAND


@pytest.mark.parametrize(
    ("name", "active", "expected"),
    [
        ("nobody-here", None, "--user nobody-here: no such user."),
        ("nobody-here", False, "--user nobody-here is not active."),
        (" ", None, "--user is empty."),
    ],
)
def test_command_refuses_unknown_inactive_or_empty_user(
    django_user_model, name, active, expected
):
    if active is not None:
        django_user_model.objects.create_user(name, is_active=active)

    with pytest.raises(CommandError) as error:
        run(str(fixture_path("hosts.csv")), "--user", name)

    assert expected in str(error.value)
    assert "leave --user out" in str(error.value)
    assert ImportRun.objects.count() == 0
    assert Host.objects.count() == 0


def test_command_imports_several_files():
    run(str(fixture_path("down_and_up.xml")), str(fixture_path("ipv6_only.xml")))

    assert addresses() == {"192.0.2.10", "2001:db8::8"}


def test_command_dry_run_writes_nothing():
    output = run(str(fixture_path("hosts.csv")), "--dry-run")

    assert "hosts.csv (csv, source 'hosts.csv'): preview, nothing written" in output
    assert "added 3" in output
    assert Host.objects.count() == 0


def test_command_forced_format(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("IP\n192.0.2.1\n")

    output = run(str(path), "--format", "list")

    assert 'line 1: "IP" is not a valid IP address' in output
    assert addresses() == {"192.0.2.1"}


def test_command_fails_when_nothing_imported():
    with pytest.raises(CommandError, match=r"^entity_bomb.xml failed.$"):
        run(str(fixture_path("entity_bomb.xml")))


def test_command_fails_when_no_file_lists_a_host(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("# nothing yet\n")

    out = io.StringIO()
    with pytest.raises(CommandError, match=r"^empty.txt listed no host.$"):
        call_command("import_hosts", str(path), "--no-progress", stdout=out)

    assert "empty.txt (list, source 'empty.txt'): nothing imported" in out.getvalue()


def test_command_fails_when_one_file_fails():
    with pytest.raises(CommandError) as caught:
        run(str(fixture_path("hosts.csv")), str(fixture_path("entity_bomb.xml")))

    assert str(caught.value) == "1 of 2 files failed: entity_bomb.xml."
    assert Host.objects.count() == 3


def test_command_names_a_folder(tmp_path):
    with pytest.raises(CommandError, match=r"is a folder. Name the files in it, for example"):
        run(str(tmp_path))


def old_host(address: str, source: str) -> Host:
    host = Host.objects.create(address=address, source=source)
    Host.objects.filter(pk=host.pk).update(last_seen=timezone.now() - timedelta(days=1))
    return host


def test_files_of_one_source_are_one_feed(tmp_path):
    first, second = tmp_path / "part-1.txt", tmp_path / "part-2.txt"
    first.write_text("192.0.2.1\n192.0.2.2\n")
    second.write_text("192.0.2.3\n")
    old_host("192.0.2.3", "weekly")
    gone = old_host("192.0.2.99", "weekly")
    other = old_host("198.51.100.1", "cmdb")

    output = run(str(first), str(second), "--source", "weekly")

    stale = set(Host.objects.filter(stale=True).values_list("address", flat=True))
    assert stale == {gone.address}
    assert "added 2, updated 0, unchanged 0, marked stale 0, rejected 0" in output
    assert "added 0, updated 0, unchanged 1, marked stale 1, rejected 0" in output
    assert not Host.objects.get(pk=other.pk).stale


def test_files_with_one_name_are_one_feed(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "hosts.txt").write_text("192.0.2.1\n")
    (tmp_path / "b" / "hosts.txt").write_text("192.0.2.2\n")
    gone = old_host("192.0.2.99", "hosts.txt")

    run(str(tmp_path / "a" / "hosts.txt"), str(tmp_path / "b" / "hosts.txt"))

    stale = set(Host.objects.filter(stale=True).values_list("address", flat=True))
    assert stale == {gone.address}


def test_failed_part_keeps_hosts_current(tmp_path):
    first, last = tmp_path / "part-1.txt", tmp_path / "part-3.txt"
    first.write_text("192.0.2.1\n")
    last.write_text("192.0.2.2\n")
    kept = old_host("192.0.2.99", "weekly")

    with pytest.raises(CommandError) as caught:
        run(str(first), str(fixture_path("entity_bomb.xml")), str(last), "--source", "weekly")

    assert "1 of 3 files failed: entity_bomb.xml" in str(caught.value)
    assert not Host.objects.get(pk=kept.pk).stale
    last_run = ImportRun.objects.order_by("pk").last()
    assert last_run.marked_stale == 0
    assert last_run.warnings == [
        "No host of source 'weekly' was marked stale, because entity_bomb.xml "
        "was not imported completely."
    ]


def test_feed_dry_run_counts_no_stale(tmp_path):
    first, second = tmp_path / "part-1.txt", tmp_path / "part-2.txt"
    first.write_text("192.0.2.1\n")
    second.write_text("192.0.2.2\n")
    old_host("192.0.2.99", "weekly")

    output = run(str(first), str(second), "--source", "weekly", "--dry-run")

    assert "marked stale 1" not in output
    assert "A dry run of several files of source 'weekly' counts no stale hosts." in output
    assert not Host.objects.filter(stale=True).exists()


def test_command_fails_on_missing_file(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing.xml"))


@pytest.mark.django_db(transaction=True)
def test_command_exit_status_is_non_zero():
    # A real process, so that the exit status is the one a shell sees.
    result = subprocess.run(
        [sys.executable, "manage.py", "import_hosts", str(fixture_path("entity_bomb.xml"))],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "DTD entity declarations are not allowed" in result.stdout


def test_expire_hosts_command_uses_days():
    Host.objects.create(
        address="192.0.2.1", source="s", stale=True, stale_since=timezone.now() - timedelta(days=9)
    )
    out = io.StringIO()

    call_command("expire_hosts", "--days", "7", stdout=out)

    assert "Deleted 1 host stale for more than 7 days." in out.getvalue()
    assert Host.objects.count() == 0


def test_expire_hosts_command_off_by_default():
    out = io.StringIO()

    call_command("expire_hosts", stdout=out)

    assert "Expiry is off" in out.getvalue()


@pytest.mark.parametrize("days", ["0", "-1"])
def test_expire_hosts_rejects_days_below_one(days):
    Host.objects.create(address="192.0.2.1", source="s", stale=True, stale_since=timezone.now())

    expected = f"--days {days} is invalid: give a whole number of days, 1 or more"
    with pytest.raises(CommandError, match=expected):
        call_command("expire_hosts", "--days", days, stdout=io.StringIO())

    assert Host.objects.count() == 1


def test_expire_hosts_dry_run_deletes_nothing():
    old = timezone.now() - timedelta(days=9)
    Host.objects.create(address="192.0.2.1", source="scan", stale=True, stale_since=old)
    Host.objects.create(address="192.0.2.2", source="scan", stale=True, stale_since=timezone.now())
    out = io.StringIO()

    call_command("expire_hosts", "--days", "7", "--dry-run", stdout=out)

    assert "Would delete 1 host stale for more than 7 days" in out.getvalue()
    assert f"192.0.2.1 (source 'scan', stale since {old:%Y-%m-%d %H:%M})" in out.getvalue()
    assert "192.0.2.2" not in out.getvalue()
    assert Host.objects.count() == 2


def test_part_without_hosts_stops_stale_marking(tmp_path):
    first, middle, last = (tmp_path / name for name in ("a.txt", "b.csv", "c.txt"))
    first.write_text("192.0.2.1\n")
    middle.write_text("ip\nnot-an-address\n")
    last.write_text("192.0.2.2\n")
    kept = old_host("192.0.2.99", "weekly")

    with pytest.raises(CommandError) as caught:
        run(str(first), str(middle), str(last), "--source", "weekly")

    assert str(caught.value) == "1 of 3 files listed no host: b.csv."
    middle_run = ImportRun.objects.get(file_name="b.csv")
    assert middle_run.warnings == ["No host could be imported from this file."]
    assert not Host.objects.get(pk=kept.pk).stale
    assert ImportRun.objects.order_by("pk").last().warnings == [
        "No host of source 'weekly' was marked stale, because b.csv listed no host."
    ]


def test_last_part_without_hosts_marks_nothing(tmp_path):
    first, last = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("192.0.2.1\n")
    last.write_text("# nothing\n")
    kept = old_host("192.0.2.99", "weekly")

    with pytest.raises(CommandError, match="1 of 2 files listed no host: b.txt."):
        run(str(first), str(last), "--source", "weekly")

    assert not Host.objects.get(pk=kept.pk).stale


def test_failed_last_part_says_nothing_was_marked(tmp_path):
    first, last = tmp_path / "a.txt", tmp_path / "b.csv"
    first.write_text("192.0.2.1\n")
    last.write_text("name,comment\nweb,no address column\n")
    unlisted = old_host("192.0.2.99", "weekly")
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 of 2 files failed: b.csv."):
        call_command(
            "import_hosts", str(first), str(last), "--source", "weekly", "--no-progress", stdout=out
        )

    assert not Host.objects.get(pk=unlisted.pk).stale
    assert (
        "warning: No host of source 'weekly' was marked stale, because b.csv, the source's last "
        "file, failed. Import the feed again once it is fixed." in out.getvalue()
    )


def test_files_with_one_name_show_their_paths(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "hosts.txt").write_text(f"192.0.2.{len(folder) + ord(folder)}\n")

    output = run(str(tmp_path / "a" / "hosts.txt"), str(tmp_path / "b" / "hosts.txt"))

    assert f"{tmp_path / 'a' / 'hosts.txt'} (list, source 'hosts.txt'): succeeded" in output
    assert f"{tmp_path / 'b' / 'hosts.txt'} (list, source 'hosts.txt'): succeeded" in output


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("feed\nweek", "The --source 'feed\\nweek' contains the control character U+000A."),
        ("f" * 300, "The --source is 300 characters long; the limit is 255. Give a shorter name."),
        (" ", "--source is empty. Give the feed's name, or leave --source out"),
    ],
)
def test_unusable_source_is_refused(source, message):
    with pytest.raises(CommandError) as raised:
        run(str(fixture_path("hosts.csv")), "--source", source)

    assert str(raised.value).startswith(message)
    assert Host.objects.count() == 0
    assert ImportRun.objects.count() == 0


class TerminalOutput(io.StringIO):
    """Standard error as a terminal, so that tqdm draws its bar."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stderr", "bar_drawn"), [(TerminalOutput(), True), (io.StringIO(), False)]
)
def test_progress_bar_only_on_terminal(monkeypatch, stderr, bar_drawn):
    monkeypatch.setattr(sys, "stderr", stderr)

    call_command("import_hosts", str(fixture_path("hosts.csv")), stdout=io.StringIO())

    last_line = stderr.getvalue().rsplit("\r", 1)[-1]
    assert ("hosts.csv: 100%" in last_line) is bar_drawn
    assert ("hosts=3" in last_line) is bar_drawn


def test_progress_bar_writes_host_count_in_full(monkeypatch, tmp_path):
    stderr = TerminalOutput()
    monkeypatch.setattr(sys, "stderr", stderr)
    path = tmp_path / "many.txt"
    path.write_text("".join(f"10.0.{n // 256}.{n % 256}\n" for n in range(30_000)))
    out = io.StringIO()

    call_command("import_hosts", str(path), stdout=out)

    assert "hosts=30,000" in stderr.getvalue().rsplit("\r", 1)[-1]
    assert "added 30,000, updated 0" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_quiet_commands_print_only_problems(tmp_path):
    # -v 0, as in a crontab: cron mails every line a job writes.
    good = tmp_path / "good.txt"
    good.write_text("192.0.2.1\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("not-an-address\n")

    def command(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args, "-v", "0"],
            cwd=ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    partial = tmp_path / "partial.txt"
    partial.write_text("192.0.2.2\nbogus\n")

    imported = command("import_hosts", str(good))
    expired = command("expire_hosts", "--days", "7")
    expiry_off = command("expire_hosts")
    failed = command("import_hosts", str(bad))
    with_rejections = command("import_hosts", str(partial))

    assert (imported.returncode, imported.stdout, imported.stderr) == (0, "", "")
    assert (expired.returncode, expired.stdout, expired.stderr) == (0, "", "")
    assert (expiry_off.returncode, expiry_off.stdout, expiry_off.stderr) == (0, "", "")
    # A file with rejected rows lands, and its report is printed for a look.
    assert with_rejections.returncode == 0
    assert 'rejected: partial.txt line 2: "bogus"' in with_rejections.stdout
    assert addresses() == {"192.0.2.1", "192.0.2.2"}
    assert failed.returncode == 1
    assert 'rejected: bad.txt line 1: "not-an-address"' in failed.stdout
    assert "bad.txt listed no host" in failed.stderr
    assert " INFO " not in failed.stderr


def test_quiet_command_restores_the_log_level():
    root = logging.getLogger()
    level = root.level
    assert level < logging.WARNING

    run(str(fixture_path("hosts.csv")), "-v", "0")

    assert root.level == level


def test_command_takes_address_column(tmp_path):
    path = tmp_path / "assets.csv"
    path.write_text("Asset,Adapters: IPs\nweb-1,192.0.2.10\n")

    output = run(str(path), "--address-column", "Adapters: IPs")

    assert (
        "assets.csv (csv, source 'assets.csv', address column 'Adapters: IPs'): succeeded"
        in output
    )
    assert addresses() == {"192.0.2.10"}


def test_command_takes_name_column(tmp_path):
    path = tmp_path / "switches.csv"
    path.write_text("ip,Device\n192.0.2.10,core-1.example.test\n")

    output = run(str(path), "--name-column", "Device")

    assert "switches.csv (csv, source 'switches.csv', host-name column 'Device'): succeeded" in (
        output
    )
    assert Host.objects.get().hostnames == ["core-1.example.test"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--format", "nmap", "--address-column", "ip"], "--address-column is read from CSV files"),
        (["--address-column", "a\x01b"], r"contains the control character U\+0001"),
        (["--format", "list", "--name-column", "Device"], "--name-column is read from CSV files"),
        (["--name-column", "a\x01b"], r"contains the control character U\+0001"),
    ],
)
def test_command_checks_address_column(tmp_path, arguments, message):
    path = tmp_path / "hosts.csv"
    path.write_text("ip\n192.0.2.1\n")

    with pytest.raises(CommandError, match=message):
        run(str(path), *arguments)
