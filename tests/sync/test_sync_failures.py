"""A failed sync keeps the previous data and records why; a failed write is finished next time."""

import pytest
from django.urls import reverse

from integrations import constants
from integrations.models import ScannedAddress, ScannedHost, SubscribedRange, SyncRun
from integrations.qualys.client import QualysClient
from integrations.qualys.errors import QualysTimeout
from integrations.services import runs
from integrations.services.progress import ProgressReporter
from integrations.services.sync import summarize
from inventory.models import Host
from lumeta_qualys.ipset import IPSet

from . import qualys_xml as xml
from . import scenario
from .qualys_xml import FakeHost

pytestmark = pytest.mark.django_db

TITLE = constants.ASSET_GROUP_TITLE


def sync() -> SyncRun:
    return runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND))


def snapshot() -> dict:
    """Everything a failed sync must leave as it was."""
    return {
        "ranges": list(
            SubscribedRange.objects.order_by("start_key").values_list("start_key", "end_key")
        ),
        "hosts": list(
            ScannedHost.objects.order_by("qualys_id").values_list("qualys_id", "address", "dns")
        ),
        "addresses": list(ScannedAddress.objects.order_by("key").values_list("key", "indexed")),
        "flags": list(Host.objects.order_by("key").values_list("key", "subscribed", "scanned")),
    }


def cut_host_list() -> bytes:
    whole = xml.host_list([FakeHost(200, ip="192.0.2.200"), FakeHost(201, ip="192.0.2.201")])
    return whole[: whole.index(b"<HOST><ID>201")] + b"<HOST><ID>201</ID><IP>192.0"


RATE_LIMITED = xml.simple_return(
    "This API cannot be run again for another 23 hours, 57 minutes and 54 seconds.",
    code=1965,
    items={"SECONDS_TO_WAIT": "68928"},
)

