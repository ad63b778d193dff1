"""The upload page in headless Chromium: upload, progress, report."""

import threading

import pytest
from django.contrib.auth.models import Permission, User

from inventory.models import Host, ImportRun
from inventory.signals import hosts_imported
from tests.support.personas import PASSWORD

from .conftest import fixture_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def importer(transactional_db):
    user = User.objects.create_user("importer", "importer@example.test", PASSWORD)
    user.user_permissions.add(Permission.objects.get(codename="add_host"))
    return user


@pytest.fixture
def held_import():
    """Hold every import inside its transaction until the test releases it."""
    release = threading.Event()

    def wait(sender, **kwargs):
        release.wait(timeout=30)

    hosts_imported.connect(wait, dispatch_uid="test-hold-import")
    yield release
    release.set()
    hosts_imported.disconnect(dispatch_uid="test-hold-import")


def test_upload_runs_in_background_and_shows_report(
    page, log_in, live_server, importer, tmp_path, held_import
):
    scan = tmp_path / "scan.txt"
    scan.write_text("".join(f"10.1.{n // 256}.{n % 256}\n" for n in range(20_000)) + "bogus\n")
    polls: list[str] = []
    page.on(
        "request",
        lambda request: polls.append(request.url) if "/progress/" in request.url else None,
    )
    log_in(page, importer)

    page.goto(f"{live_server.url}/inventory/import/")
    page.get_by_label("File").set_input_files(str(scan))
    page.get_by_label("Source").fill("browser-test")
    page.get_by_role("button", name="Import").click()

    # The import is held after its last batch: the page shows it running.
    page.locator("#progress-text", has_text="20,000 hosts so far").wait_for()
    assert page.locator("#import-report").count() == 0
    # Screen readers hear the progress through a status region.
    status = page.locator("#progress-announcement")
    assert status.get_attribute("role") == "status"
    assert status.inner_text().startswith("Importing: ")
    held_import.set()

    report = page.locator("#import-report")
    report.wait_for(timeout=60_000)
    assert polls
    assert "/inventory/import/" in page.url
    assert "Succeeded" in report.inner_text()
    assert "Added\t20,000" in report.inner_text()
    assert 'scan.txt line 20001: "bogus" is not a valid IP address' in report.inner_text()
    # The report's heading takes the focus once the import ends.
    page.wait_for_function("document.activeElement.id === 'report-heading'")
    run = ImportRun.objects.get()
    assert run.added == 20_000
    assert Host.objects.filter(source="browser-test").count() == 20_000


def test_preview_in_browser_then_import(page, log_in, live_server, importer):
    log_in(page, importer)

    page.goto(f"{live_server.url}/inventory/import/")
    page.get_by_label("File").set_input_files(str(fixture_path("hosts.csv")))
    page.get_by_label("Preview (dry run)").check()
    # The button names what it does.
    assert page.get_by_role("button", name="Import", exact=True).count() == 0
    page.get_by_role("button", name="Preview", exact=True).click()

    report = page.locator("#import-report")
    report.wait_for(timeout=30_000)
    assert "Preview (nothing written)" in report.inner_text()
    assert Host.objects.count() == 0

    page.get_by_role("button", name="Import this file").click()

    page.get_by_text("Succeeded").wait_for(timeout=30_000)
    assert "Added\t3" in page.locator("#import-report").inner_text()
    assert Host.objects.count() == 3
    assert ImportRun.objects.filter(status=ImportRun.Status.SUCCEEDED).count() == 1


def test_upload_with_named_columns(page, log_in, live_server, importer, tmp_path):
    export = tmp_path / "switches.csv"
    export.write_text("Mgmt,Device\n192.0.2.10,core-1.example.test\n")
    log_in(page, importer)

    page.goto(f"{live_server.url}/inventory/import/")
    page.get_by_label("File").set_input_files(str(export))
    page.get_by_text("A CSV file whose address or host-name column has another name").click()
    page.get_by_label("Address column (CSV)").fill("Mgmt")
    page.get_by_label("Host-name column (CSV)").fill("Device")
    page.get_by_role("button", name="Import").click()

    report = page.locator("#import-report")
    report.wait_for(timeout=30_000)
    text = report.inner_text()
    assert "address column “Mgmt”, host-name column “Device”" in text
    assert Host.objects.get().hostnames == ["core-1.example.test"]


def test_viewer_sees_read_only_host_list(page, log_in, live_server, viewer):
    Host.objects.create(address="192.0.2.1", hostname="alpha", source="s")
    log_in(page, viewer)

    page.goto(f"{live_server.url}/inventory/?q=192.0.2.0/24")

    assert page.get_by_role("link", name="192.0.2.1").is_visible()
    assert page.get_by_role("link", name="Import hosts").count() == 0
