"""The sync panel in Chromium: live progress from the JSON endpoint, then the finished run."""

import pytest
from django.utils import timezone

from integrations.models import QualysSettings, SyncRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_panel_shows_live_progress_then_result(page, log_in, live_server, editor):
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.SCHEDULE,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
        step="fetch_scanned_hosts",
        progress={"step": "fetch_scanned_hosts", "hosts_read": 125000},
    )
    log_in(page, editor)
    page.goto(f"{live_server.url}/settings/integrations/qualys/")

    status = page.locator("#sync [data-sync-progress] [data-when-active]")
    status.wait_for(state="visible")
    assert "Reading scanned hosts" in status.inner_text()
    assert "125,000 scanned hosts read" in status.inner_text()

    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
        step="",
        indexed=10,
        details={"counts": {"indexed": "10"}},
    )

    # The page reloads when the run it watched ends, and shows the result.
    page.locator("#sync [data-when-idle] .status-succeeded").wait_for(timeout=15000)
    assert page.locator("#sync table.sync-runs").inner_text().count("Succeeded") == 1


def open_panel_during_run(page, log_in, live_server, user) -> SyncRun:
    """Start a run that reads the subscription, and open the settings page as ``user``."""
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.SCHEDULE,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
        step="fetch_subscription",
    )
    log_in(page, user)
    page.goto(f"{live_server.url}/settings/integrations/qualys/")
    page.locator("#sync [data-sync-progress] [data-when-active]").wait_for(state="visible")
    return run


def test_sync_buttons_wait_for_the_running_sync(page, log_in, live_server, editor):
    settings = QualysSettings.load()
    settings.enabled = True
    settings.server = "https://127.0.0.1:8443"
    settings.username = "apiuser"
    settings.password = "s3cret-pass"
    settings.save()
    run = open_panel_during_run(page, log_in, live_server, editor)

    assert page.locator("#sync-now").is_disabled()
    assert page.locator("#sync-preview").is_disabled()
    assert page.locator("#sync-now").get_attribute("title") == "A sync is queued or running."

    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now(), step=""
    )
    page.locator("#sync [data-when-idle] .status-succeeded").wait_for(timeout=15000)
    assert page.locator("#sync-now").is_enabled()


def test_finished_sync_keeps_unsaved_settings(page, log_in, live_server, editor):
    run = open_panel_during_run(page, log_in, live_server, editor)
    page.get_by_label("Username").fill("typed-but-not-saved")

    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now(), step=""
    )

    # No reload over the edit: a button offers it instead.
    page.get_by_role("button", name="Show its result").wait_for(timeout=15000)
    assert page.get_by_label("Username").input_value() == "typed-but-not-saved"
    page.get_by_role("button", name="Show its result").click()
    page.locator("#sync [data-when-idle] .status-succeeded").wait_for()


def test_run_page_shows_preview_result(page, log_in, live_server, viewer):
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.BUTTON,
        dry_run=True,
        status=SyncRun.Status.SUCCEEDED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        add_ranges="192.0.2.40\n203.0.113.5",
        details={
            "add": {"addresses": "2", "ranges": 2, "sample": ["192.0.2.40", "203.0.113.5"]},
            "group": {"addresses": "1", "ranges": 1, "sample": ["192.0.2.1"]},
        },
    )
    log_in(page, viewer)
    page.goto(f"{live_server.url}/settings/integrations/qualys/sync/runs/{run.pk}/")

    assert page.locator("h1").inner_text() == f"Sync preview {run.pk}"
    assert "2 addresses in 2 ranges" in page.locator("#add-heading + p").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download all ranges").first.click()
    assert download.value.suggested_filename == f"sync-{run.pk}-add-ranges.txt"


def test_recent_runs_fit_phone_width(page, log_in, live_server, editor):
    error = (
        "182 addresses were not added to the subscription: that is more than the "
        "Auto-Subscribe limit of 100 per sync. Check the indexed hosts outside the "
        "subscription, then raise the limit, or set it to 0, to add them."
    )
    SyncRun.objects.create(
        trigger=SyncRun.Trigger.BUTTON,
        status=SyncRun.Status.FAILED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        error=error,
    )
    # A preview whose sync would fail on the limit has the longest outcome.
    SyncRun.objects.create(
        trigger=SyncRun.Trigger.BUTTON,
        status=SyncRun.Status.SUCCEEDED,
        dry_run=True,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        details={"add": {"addresses": "182", "held_back": True}},
    )
    page.set_viewport_size({"width": 360, "height": 800})
    log_in(page, editor)
    page.goto(f"{live_server.url}/settings/integrations/qualys/")

    visible = page.locator("#sync .table-scroll").bounding_box()
    right_edge = visible["x"] + visible["width"]
    message = page.locator("#sync table.sync-runs .run-error-text")
    message_box = message.bounding_box()

    # Each outcome is in view, whole, without scrolling the table sideways.
    for status in page.locator("#sync table.sync-runs td[class^='status-']").all():
        box = status.bounding_box()
        assert box["x"] + box["width"] <= right_edge, status.inner_text()
        assert status.evaluate("cell => cell.scrollWidth <= cell.clientWidth")
    # The whole error wraps inside the table's visible part.
    assert message_box["x"] >= visible["x"]
    assert message_box["x"] + message_box["width"] <= right_edge
    assert message.inner_text() == error
