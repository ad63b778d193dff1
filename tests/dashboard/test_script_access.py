"""API tokens on the endpoints for scripts, and a 401 for scripts that call pages for people."""

import json

import pytest
from django.urls import reverse

from accounts.models import ApiToken
from integrations.models import SyncRun

EXPORT = reverse("dashboard:export", args=["unmanaged-by-qualys"])
PROGRESS = reverse("integrations:sync-progress")


@pytest.fixture
def raw_token(viewer):
    return ApiToken.issue(viewer, "cron export")[1]


def test_list_export_takes_a_token(client, raw_token, coverage_data):
    response = client.get(EXPORT, HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0].startswith("Address,Host name,")
    assert len(body.splitlines()) > 1


def test_sync_progress_takes_a_token(client, raw_token, db):
    response = client.get(PROGRESS, HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    assert response.status_code == 200
    assert response.json() == {"running": False, "active": False, "run": None}


def test_range_download_takes_a_token(client, raw_token, db):
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.COMMAND,
        status=SyncRun.Status.SUCCEEDED,
        add_ranges="192.0.2.1-192.0.2.9",
        details={"add": {"addresses": "9", "ranges": 1}},
    )
    url = reverse("integrations:sync-run-ranges", args=[run.pk, "add"])

    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    assert response.status_code == 200
    assert response.content == b"192.0.2.1-192.0.2.9\n"


@pytest.mark.parametrize("url", [EXPORT, PROGRESS])
def test_revoked_token_gets_401_json_that_says_so(client, viewer, url, db):
    token, raw = ApiToken.issue(viewer, "cron export")
    token.revoke()

    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="lumeta-qualys"'
    assert json.loads(response.content)["error"].startswith(
        "Authentication failed: the API token 'cron export' was revoked on "
    )


@pytest.mark.parametrize("url", ["/", reverse("inventory:hosts")])
def test_people_page_gives_script_401(client, raw_token, url):
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    assert response.status_code == 401
    message = json.loads(response.content)["error"]
    assert message.startswith("This page is for people and takes a login, not an API token.")
    assert "GET /dashboard/summary.json" in message


def test_logged_in_browser_ignores_header(viewer_client, db):
    response = viewer_client.get("/dashboard/", HTTP_AUTHORIZATION="Bearer lq_not_a_token")

    assert response.status_code == 200


def test_export_without_header_still_sends_browser_to_login(client, db):
    response = client.get(EXPORT, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_script_without_header_gets_401_json(client, db):
    # What curl sends when the token variable is empty: no header, Accept */*.
    response = client.get(EXPORT, HTTP_ACCEPT="*/*")

    assert response.status_code == 401
    assert json.loads(response.content)["error"].startswith(
        "Authentication failed: the request has no Authorization header."
    )


SUMMARY = reverse("dashboard:summary")
HOSTS_CSV = reverse("inventory:export")


@pytest.mark.parametrize(
    ("url", "query", "expected"),
    [
        (HOSTS_CSV, "stat=stale", "Unknown parameter 'stat'. The parameters are: q, state.\n"),
        (EXPORT, "q=x&q=y", "The parameter q is given more than once. Give it once.\n"),
        (
            EXPORT,
            "state=stale&sort=name",
            "Unknown parameter 'sort'. The parameters are: q, state.\n",
        ),
    ],
)
def test_export_rejects_unknown_or_repeated_parameter(client, raw_token, db, url, query, expected):
    response = client.get(f"{url}?{query}", HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    assert response.status_code == 400
    assert response.content.decode() == expected


def test_json_endpoints_reject_unknown_parameter_as_json(client, raw_token, db):
    summary = client.get(f"{SUMMARY}?verbose=1", HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    progress = client.get(f"{PROGRESS}?id=3", HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    assert summary.status_code == 400
    assert summary.json() == {
        "error": "Unknown parameter 'verbose'. This endpoint takes no parameters."
    }
    assert progress.status_code == 400
    assert progress.json() == {"error": "Unknown parameter 'id'. The parameters are: run."}


@pytest.mark.parametrize("url", [HOSTS_CSV, EXPORT, SUMMARY, PROGRESS])
@pytest.mark.parametrize("method", ["post", "delete"])
def test_script_endpoints_take_only_get(client, raw_token, db, url, method):
    response = getattr(client, method)(url, HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert f"The method {method.upper()} is not allowed here; use GET." in response.content.decode()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "/dashboard/nonexistent.csv",
            "There is no dashboard list named “nonexistent”. The lists are: "
            "unmanaged-by-qualys, unmanaged-by-lumeta, managed-by-both.",
        ),
        (
            "/settings/integrations/qualys/sync/runs/999/add-ranges.txt",
            "Sync run 999 not found. The Qualys settings page lists the recent runs.",
        ),
    ],
)
def test_script_gets_404_as_json(client, raw_token, db, url, expected):
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    assert response.status_code == 404
    assert response.json() == {"error": expected}


def test_unmatched_address_with_token_gets_json_404(client, raw_token, db):
    response = client.get(
        "/settings/integrations/qualys/sync/runs/abc/add-ranges.txt",
        HTTP_AUTHORIZATION=f"Bearer {raw_token}",
    )

    assert response.status_code == 404
    assert response.json() == {
        "error": "Nothing found at /settings/integrations/qualys/sync/runs/abc/add-ranges.txt."
    }


def test_browser_gets_404_page(viewer_client, db):
    response = viewer_client.get("/dashboard/nonexistent.csv")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_script_endpoints_answer_head(client, raw_token, db):
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.COMMAND,
        status=SyncRun.Status.SUCCEEDED,
        details={"group": {"addresses": "0", "ranges": 0}},
    )
    ranges = reverse("integrations:sync-run-ranges", args=[run.pk, "group"])

    for url in (HOSTS_CSV, EXPORT, SUMMARY, PROGRESS, ranges):
        response = client.head(url, HTTP_AUTHORIZATION=f"Bearer {raw_token}")
        assert response.status_code == 200, url
    response = client.post(ranges, HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    assert response.status_code == 405