FAILURES = {
    "bad credentials": (
        "ip_list",
        dict(status=401, body=xml.simple_return("Bad Login/Password", code=2000)),
        "password",
    ),
    "account expired with HTTP 200": (
        "ip_list",
        dict(status=200, body=xml.simple_return("This account has expired.", code=2001)),
        "Qualys: This account has expired (code 2001).",
    ),
    "long rate-limit wait": (
        "host_list",
        dict(status=409, body=RATE_LIMITED, headers={"X-RateLimit-ToWait-Sec": "68928"}),
        "the next call is allowed in 68928 seconds",
    ),
    "server error on every retry": (
        "host_list",
        dict(status=503, body=b"Service Unavailable", repeat=True),
        "503",
    ),
    "truncated XML on a later page": (
        "host_list",
        dict(status=200, body=cut_host_list(), nth=2),
        "",
    ),
    # A SIMPLE_RETURN without a code has the shape of a write's success; read
    # as a list, it would empty the stored subscription or scanned hosts.
    "message without a code for the IP list": (
        "ip_list",
        dict(status=200, body=xml.simple_return("Service temporarily unavailable")),
        "message without an error code",
    ),
    "message without a code for the host list": (
        "host_list",
        dict(status=200, body=xml.simple_return("Service temporarily unavailable")),
        "message without an error code",
    ),
    "HTML page instead of XML": (
        "ip_map",
        dict(
            status=414,
            body=b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN"><html><head>'
            b"<title>414 Request-URI Too Long</title></head></html>",
            headers={"Content-Type": "text/html"},
        ),
        "414",
    ),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_sync_keeps_previous_data_when_qualys_fails(qualys, configure, name):
    kind, failure, phrase = FAILURES[name]
    configure(auto_subscribe=True, page_size=2)
    scenario.load(qualys)
    first = sync()
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    before = snapshot()
    group_before = qualys.group_by_title(TITLE)
    writes_before = len(qualys.writes)
    # New data on Qualys that a failed sync must not half-load.
    qualys.subscribe("192.0.2.200-192.0.2.210")
    qualys.scan(FakeHost(200, ip="192.0.2.200"), FakeHost(201, ip="192.0.2.201"))
    scenario.index("198.18.0.1")
    before["flags"] = snapshot()["flags"]
    qualys.fail(kind, **failure)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert run.error
    assert phrase in run.error
    assert run.finished_at is not None
    assert snapshot() == before
    assert len(qualys.writes) == writes_before
    assert qualys.group_by_title(TITLE) == group_before
    assert run.status_label == "Failed"


def test_partial_add_counts_landed_addresses(qualys, configure, monkeypatch, editor_client):
    configure(auto_subscribe=True)
    scenario.load(qualys)

    # One address per call: the first call lands, the second fails (as at a licence limit).
    def one_per_call(self, base, field, ips):
        yield from ips.qualys_tokens()

    monkeypatch.setattr(QualysClient, "_chunks", one_per_call)
    licence = xml.simple_return("IPs exceed the licence.", code=1905)
    qualys.fail("ip_add", status=400, body=licence, nth=2)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert (
        "Adding 2 addresses to the subscription failed after 1 of them was added; "
        "the other one was not:"
    ) in run.error
    assert run.ips_added == 1
    assert run.details["add"]["landed"] == "1"
    assert run.details["done"][0] == "Added 1 address to the subscription."
    assert run.subscribed == scenario.SUBSCRIBED_SIZE + 1
    page = editor_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()
    assert "Planned for the subscription, partly added" in page
    assert "1 of them was added before the failure" in page


def test_add_whose_reply_failed_after_it_landed_succeeds(qualys, configure, monkeypatch):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    add_ips = QualysClient.add_ips

    def add_then_time_out(self, *args, **kwargs):
        add_ips(self, *args, **kwargs)
        raise QualysTimeout("The reply did not arrive in time.")

    monkeypatch.setattr(QualysClient, "add_ips", add_then_time_out)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.ips_added == 2
    assert run.details["add"]["failed"] is False
    assert (
        "Adding 2 addresses to the subscription reported an error, but the subscription read "
        "again holds every one of them, so nothing needs doing: The reply did not arrive in "
        "time."
    ) in run.details["warnings"]
    # S′ − M: the 277 addresses of S − M and the added 192.0.2.40 (203.0.113.5 is scanned).
    assert run.group_size == 278


def test_failed_add_rereads_subscription_and_sets_group(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    qualys.fail("ip_add", status=500, body=b"Internal Server Error", repeat=True)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "Adding 2 addresses to the subscription failed" in run.error
    assert "The asset group was not updated." not in run.error
    assert run.details["add"]["failed"] is True
    # The tables hold what Qualys holds: the subscription without the failed add.
    assert run.subscribed == scenario.SUBSCRIBED_SIZE
    assert SubscribedRange.objects.filter(start_address="192.0.2.40").count() == 0
    assert ScannedHost.objects.count() == len(scenario.HOSTS)
    # The group follows that subscription: S − M, 280 subscribed of which 3 are scanned.
    assert run.subscribed == 280
    assert qualys.group_by_title(TITLE)[1].size == 277
    assert run.group_size == 277


def test_accepted_add_counts_though_reread_fails(qualys, configure, editor_client):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    # The first list call is the fetch; the second, after the add, fails.
    qualys.fail("ip_list", status=503, body=b"Service Unavailable", repeat=True, nth=2)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "The subscription could not be read again after the add" in run.error
    # Qualys returned success for the add, so it is counted and announced.
    assert run.ips_added == 2
    assert run.details["add"]["unconfirmed"] is True
    assert (
        "Added 2 addresses to the subscription: Qualys accepted the add, and the next sync "
        "reads the subscription to confirm it." in run.details["done"]
    )
    assert not IPSet.from_strings(["192.0.2.40"]) - qualys.subscription
    assert run.status_label == "Failed after writing to Qualys"
    page = editor_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()
    assert "Added to the subscription</h2>" in page
    # The error sits in the list of what was and was not done, not twice.
    assert "what it did and did not do</a> is listed below." in page
    assert page.count("The subscription could not be read again after the add") == 1
    assert "What was done and not done</h2>" in page


def test_retry_of_a_failed_call_shows_in_progress(qualys, configure, monkeypatch):
    configure()
    scenario.load(qualys)
    # The first call of the subscription list fails once; its retry succeeds.
    qualys.fail("ip_list", status=503, body=b"Service Unavailable")
    notices = []
    update = ProgressReporter.update

    def record(self, **counts):
        update(self, **counts)
        if "retry" in self.run.progress:
            notices.append(self.run.progress["retry"])

    monkeypatch.setattr(ProgressReporter, "update", record)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert len(notices) == 1
    assert notices[0].startswith("A Qualys call failed and is tried again in ")
    assert "(retry 1 of 3): Qualys returned HTTP 503" in notices[0]
    # The message's advice to try again is left out: the sync is doing it.
    assert "try again" not in notices[0]
    # The next step ends the notice.
    assert "retry" not in run.progress


def test_failed_reread_after_add_leaves_group(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    qualys.fail("ip_add", status=500, body=b"Internal Server Error", repeat=True)
    qualys.fail("ip_list", status=503, body=b"Service Unavailable", repeat=True, nth=2)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "The subscription could not be read again after the add" in run.error
    assert "The asset group was not updated." in run.error
    assert qualys.group_by_title(TITLE) is None
    assert run.group_size is None


def test_add_over_limit_is_held_back(qualys, configure, editor_client):
    configure(auto_subscribe=True, max_add_per_sync=1)
    scenario.load(qualys)
    writes = len(qualys.writes)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert (
        "2 addresses were not added to the subscription: that is more than the "
        "Auto-Subscribe limit of 1 per sync." in run.error
    )
    assert "The asset group was left as it is" in run.error
    assert qualys.calls_of("ip_add") == []
    assert run.ips_added == 0
    assert run.details["add"]["held_back"] is True
    # Nothing was written: the group was not created, so the failure means Qualys is as it was.
    assert len(qualys.writes) == writes
    assert qualys.group_by_title(TITLE) is None
    assert run.group_size is None
    assert run.status_label == "Failed"
    page = editor_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()
    assert "Left as it is: the Auto-Subscribe limit held the add back, so the sync wrote " in page


def test_add_within_limit_goes_ahead(qualys, configure):
    configure(auto_subscribe=True, max_add_per_sync=2)
    scenario.load(qualys)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.ips_added == 2


def test_preview_warns_of_add_over_limit(qualys, configure, editor_client):
    configure(auto_subscribe=True, max_add_per_sync=1)
    scenario.load(qualys)

    run = runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND, dry_run=True))

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (
        "A sync would add none of the 2 addresses and would fail: that is more than the "
        "Auto-Subscribe limit of 1 per sync. It would write nothing to Qualys, so the asset "
        "group would stay as it is." in run.details["warnings"]
    )
    assert run.details["add"]["held_back"] is True
    # The held-back sync leaves the group alone, as in the real run above.
    assert run.group_size is None
    assert "group" not in run.details
    assert run.group_ranges == ""
    page = editor_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()
    assert "<td>0 (2 held back by the limit)</td>" in page
    assert "Would not be added: more than the Auto-Subscribe limit" in page
    assert "Left as it is: the Auto-Subscribe limit held the add back, so a sync would " in page
    # The outcome names the failure of the sync it previews, wherever runs are listed.
    label = "Succeeded; a sync would fail on the limit"
    assert run.status_label == label
    assert f'class="status-succeeded qualified" data-field="status_label">{label}</strong>' in page
    assert "at most 1 address per sync" in page
    panel = editor_client.get(reverse("integrations:qualys")).content.decode()
    assert f">{label}</td>" in panel
    progress = editor_client.get(reverse("integrations:sync-progress") + f"?run={run.pk}").json()
    assert progress["run"]["status_label"] == label
    assert progress["run"]["add"] == {"planned": "2", "held_back": True, "limit": 1}
    missing = editor_client.get(reverse("integrations:sync-run-ranges", args=[run.pk, "group"]))
    assert missing.status_code == 404
    assert (
        f"Sync run {run.pk} has no group ranges: the Auto-Subscribe limit held the add back, so "
        "the sync leaves the asset group as it is."
    ) in missing.content.decode()
    held_ranges = editor_client.get(reverse("integrations:sync-run-ranges", args=[run.pk, "add"]))
    assert held_ranges.content.decode().split() == ["192.0.2.40", "203.0.113.5"]
    assert "a sync would fail: the add is over the Auto-Subscribe limit" in summarize(run)


def test_preview_within_limit_reads_succeeded(qualys, configure):
    configure(auto_subscribe=True, max_add_per_sync=2)
    scenario.load(qualys)

    run = runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND, dry_run=True))

    assert run.status_label == "Succeeded"
    assert "would fail" not in summarize(run)


