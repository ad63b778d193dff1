"""The sync panel, "Sync now", "Preview", the progress JSON and a run's page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import SyncRun
from integrations.services import runs
from integrations.services.lock import SyncLock
from lumeta_qualys.celery import app as celery_app

from . import scenario

pytestmark = pytest.mark.django_db

SETTINGS_URL = reverse("integrations:qualys")
SYNC_NOW_URL = reverse("integrations:sync-now")
PREVIEW_URL = reverse("integrations:sync-preview")
PROGRESS_URL = reverse("integrations:sync-progress")


@pytest.fixture
def broker(sync_redis, redis_url, monkeypatch):
    """Send tasks to the test Redis, and drop them afterwards so no later worker runs them."""
    monkeypatch.setattr(celery_app.conf, "broker_url", redis_url)
    sync_redis.delete("celery")
    yield sync_redis
    sync_redis.delete("celery")


def queued_messages(connection) -> int:
    return connection.llen("celery")


def test_sync_now_queues_a_run_for_a_worker(editor_client, editor, configure, broker):
    configure()

    response = editor_client.post(SYNC_NOW_URL)

    assert response.status_code == 302
    assert response["Location"].endswith("#sync")
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.QUEUED
    assert run.trigger == SyncRun.Trigger.BUTTON
    assert run.requested_by == editor
    assert run.task_id
    assert queued_messages(broker) == 1


def test_sync_now_while_one_is_queued_records_skipped(editor_client, configure, broker):
    configure()
    editor_client.post(SYNC_NOW_URL)
    waiting = SyncRun.objects.get()

    response = editor_client.post(SYNC_NOW_URL, follow=True)

    second = SyncRun.objects.exclude(pk=waiting.pk).get()
    assert second.status == SyncRun.Status.SKIPPED
    assert second.error.startswith(
        f"another sync (run {waiting.pk}) was queued and waits for a worker, so this one did "
        "not start."
    )
    assert queued_messages(broker) == 1
    assert f"Another sync (run {waiting.pk}) was queued" in response.content.decode()


def test_sync_now_while_running_records_skipped(editor_client, configure, broker):
    configure()
    holder = SyncLock("other", connection=broker)
    holder.acquire()
    try:
        response = editor_client.post(SYNC_NOW_URL, follow=True)
    finally:
        holder.release()

    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.SKIPPED
    assert run.error.startswith("another sync was running, so this one did not start.")
    assert queued_messages(broker) == 0
    assert b"Another sync was running, so this one did not start." in response.content


def test_sync_now_needs_configuration(editor_client, db, broker, sync_redis):
    response = editor_client.post(SYNC_NOW_URL, follow=True)

    assert SyncRun.objects.count() == 0
    assert b"enter the API server, username and password first" in response.content


def test_sync_now_refused_while_integration_off(editor_client, configure, broker):
    configure(enabled=False)

    sync_response = editor_client.post(SYNC_NOW_URL, follow=True)
    preview = editor_client.post(PREVIEW_URL)

    assert b"Cannot start a sync: the Qualys integration is off." in sync_response.content
    assert list(SyncRun.objects.values_list("dry_run", flat=True)) == [True]
    assert preview.status_code == 302
    assert queued_messages(broker) == 1
    # The panel's button is disabled, with the reason beside it, as on the dashboard.
    page = editor_client.get(reverse("integrations:qualys")).content.decode()
    assert (
        'id="sync-now" disabled aria-describedby="sync-off-help" data-busy-label="Starting…" '
        "data-idle-only>Sync now"
    ) in page
    assert "Sync now is off while the integration is turned off." in page
    assert (
        '<button type="submit" id="sync-preview" data-busy-label="Starting…" '
        "data-idle-only>Preview</button>"
    ) in page


def test_viewer_cannot_start_sync_or_preview(viewer_client, configure, broker):
    configure()

    assert viewer_client.post(SYNC_NOW_URL).status_code == 403
    assert viewer_client.post(PREVIEW_URL).status_code == 403
    assert SyncRun.objects.count() == 0


def test_viewer_sees_panel_without_buttons(viewer_client, qualys, configure):
    configure()
    scenario.load(qualys)
    runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND))

    response = viewer_client.get(SETTINGS_URL)

    content = response.content.decode()
    assert 'id="sync"' in content
    assert 'id="sync-now"' not in content
    assert "Recent runs" in content
    assert "Succeeded" in content
    assert "sync_progress.js" in content


def test_editor_sees_buttons_and_run_counts(editor_client, qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    run = runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND))

    content = editor_client.get(SETTINGS_URL).content.decode()

    assert 'id="sync-now"' in content
    assert 'id="sync-preview"' in content
    assert reverse("integrations:sync-run", args=[run.pk]) in content
    assert "<td>282</td>" in content  # S after the add
    assert (
        "so it uses about as many of the API's calls: one per page of the host list, "
        f"{run.qualys_calls} in the last run."
    ) in content


def test_preview_button_queues_dry_run(editor_client, configure, broker):
    configure()

    response = editor_client.post(PREVIEW_URL)

    run = SyncRun.objects.get()
    assert run.dry_run is True
    assert response["Location"] == reverse("integrations:sync-run", args=[run.pk])
    page = editor_client.get(response["Location"])
    assert page.status_code == 200
    assert b"data-reload-on-finish" in page.content
    assert b"<dd>Preview button by editor</dd>" in page.content


def test_preview_page_lists_ranges_and_offers_download(editor_client, qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    run = runs.execute_run(runs.create_run(SyncRun.Trigger.BUTTON, dry_run=True))

    page = editor_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()
    download = editor_client.get(reverse("integrations:sync-run-ranges", args=[run.pk, "group"]))

    assert "Would be added to the subscription" in page
    assert "192.0.2.40\n203.0.113.5\n" in page
    assert "2 addresses in 2 ranges" in page
    assert "2001:db8::99" in page  # the IPv6 address that cannot be pushed
    assert (
        download["Content-Disposition"] == f'attachment; filename="sync-{run.pk}-group-ranges.txt"'
    )
    assert download.content.decode().splitlines() == run.group_ranges.splitlines()
    assert "198.51.100.0-198.51.100.255" in download.content.decode()


def test_latest_preview_get_redirects_to_newest_preview(viewer_client, db):
    older = SyncRun.objects.create(trigger=SyncRun.Trigger.BUTTON, dry_run=True)
    newer = SyncRun.objects.create(trigger=SyncRun.Trigger.BUTTON, dry_run=True)
    SyncRun.objects.create(trigger=SyncRun.Trigger.BUTTON)
    assert older.pk < newer.pk

    response = viewer_client.get(PREVIEW_URL)

    assert response["Location"] == reverse("integrations:sync-run", args=[newer.pk])


def test_latest_preview_get_without_previews(viewer_client, db):
    response = viewer_client.get(PREVIEW_URL)

    assert response.status_code == 200
    assert b"No preview has run yet" in response.content


def test_progress_json_reports_running_run_step_and_counts(viewer_client, db):
    SyncRun.objects.create(trigger=SyncRun.Trigger.SCHEDULE, status=SyncRun.Status.SUCCEEDED)
    running = SyncRun.objects.create(
        trigger=SyncRun.Trigger.BUTTON,
        status=SyncRun.Status.RUNNING,
        step="fetch_scanned_hosts",
        progress={"step": "fetch_scanned_hosts", "hosts_read": 15000},
        details={"counts": {"subscribed": str(2**96)}},
    )

    data = viewer_client.get(PROGRESS_URL).json()

    assert data["running"] is True
    assert data["active"] is True
    assert data["run"]["id"] == running.pk
    assert data["run"]["step_label"] == "Reading scanned hosts"
    assert data["run"]["progress"]["hosts_read"] == 15000
    assert data["run"]["counts"]["subscribed"] == str(2**96)
    assert data["run"]["url"] == reverse("integrations:sync-run", args=[running.pk])


def test_progress_json_trigger_and_step_labels(viewer_client, db):
    queued = SyncRun.objects.create(trigger=SyncRun.Trigger.BUTTON, dry_run=True)
    starting = SyncRun.objects.create(trigger=SyncRun.Trigger.BUTTON, status=SyncRun.Status.RUNNING)
    ended = SyncRun.objects.create(trigger=SyncRun.Trigger.BUTTON, status=SyncRun.Status.SUCCEEDED)

    first = viewer_client.get(f"{PROGRESS_URL}?run={queued.pk}").json()["run"]
    second = viewer_client.get(f"{PROGRESS_URL}?run={starting.pk}").json()["run"]
    third = viewer_client.get(f"{PROGRESS_URL}?run={ended.pk}").json()["run"]

    assert (first["trigger"], first["step_label"]) == ("Preview", "Waiting for a worker")
    assert (second["trigger"], second["step_label"]) == ("Sync now", "Starting")
    assert third["step_label"] == ""


def test_skipped_runs_give_way_to_real_runs(editor_client, configure):
    configure()
    now = timezone.now()
    real = [
        SyncRun.objects.create(
            trigger=SyncRun.Trigger.BUTTON,
            status=SyncRun.Status.SUCCEEDED,
            created_at=now - timedelta(minutes=20 - n),
            started_at=now - timedelta(minutes=20 - n),
            finished_at=now - timedelta(minutes=19 - n),
        )  # fmt: skip
        for n in range(10)
    ]
    skipped = [
        SyncRun.objects.create(
            trigger=SyncRun.Trigger.BUTTON,
            status=SyncRun.Status.SKIPPED,
            error="busy",
            created_at=now - timedelta(seconds=50 - n),
            started_at=now,
            finished_at=now,
        )  # fmt: skip
        for n in range(12)
    ]

    latest = editor_client.get(PROGRESS_URL).json()["run"]
    page = editor_client.get(reverse("integrations:qualys")).content.decode()

    def listed(run: SyncRun) -> bool:
        return f'href="{reverse("integrations:sync-run", args=[run.pk])}"' in page

    assert latest["id"] == real[-1].pk
    assert all(listed(run) for run in real)
    # The newest skipped runs are listed in place, the others counted.
    assert [listed(run) for run in skipped] == [False] * 7 + [True] * 5
    assert "7 other skipped runs (started while another sync was running) are not listed" in page
    assert 'Last sync: <a href="' + reverse("integrations:sync-run", args=[real[-1].pk]) in page


def test_older_skipped_runs_are_counted(editor_client, configure):
    configure()
    now = timezone.now()
    SyncRun.objects.create(
        trigger=SyncRun.Trigger.SCHEDULE, status=SyncRun.Status.SKIPPED, error="busy",
        created_at=now - timedelta(hours=2), started_at=now, finished_at=now,
    )  # fmt: skip
    SyncRun.objects.create(
        trigger=SyncRun.Trigger.BUTTON, status=SyncRun.Status.SUCCEEDED, dry_run=True,
        created_at=now - timedelta(hours=1), started_at=now, finished_at=now,
    )  # fmt: skip

    page = editor_client.get(reverse("integrations:qualys")).content.decode()

    assert "<td>Preview</td>" in page
    # A preview wrote nothing to Qualys, so it is not the last sync.
    assert "Last sync:" not in page
    assert "1 other skipped run (started while another sync was running) is not listed" in page


@pytest.mark.parametrize(
    ("status", "add_text", "group_text"),
    [
        ("queued", "Nothing yet: the run has not reached this step.",
         "Not computed yet: the run has not reached this step."),
        ("skipped", "Nothing: the run was skipped.", "Not computed: the run was skipped."),
    ],
)  # fmt: skip
def test_run_page_before_add_step(
    viewer_client, db, status, add_text, group_text
):
    run = SyncRun.objects.create(trigger=SyncRun.Trigger.BUTTON, status=status)

    page = viewer_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()

    assert add_text in page
    assert group_text in page
    # Every count, the placeholders' included, shows a dash.
    assert "IPv6 placeholders without a mapping</th><td>–</td>" in page
    assert "Auto-Subscribe is off" not in page
    assert "not added" not in page
    assert "Added to the subscription</h2>" not in page
    assert "Adding to the subscription</h2>" in page


@pytest.mark.parametrize(
    ("dry_run", "add_text"),
    [
        (True, "Not computed (the run stopped before this step)."),
        (False, "Nothing (the run stopped before this step)."),
    ],
)
def test_failed_run_page_before_add_step(viewer_client, db, dry_run, add_text):
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.BUTTON, status=SyncRun.Status.FAILED, dry_run=dry_run
    )

    page = viewer_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()

    # A preview that failed computed nothing; a sync that failed added nothing.
    assert add_text in page


@pytest.mark.parametrize(
    ("dry_run", "changes", "text"),
    [
        (True, {"added": "278", "removed": "1"},
         "Against the group as it is now, a sync would add 278 addresses to it and remove 1."),
        (True, {"created": True},
         "The group does not exist yet: a sync would create it with these addresses."),
        (True, {"added": "0", "removed": "0"},
         "The group holds these addresses already, so a sync would not write it."),
        (False, {"added": "1", "removed": "2"},
         "The sync added 1 address to the group and removed 2."),
    ],
)  # fmt: skip
def test_run_page_counts_group_changes(viewer_client, db, dry_run, changes, text):
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.BUTTON, status=SyncRun.Status.SUCCEEDED, dry_run=dry_run,
        details={"group": {"addresses": "2", "ranges": 1, "sample": ["192.0.2.1-192.0.2.2"]},
                 "group_changes": changes},
    )  # fmt: skip

    page = viewer_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()

    assert text in page


def test_run_page_shows_an_error_the_list_lacks(viewer_client, db):
    listed = SyncRun.objects.create(
        trigger=SyncRun.Trigger.BUTTON, status=SyncRun.Status.FAILED, error="A was not done.",
        details={"not_done": ["A was not done."]},
    )  # fmt: skip
    # A failure that ended the run after a step was left undone: its cause is not in the list.
    ended = SyncRun.objects.create(
        trigger=SyncRun.Trigger.BUTTON, status=SyncRun.Status.FAILED,
        error="The sync lock lapsed before Qualys was written to.",
        details={"not_done": ["A was not done."]},
    )  # fmt: skip

    listed_page = viewer_client.get(reverse("integrations:sync-run", args=[listed.pk]))
    ended_page = viewer_client.get(reverse("integrations:sync-run", args=[ended.pk]))

    assert "what it did and did not do</a> is listed below." in listed_page.content.decode()
    assert "The sync lock lapsed before Qualys was written to." in ended_page.content.decode()


def test_unknown_sync_run_is_404_naming_it(viewer_client, db):
    for url in (
        reverse("integrations:sync-run", args=[999]),
        reverse("integrations:sync-run-ranges", args=[999, "add"]),
    ):
        response = viewer_client.get(url)

        assert response.status_code == 404
        assert "Sync run 999 not found." in response.content.decode()


def test_progress_json_for_one_run_and_bad_ids(viewer_client, db):
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.COMMAND, status=SyncRun.Status.FAILED, error="x"
    )

    assert viewer_client.get(PROGRESS_URL, {"run": run.pk}).json()["run"]["error"] == "x"
    assert viewer_client.get(PROGRESS_URL, {"run": "abc"}).status_code == 400
    assert viewer_client.get(PROGRESS_URL, {"run": run.pk + 1}).status_code == 404
    assert viewer_client.get(PROGRESS_URL).json()["running"] is False


def test_progress_json_active_is_about_the_run_shown(viewer_client, db):
    finished = SyncRun.objects.create(
        trigger=SyncRun.Trigger.COMMAND, status=SyncRun.Status.SUCCEEDED
    )
    SyncRun.objects.create(trigger=SyncRun.Trigger.BUTTON, status=SyncRun.Status.QUEUED)

    data = viewer_client.get(PROGRESS_URL, {"run": finished.pk}).json()

    assert data["active"] is False
    assert data["run"]["status"] == "succeeded"


def test_progress_json_counts_queued_run_as_active(viewer_client, db):
    SyncRun.objects.create(trigger=SyncRun.Trigger.BUTTON, status=SyncRun.Status.QUEUED)

    data = viewer_client.get(PROGRESS_URL).json()

    assert data["running"] is False
    assert data["active"] is True
    assert data["run"]["status"] == "queued"


def test_progress_json_requires_login(client, db):
    browser = client.get(PROGRESS_URL, HTTP_ACCEPT="text/html,*/*;q=0.8")
    script = client.get(PROGRESS_URL)

    assert browser.status_code == 302
    assert script.status_code == 401


def test_admin_lists_sync_runs_read_only(admin_client_logged_in, qualys, configure):
    configure()
    scenario.load(qualys)
    run = runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND))

    listing = admin_client_logged_in.get(reverse("admin:integrations_syncrun_changelist"))
    detail = admin_client_logged_in.get(reverse("admin:integrations_syncrun_change", args=[run.pk]))

    assert listing.status_code == 200
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert admin_client_logged_in.get(reverse("admin:integrations_syncrun_add")).status_code == 403


def test_sync_now_from_dashboard_returns_there(editor_client, configure, broker):
    configure()

    page = editor_client.get(reverse("dashboard:index"))
    response = editor_client.post(SYNC_NOW_URL, {"next": "/dashboard/?tab=1"})
    elsewhere = editor_client.post(SYNC_NOW_URL, {"next": "https://example.test/"})

    assert b'<input type="hidden" name="next" value="/dashboard/">' in page.content
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/?tab=1"
    assert elsewhere["Location"].endswith("#sync")


def test_run_page_names_lowest_api(viewer_client, db):
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.SCHEDULE,
        status=SyncRun.Status.SUCCEEDED,
        qualys_calls=1046,
        rate_limit_remaining=40,
        rate_limit_limit=300,
        details={"rate_limit_api": "/api/2.0/fo/asset/host/", "scanned_hosts": "214911"},
    )

    page = viewer_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()

    assert (
        "1,046 (40 of 300 left in the rate-limit window of /api/2.0/fo/asset/host/, the API "
        "closest to its limit: Qualys counts calls per API)"
    ) in page
    assert "(214,911 scanned hosts)" in page
