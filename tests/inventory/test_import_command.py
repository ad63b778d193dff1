"""The import_hosts and expire_hosts commands."""

import io
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from inventory.models import Host
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


def test_command_imports_several_files():
    run(str(fixture_path("down_and_up.xml")), str(fixture_path("ipv6_only.xml")))

    assert addresses() == {"192.0.2.10", "2001:db8::8"}


def test_command_dry_run_writes_nothing():
    output = run(str(fixture_path("hosts.csv")), "--dry-run")

    assert "Preview (nothing written)" in output
    assert "added 3" in output
    assert Host.objects.count() == 0


def test_command_forced_format(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("IP\n192.0.2.1\n")

    output = run(str(path), "--format", "list")

    assert 'line 1: "IP" is not a valid IP address' in output
    assert addresses() == {"192.0.2.1"}


def test_command_fails_when_nothing_imported():
    with pytest.raises(CommandError, match="Nothing was imported. 1 file"):
        run(str(fixture_path("entity_bomb.xml")))


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

    assert "Deleted 1 hosts" in out.getvalue()
    assert Host.objects.count() == 0


def test_expire_hosts_command_off_by_default():
    out = io.StringIO()

    call_command("expire_hosts", stdout=out)

    assert "Expiry is off" in out.getvalue()