def test_next_sync_completes_a_failed_add(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    qualys.fail("ip_add", status=500, body=b"Internal Server Error", repeat=True)
    sync()
    qualys.failures.clear()

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.ips_added == 2
    assert qualys.group_by_title(TITLE)[1].size == 278 - 1 + 1  # S′ − M, 0.0.0.8 for 2001:db8::8


def test_failed_group_update_after_add_stores_new_subscription(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    qualys.fail("group_add", status=500, body=b"Internal Server Error", repeat=True)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert f"Updating the asset group {TITLE} failed" in run.error
    assert "Added 2 addresses to the subscription." in run.details["done"]
    assert run.ips_added == 2
    # Qualys now holds the added addresses, and so do the stored tables.
    assert SubscribedRange.objects.filter(start_address="192.0.2.40").exists()
    assert run.subscribed == scenario.SUBSCRIBED_SIZE + 2
    assert run.details["group_held"] is None


def test_next_sync_completes_a_failed_group_update(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    qualys.fail("group_add", status=500, body=b"Internal Server Error", repeat=True)
    sync()
    qualys.failures.clear()
    adds_before = len(qualys.calls_of("ip_add"))

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert len(qualys.calls_of("ip_add")) == adds_before  # nothing left to add
    assert run.ips_added == 0
    assert qualys.group_by_title(TITLE)[1].size == 278


def test_sync_fails_clearly_when_not_configured(qualys, configure):
    settings = configure()
    settings.password = ""
    settings.save()

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "not configured" in run.error
    assert qualys.calls == []
