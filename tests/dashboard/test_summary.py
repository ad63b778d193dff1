"""/dashboard/summary.json: exact integers for scripts, a session or an API token required."""

import json
from datetime import UTC, datetime

from django.urls import reverse

from accounts.models import ApiToken
from integrations.models import SyncRun

from .conftest import SUBSCRIBED_ADDRESSES

URL = reverse("dashboard:summary")
ERROR = "Qualys answered HTTP 503 three times; the sync runs again at the next interval."


def test_summary_has_exact_counts_and_types(viewer_client, coverage_data):
    response = viewer_client.get(URL)
    data = json.loads(response.content)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    expected = {
        "indexed": 8,
        "subscribed": SUBSCRIBED_ADDRESSES,
        "scanned": 7,
        "unmanaged_by_qualys": 3,
        "unmanaged_by_lumeta": 3,
        "managed_by_both": 4,
    }
    for name, value in expected.items():
        assert data[name] == value
        assert type(data[name]) is int
    assert data["coverage"] == 0.5
    assert data["last_sync"] is None


def test_summary_writes_big_counts_as_integer_literals(viewer_client, coverage_data):
    body = viewer_client.get(URL).content.decode()

    # 2**64 + 139 would lose its last digits as a float.
    assert f'"subscribed": {SUBSCRIBED_ADDRESSES},' in body
    assert "e+" not in body


def test_summary_reports_last_sync_in_utc(viewer_client, db):
    SyncRun.objects.create(
        status=SyncRun.Status.FAILED,
        trigger=SyncRun.Trigger.BUTTON,
        created_at=datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
        started_at=datetime(2026, 12, 3, 10, 0, 5, tzinfo=UTC),
        finished_at=datetime(2026, 12, 3, 10, 1, 0, 250000, tzinfo=UTC),
        error=ERROR,
    )

    data = json.loads(viewer_client.get(URL).content)

    assert data["last_sync"] == {
        "id": SyncRun.objects.get().pk,
        "status": "failed",
        "started_at": "2026-12-03T10:00:05Z",
        "finished_at": "2026-12-03T10:01:00.250000Z",
        "error": ERROR,
    }


def test_summary_names_qualys_data_run(viewer_client, db):
    stored = SyncRun.objects.create(
        status=SyncRun.Status.SUCCEEDED,
        trigger=SyncRun.Trigger.SCHEDULE,
        created_at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
        finished_at=datetime(2026, 12, 2, 10, 5, tzinfo=UTC),
    )
    SyncRun.objects.create(
        status=SyncRun.Status.FAILED,
        trigger=SyncRun.Trigger.SCHEDULE,
        created_at=datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
        finished_at=datetime(2026, 12, 3, 10, 1, tzinfo=UTC),
        error=ERROR,
    )

    data = json.loads(viewer_client.get(URL).content)

    assert data["last_sync"]["status"] == "failed"
    assert data["qualys_data_from"] == {
        "id": stored.pk,
        "status": "succeeded",
        "finished_at": "2026-12-02T10:05:00Z",
    }


def test_summary_of_empty_inventory_has_full_coverage(viewer_client, db):
    data = json.loads(viewer_client.get(URL).content)

    assert data["indexed"] == 0
    assert data["coverage"] == 1.0


def test_summary_accepts_api_token(client, viewer, coverage_data):
    _, raw = ApiToken.issue(viewer, "monitoring")

    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200
    assert json.loads(response.content)["managed_by_both"] == 4


def test_summary_answers_401_json_for_bad_token(client, viewer, db):
    token, raw = ApiToken.issue(viewer, "monitoring")
    token.revoke()

    for header in [f"Bearer {raw}", "Bearer lq_wrong", "Basic dXNlcjpwYXNz"]:
        response = client.get(URL, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert "API token" in json.loads(response.content)["error"]


def test_summary_redirects_anonymous_browser_to_login(client, db):
    response = client.get(URL, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
