"""The sync's steps and both Auto-Subscribe modes, against a Qualys behind `responses`."""

import ipaddress

import pytest
from django.urls import reverse

from integrations import constants, coverage
from integrations.models import ScannedAddress, ScannedHost, SubscribedRange, SyncRun
from integrations.qualys.client import QualysClient
from integrations.qualys.errors import QualysUnreachable
from integrations.services import runs
from integrations.services.sync import group_ips_for_qualys
from inventory.models import Host
from lumeta_qualys.ipset import IPSet

from . import qualys_xml as xml
from . import scenario
from .qualys_xml import FakeHost

pytestmark = pytest.mark.django_db

TITLE = constants.ASSET_GROUP_TITLE


def sync(dry_run: bool = False) -> SyncRun:
    run = runs.create_run(SyncRun.Trigger.COMMAND, dry_run=dry_run)
    return runs.execute_run(run)


def stored_ranges() -> list[str]:
    return [str(row) for row in SubscribedRange.objects.order_by("start_key")]


def test_sync_stores_merged_subscription_with_ipv6_mapped(qualys, configure):
    configure()
    scenario.load(qualys)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert stored_ranges() == [
        "192.0.2.1",
        "192.0.2.10-192.0.2.30",
        "198.51.100.0-198.51.100.255",
        "2001:db8::7-2001:db8::8",
    ]
    assert sum(row.size for row in SubscribedRange.objects.all()) == scenario.SUBSCRIBED_SIZE
    assert run.subscribed == scenario.SUBSCRIBED_SIZE
    assert run.details["unmapped_placeholders"] == 1
    assert run.details["unmapped_placeholders_sample"] == ["0.0.0.9"]
    assert any("0.0.0.9" in warning for warning in run.details["warnings"])


def test_sync_stores_scanned_hosts_and_addresses(qualys, configure):
    configure()
    scenario.load(qualys)

    run = sync()

    assert ScannedHost.objects.count() == len(scenario.HOSTS)
    host = ScannedHost.objects.get(qualys_id=101)
    assert (host.address, host.dns, host.netbios, host.os) == (
        "192.0.2.10",
        "host-a.example.test",
        "HOST-A",
        "Linux 5.x",
    )
    placeholder_host = ScannedHost.objects.get(qualys_id=104)
    assert placeholder_host.address == "0.0.0.7"
    assert placeholder_host.address_key == ""
    assert placeholder_host.ipv6 == "2001:db8::7"
    assert ScannedHost.objects.get(qualys_id=105).network_id == 3

    addresses = dict(ScannedAddress.objects.values_list("address", "host__qualys_id"))
    assert addresses == {
        "192.0.2.10": 101,
        "192.0.2.11": 102,
        "203.0.113.5": 103,
        "2001:db8::7": 104,
    }
    latest = ScannedAddress.objects.get(address="192.0.2.10").last_scan
    assert latest.isoformat() == "2026-11-25T10:00:00+00:00"
    assert run.scanned == scenario.SCANNED_SIZE
    assert run.details["scanned_hosts"] == len(scenario.HOSTS)


def test_sync_counts_dashboard_sets_and_refreshes_flags(qualys, configure):
    configure()
    scenario.load(qualys)

    run = sync()

    assert run.indexed == len(scenario.INDEXED)
    assert run.unmanaged_by_qualys == 3  # 192.0.2.40, 203.0.113.5, 2001:db8::99
    assert run.unmanaged_by_lumeta == 1  # 192.0.2.11
    assert run.managed_by_both == 3  # 192.0.2.10, 203.0.113.5, 2001:db8::7
    assert set(Host.objects.filter(subscribed=False).values_list("address", flat=True)) == {
        "192.0.2.40",
        "203.0.113.5",
        "2001:db8::99",
    }
    assert set(Host.objects.filter(scanned=True).values_list("address", flat=True)) == {
        "192.0.2.10",
        "203.0.113.5",
        "2001:db8::7",
    }
    assert set(ScannedAddress.objects.filter(indexed=False).values_list("address", flat=True)) == {
        "192.0.2.11"
    }


def test_sync_warns_about_odd_scanned_hosts(qualys, configure):
    configure()
    scenario.load(qualys)

    run = sync()

    assert run.details["scanned_outside_subscription"] == 1
    assert run.details["scanned_without_address"] == 1
    warnings = " ".join(run.details["warnings"])
    assert "203.0.113.5" in warnings
    assert "106" in warnings


def test_outside_warning_follows_the_add(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)

    run = sync()

    # 203.0.113.5 is indexed and scanned but not subscribed, so the add takes it in.
    assert run.details["scanned_outside_after_add"] == "0"
    assert (
        "1 scanned host was outside the subscription when this sync read it (for example "
        "203.0.113.5). This sync's add subscribed it. It counts in M."
    ) in run.details["warnings"]


def test_outside_warning_names_hosts_still_outside(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    qualys.scan(FakeHost(120, ip="203.0.113.77"))

    run = sync()

    assert run.details["scanned_outside_subscription"] == 2
    assert run.details["scanned_outside_after_add"] == "1"
    assert (
        "2 scanned hosts were outside the subscription when this sync read it (for example "
        "203.0.113.5, 203.0.113.77). This sync's add subscribed 1 of their addresses, and 1 "
        "address of M is still outside it (for example 203.0.113.77). They count in M."
    ) in run.details["warnings"]


def test_outside_warning_kept_when_add_takes_none(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    # Indexed but not scanned, so the add changes S without taking in a scanned host.
    Host.objects.filter(address="203.0.113.5").delete()
    scenario.index("198.18.0.1")

    run = sync()

    assert run.ips_added
    assert "scanned_outside_after_add" not in run.details
    assert (
        "1 scanned host is outside the subscription (for example 203.0.113.5); it still counts "
        "in M."
    ) in run.details["warnings"]


def test_placeholder_only_host_is_ipv6(qualys, configure):
    configure(auto_subscribe=False)
    scenario.load(qualys)
    # No IPV6 element: the placeholder's mapping record names 2001:db8::8.
    qualys.scan(FakeHost(107, ip="0.0.0.8", dns="v6only.example.test"))

    run = sync()

    host = ScannedHost.objects.get(qualys_id=107)
    assert (host.address_key, host.ipv6) == ("", "2001:db8::8")
    assert run.scanned == scenario.SCANNED_SIZE + 1
    assert Host.objects.get(address="2001:db8::8").scanned is True
    # (I ∩ S) − M no longer contains 2001:db8::8, so its placeholder is not sent.
    _group_id, ips = qualys.group_by_title(TITLE)
    assert list(ips.qualys_tokens()) == ["192.0.2.1", "192.0.2.12"]
    assert run.details["scanned_without_address"] == 1  # 106 only


def test_unsubscribed_placeholder_host_is_ipv6(qualys, configure):
    configure(auto_subscribe=False)
    scenario.load(qualys)
    # 0.0.0.20 has a mapping record to 2001:db8::20 but is not subscribed.
    qualys.scan(FakeHost(111, ip="0.0.0.20"))

    run = sync()

    assert ScannedHost.objects.get(qualys_id=111).ipv6 == "2001:db8::20"
    assert run.scanned == scenario.SCANNED_SIZE + 1
    assert run.subscribed == scenario.SUBSCRIBED_SIZE
    assert ScannedAddress.objects.get(address="2001:db8::20").indexed is False
    assert run.details["scanned_outside_subscription"] == 2  # 203.0.113.5 and this one


def test_host_listed_by_unmapped_placeholder_has_no_address(qualys, configure):
    configure(auto_subscribe=False)
    qualys.subscribe("192.0.2.1", "0.0.0.9")
    qualys.scan(FakeHost(108, ip="0.0.0.9"))

    run = sync()

    assert run.scanned == 0
    assert (
        "1 scanned host has no IP address (or only an IPv6 placeholder without a mapping "
        "record) and was left out of M (Qualys host ID 108)."
    ) in run.details["warnings"]


def test_outside_warning_names_the_address_outside(qualys, configure):
    configure(auto_subscribe=False)
    qualys.subscribe("192.0.2.1-192.0.2.5")
    qualys.scan(FakeHost(109, ip="192.0.2.2", ipv6="2001:db8::12"))

    run = sync()

    assert (
        "1 scanned host is outside the subscription (for example 2001:db8::12); "
        "it still counts in M."
    ) in run.details["warnings"]


def test_auto_subscribe_off_sets_group_without_adding(qualys, configure, viewer_client):
    configure(auto_subscribe=False)
    scenario.load(qualys)

    run = sync()
    page = viewer_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()

    assert qualys.calls_of("ip_add") == []
    group_id, ips = qualys.group_by_title(TITLE)
    # (I ∩ S) − M, with 2001:db8::8 sent as its placeholder 0.0.0.8.
    assert list(ips.qualys_tokens()) == ["0.0.0.8", "192.0.2.1", "192.0.2.12"]
    assert run.group_size == 3
    assert run.ips_added == 0
    # Reported with Auto-Subscribe off too: turning it on would not bring it to Qualys.
    assert run.ipv6_not_pushable == 1
    assert run.details["not_pushable_sample"] == ["2001:db8::99"]
    assert run.group_ranges.splitlines() == ["192.0.2.1", "192.0.2.12", "2001:db8::8"]
    assert run.details["group_created"] is True
    assert run.details["group_id"] == group_id
    assert "Nothing: Auto-Subscribe is off." in page
    # The run's list names 2001:db8::8, which Qualys stores in the group as 0.0.0.8.
    assert run.details["group"]["ipv6"] == "1"
    assert (
        "1 of them is an IPv6 address, listed here as itself: Qualys holds it in the group as "
        "its IPv4 placeholder (0.0.0.x)" in page
    )


def test_auto_subscribe_adds_then_sets_group(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    adds = qualys.calls_of("ip_add")
    assert len(adds) == 1
    assert adds[0].params["ips"] == "192.0.2.40,203.0.113.5"
    assert adds[0].params["enable_vm"] == "1"
    # The group is written after the add, and after the subscription was read again.
    kinds = [call.kind for call in qualys.calls]
    assert kinds.index("ip_add") < kinds.index("group_add")
    assert kinds[kinds.index("ip_add") + 1] == "ip_list"

    _, ips = qualys.group_by_title(TITLE)
    assert list(ips.qualys_tokens()) == [
        "0.0.0.8",
        "192.0.2.1",
        "192.0.2.12-192.0.2.30",
        "192.0.2.40",
        "198.51.100.0-198.51.100.255",
    ]
    assert run.group_size == 278
    assert run.ips_added == 2
    assert run.ipv6_not_pushable == 1
    assert run.details["not_pushable_sample"] == ["2001:db8::99"]
    assert run.add_ranges.splitlines() == ["192.0.2.40", "203.0.113.5"]


@pytest.mark.parametrize("dry_run", [False, True])
def test_stale_hosts_left_out_of_add_when_set(qualys, configure, viewer_client, dry_run):
    configure(auto_subscribe=True, add_stale_hosts=False, max_add_per_sync=50)
    scenario.load(qualys)
    # 203.0.113.5 and the subscribed 192.0.2.1: only the one outside S would be added.
    Host.objects.filter(address__in=["203.0.113.5", "192.0.2.1"]).update(stale=True)

    run = sync(dry_run=dry_run)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.add_ranges.splitlines() == ["192.0.2.40"]
    assert run.details["stale_held_out"] == 1
    assert (
        "1 stale indexed IPv4 address was left out of the add to the subscription, because "
        "the setting Add stale hosts is off." in run.details["warnings"]
    )
    if dry_run:
        assert qualys.calls_of("ip_add") == []
    else:
        assert qualys.calls_of("ip_add")[0].params["ips"] == "192.0.2.40"
        assert run.ips_added == 1
    # The host stays in I and in I − S.
    assert Host.objects.get(address="203.0.113.5").subscribed is False
    page = viewer_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()
    assert "<dd>On: at most 50 addresses per sync, stale hosts left out</dd>" in page
    verb = "would be" if dry_run else "was"
    assert (
        f"1 stale IPv4 address {verb} left out, because Add stale hosts is off. "
        '<a href="/dashboard/unmanaged-by-qualys/?state=stale">' in page
    )


def test_add_of_only_stale_hosts(qualys, configure, viewer_client):
    configure(auto_subscribe=True, add_stale_hosts=False)
    scenario.load(qualys)
    Host.objects.filter(address__in=["203.0.113.5", "192.0.2.40"]).update(stale=True)

    run = sync()
    page = viewer_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert qualys.calls_of("ip_add") == []
    assert "Nothing: the IPv4 addresses outside the subscription were all stale hosts." in page
    assert "2 stale IPv4 addresses were left out, because Add stale hosts is off." in page


def test_stale_hosts_added_by_default(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)
    Host.objects.filter(address="203.0.113.5").update(stale=True)

    run = sync()

    assert qualys.calls_of("ip_add")[0].params["ips"] == "192.0.2.40,203.0.113.5"
    assert run.details["stale_held_out"] == 0


def test_auto_subscribe_stores_reread_subscription(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)

    run = sync()

    assert run.subscribed == scenario.SUBSCRIBED_SIZE + 2
    assert "192.0.2.40" in stored_ranges()
    assert "203.0.113.5" in stored_ranges()
    assert run.unmanaged_by_qualys == 1  # only 2001:db8::99 is left
    assert list(Host.objects.filter(subscribed=False).values_list("address", flat=True)) == [
        "2001:db8::99"
    ]
    # The flags updated for the added ranges equal a full recomputation.
    assert coverage.refresh_all() == {"subscribed": 0, "scanned": 0, "indexed": 0}


def test_group_found_by_exact_title_is_replaced(qualys, configure):
    configure(auto_subscribe=False)
    scenario.load(qualys)
    other_ids = [
        qualys.add_group("LUMETA_Spectre_DISCOVERED_old", "192.0.2.20"),
        qualys.add_group("lumeta_spectre_discovered", "192.0.2.21"),
    ]
    ours = qualys.add_group(TITLE, "192.0.2.25-192.0.2.30", "198.51.100.1")
    before = {number: qualys.groups[number] for number in other_ids}

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    edits = qualys.calls_of("group_edit")
    assert [call.params["id"] for call in edits] == [str(ours), str(ours)]
    # What the group lacks goes first, then what it contains beyond the target.
    assert edits[0].params["add_ips"] == "0.0.0.8,192.0.2.1,192.0.2.12"
    assert edits[1].params["remove_ips"] == "192.0.2.25-192.0.2.30,198.51.100.1"
    assert qualys.calls_of("group_add") == []
    assert list(qualys.groups[ours][1].qualys_tokens()) == ["0.0.0.8", "192.0.2.1", "192.0.2.12"]
    assert {number: qualys.groups[number] for number in other_ids} == before
    assert run.details["group_changes"] == {"added": "3", "removed": "7"}


def test_group_that_holds_the_target_is_not_written(qualys, configure):
    configure(auto_subscribe=False)
    scenario.load(qualys)
    ours = qualys.add_group(TITLE, "0.0.0.8", "192.0.2.1", "192.0.2.12")

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert qualys.calls_of("group_edit") == []
    assert list(qualys.groups[ours][1].qualys_tokens()) == ["0.0.0.8", "192.0.2.1", "192.0.2.12"]
    assert (
        f"The asset group {TITLE} already held the 3 addresses; it was left as it was."
        in run.details["done"]
    )


@pytest.mark.parametrize("failing", [1, 2], ids=["add", "remove"])
def test_failed_group_edit_keeps_hosts_to_scan(qualys, configure, viewer_client, failing):
    configure(auto_subscribe=False)
    scenario.load(qualys)
    ours = qualys.add_group(TITLE, "192.0.2.1", "192.0.2.25-192.0.2.30")
    qualys.fail(
        "group_edit", status=400, body=xml.simple_return("Bad request", code=1905), nth=failing
    )

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    held = qualys.groups[ours][1]
    if failing == 1:
        # The add failed, so the group keeps its earlier contents.
        assert list(held.qualys_tokens()) == ["192.0.2.1", "192.0.2.25-192.0.2.30"]
        state = (
            "Read again, the asset group holds 7 addresses: 2 addresses of the target are "
            "missing and 6 addresses beyond the target are still in it."
        )
    else:
        # The remove failed: the whole target is in, beside what was to go.
        target = IPSet.from_strings(["0.0.0.8", "192.0.2.1", "192.0.2.12"])
        assert not target - held
        state = (
            "Read again, the asset group holds 9 addresses: 6 addresses beyond the target are "
            "still in it."
        )
    assert run.details["group_held"] == held.size
    assert f"{state} The next sync completes the change." in run.details["not_done"]
    # When the add landed and the remove failed, Qualys changed.
    written = "Failed after writing to Qualys" if failing == 2 else "Failed"
    assert run.status_label == written
    page = viewer_client.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()
    assert f"Asset group {TITLE}: its target</h2>" in page
    assert f"Read again, it holds {held.size} addresses; the run's error says how" in page


def test_group_edit_landed_despite_reply_error(
    qualys, configure, monkeypatch
):
    configure(auto_subscribe=False)
    scenario.load(qualys)
    qualys.add_group(TITLE, "192.0.2.1")
    edit = QualysClient.edit_asset_group

    def edit_then_break(self, *args, **kwargs):
        edit(self, *args, **kwargs)
        raise QualysUnreachable(
            "The connection to the server broke while reading the reply to /group. "
            "Start the sync or the connection test again."
        )

    monkeypatch.setattr(QualysClient, "edit_asset_group", edit_then_break)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.group_size == 3
    assert "group_held" not in run.details
    assert (
        f"Updating the asset group {TITLE} reported an error, but the group read again holds "
        "its target, so nothing needs doing: The connection to the server broke while reading "
        "the reply to /group." in run.details["warnings"]
    )
    assert f"Set the asset group {TITLE} to 3 addresses, as reading it again showed." in (
        run.details["done"]
    )


def test_unreadable_group_fails_before_any_write(qualys, configure, monkeypatch):
    configure(auto_subscribe=True)
    scenario.load(qualys)

    def fail(self, *args, **kwargs):
        raise QualysUnreachable(
            "The connection to the server broke while reading the reply to /group. "
            "Start the sync or the connection test again."
        )

    monkeypatch.setattr(QualysClient, "find_asset_group_ids", fail)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    # The add of I − S waits for a sync that can also set the group.
    assert qualys.writes == []
    assert run.error.startswith(
        f"Reading the asset group {TITLE} failed, so nothing was written to Qualys: The "
        "connection to the server broke"
    )
    assert ScannedHost.objects.count() == 0


def test_group_created_again_after_deletion(qualys, configure):
    configure()
    scenario.load(qualys)
    sync()
    number, _ = qualys.group_by_title(TITLE)
    del qualys.groups[number]

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert len(qualys.calls_of("group_add")) == 2
    assert qualys.group_by_title(TITLE) is not None


def test_group_emptied_when_nothing_is_left_to_scan(qualys, configure):
    configure()
    qualys.subscribe("192.0.2.1")
    qualys.scan(FakeHost(1, ip="192.0.2.1"))
    scenario.index("192.0.2.1")
    ours = qualys.add_group(TITLE, "192.0.2.1")

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.group_size == 0
    assert not qualys.groups[ours][1]
    assert "set_ips" not in qualys.calls_of("group_edit")[0].params


def test_empty_group_is_found_not_recreated(qualys, configure):
    configure()
    qualys.subscribe("192.0.2.1")
    qualys.scan(FakeHost(1, ip="192.0.2.1"))
    scenario.index("192.0.2.1")
    first = sync()
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    number, ips = qualys.group_by_title(TITLE)
    assert ips == IPSet()
    # Qualys lists a group with no addresses without an IP_SET element.
    assert b"<IP_SET>" not in xml.asset_group_list([(number, TITLE, [])])

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert len(qualys.calls_of("group_add")) == 1
    assert list(qualys.groups) == [number]
    assert qualys.groups[number] == (TITLE, IPSet())


def test_sync_pages_host_list_as_configured(qualys, configure):
    configure(host_list_version="3.0", page_size=2)
    scenario.load(qualys)

    run = sync()

    host_calls = qualys.calls_of("host_list")
    assert len(host_calls) == 3
    assert {call.path for call in host_calls} == {"/api/3.0/fo/asset/host/"}
    assert [call.params.get("id_min") for call in host_calls] == [None, "103", "105"]
    assert all(call.params["details"] == "Basic" for call in host_calls)
    assert all(call.params["truncation_limit"] == "2" for call in host_calls)
    assert ScannedHost.objects.count() == len(scenario.HOSTS)
    assert run.qualys_calls == len(qualys.calls)
    assert run.rate_limit_limit == 300


def test_empty_subscription_and_host_list_store_empty_tables(qualys, configure):
    configure(auto_subscribe=False)
    scenario.index("192.0.2.1")
    SubscribedRange.objects.create(
        version=4,
        start_key="4c0000201",
        end_key="4c0000201",
        start_address="192.0.2.1",
        end_address="192.0.2.1",
        size=1,
    )

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert SubscribedRange.objects.count() == 0
    assert run.subscribed == 0
    assert run.unmanaged_by_qualys == 1
    assert qualys.group_by_title(TITLE)[1] == IPSet()


def test_preview_writes_nothing_and_keeps_stored_tables(qualys, configure):
    configure(auto_subscribe=True)
    qualys.subscribe("192.0.2.200")
    sync()
    before = stored_ranges()
    writes_before = len(qualys.writes)
    scenario.load(qualys)

    run = sync(dry_run=True)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.dry_run is True
    assert len(qualys.writes) == writes_before
    assert stored_ranges() == before
    assert run.add_ranges.splitlines() == ["192.0.2.40", "203.0.113.5"]
    assert run.details["add"] == {
        "addresses": "2",
        "ranges": 2,
        "sample": ["192.0.2.40", "203.0.113.5"],
    }
    # S ∪ (I − S) − M, as the real sync would set it after the add.
    assert run.details["group"]["addresses"] == str(279)
    assert "192.0.2.200" in run.group_ranges.splitlines()
    # Read as a sync reads it, the group contains 192.0.2.200 from the first sync.
    assert run.details["group_changes"] == {"added": "278", "removed": "0"}
    assert run.unmanaged_by_qualys == 3
    assert run.ipv6_not_pushable == 1


def test_preview_fails_on_an_unreadable_group(qualys, configure, monkeypatch):
    configure(auto_subscribe=True)
    scenario.load(qualys)

    def fail(self, *args, **kwargs):
        raise QualysUnreachable("The connection to the server broke while reading /group.")

    monkeypatch.setattr(QualysClient, "find_asset_group_ids", fail)

    run = sync(dry_run=True)

    # As the sync it previews would.
    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith(f"Reading the asset group {TITLE} failed")
    assert qualys.writes == []


def test_two_placeholders_count_once(qualys, configure):
    configure(auto_subscribe=False)
    qualys.subscribe("192.0.2.1", "0.0.0.7", "0.0.0.9")
    qualys.mappings = [(1, "0.0.0.7", "2001:db8::10"), (2, "0.0.0.9", "2001:db8::10")]
    # Scanned through its second placeholder, with no IPV6 element.
    qualys.scan(FakeHost(110, ip="0.0.0.9"))

    run = sync()

    assert run.subscribed == 2  # 192.0.2.1 and 2001:db8::10
    assert run.details["unmapped_placeholders"] == 0
    assert run.scanned == 1
    assert ScannedHost.objects.get(qualys_id=110).ipv6 == "2001:db8::10"
    assert (
        "2001:db8::10 has 2 placeholders in the subscription (0.0.0.7, 0.0.0.9); it counts "
        "once, and an asset group is sent 0.0.0.7."
    ) in run.details["warnings"]


def test_group_sends_ipv6_as_placeholders():
    from integrations.services.sync import Subscription

    subscription = Subscription(
        listed=IPSet(),
        addresses=IPSet(),
        unmapped=IPSet(),
        placeholder_of={int(ipaddress.ip_address("2001:db8::7")): 7},
    )
    target = IPSet.from_strings(["192.0.2.1", "2001:db8::7", "2001:db8::100-2001:db8::1ff"])

    pushed = group_ips_for_qualys(target, subscription)

    assert list(pushed.qualys_tokens()) == ["0.0.0.7", "192.0.2.1", "2001:db8::100-2001:db8::1ff"]


def test_counts_are_exact_for_large_ipv6_ranges(qualys, configure):
    configure()
    qualys.subscribe("2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
    qualys.mappings = []

    run = sync()

    # IPv6 text listed directly in the subscription is accepted as it is.
    row = SubscribedRange.objects.get()
    assert (row.start_address, row.end_address) == (
        "2001:db8::",
        "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
    )
    run.refresh_from_db()
    assert run.details["counts"]["subscribed"] == str(2**96)


def test_bad_values_are_skipped_and_the_rest_loads(qualys, configure):
    configure()
    scenario.load(qualys)
    qualys.bad_tokens = ["not-an-ip"]
    qualys.scan(FakeHost(107, ip="192.0.2.13", dns="bad\x00name.example.test"))

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.subscribed == scenario.SUBSCRIBED_SIZE
    assert ScannedHost.objects.get(qualys_id=107).dns == "badname.example.test"
    warnings = " ".join(run.details["warnings"])
    assert "not-an-ip" in warnings
    assert "control character" in warnings


def test_non_ascii_details_reach_dashboard(qualys, configure, viewer_client):
    configure()
    qualys.subscribe("192.0.2.13")
    netbios = "Réseau – Zürich 東京"
    os_name = "Système d’exploitation 東京"
    qualys.scan(FakeHost(107, ip="192.0.2.13", netbios=netbios, os=os_name))

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    host = ScannedHost.objects.get(qualys_id=107)
    assert host.netbios == netbios
    assert host.os == os_name
    assert run.details["warnings"] == []

    page = viewer_client.get(reverse("dashboard:list", args=["unmanaged-by-lumeta"]))
    html = page.content.decode("utf-8")
    assert netbios in html
    assert os_name in html

    export = viewer_client.get(reverse("dashboard:export", args=["unmanaged-by-lumeta"]))
    data = b"".join(export.streaming_content)
    assert netbios.encode("utf-8") in data
    assert os_name.encode("utf-8") in data


def test_addresses_dropped_by_qualys_meanwhile_lose_flag(qualys, configure):
    configure(auto_subscribe=True)
    scenario.load(qualys)

    def drop_first_address(kind: str) -> None:
        if kind == "ip_add":  # someone removes 192.0.2.1 while the sync adds
            qualys.subscription = qualys.subscription - IPSet.from_strings(["192.0.2.1"])

    qualys.observers.append(drop_first_address)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert Host.objects.get(address="192.0.2.1").subscribed is False
    assert Host.objects.get(address="192.0.2.40").subscribed is True
    assert coverage.refresh_all() == {"subscribed": 0, "scanned": 0, "indexed": 0}


def test_mapping_records_not_read_without_placeholders(qualys, configure):
    configure()
    qualys.subscribe("192.0.2.1-192.0.2.20")

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert qualys.calls_of("ip_map") == []


def test_placeholder_host_outside_s_reads_mapping_records(qualys, configure):
    configure()
    qualys.subscribe("192.0.2.0-192.0.2.15")
    qualys.mappings = [(1, "0.0.0.3", "2001:db8::9")]
    # The first host is listed by a placeholder alone, which S does not list.
    qualys.scan(FakeHost(1, ip="0.0.0.3"), FakeHost(2, ip="192.0.2.2"), FakeHost(3, ip="0.0.0.4"))
    scenario.index("2001:db8::9", "192.0.2.2")

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert len(qualys.calls_of("ip_map")) == 1
    assert run.scanned == 2
    assert run.managed_by_both == 2
    assert ScannedHost.objects.get(qualys_id=1).ipv6 == "2001:db8::9"
    assert Host.objects.get(address="2001:db8::9").scanned is True
    # A placeholder without a record is a host without an address, as before.
    assert run.details["scanned_without_address"] == 1


def test_refused_mapping_records_leave_placeholders_unmapped(qualys, configure):
    configure()
    scenario.load(qualys)
    # Qualys opens the mapping list to Managers only; other roles get an error reply.
    qualys.fail(
        "ip_map",
        400,
        xml.simple_return(code="1905", text="You are not authorized to run this API."),
    )

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert not SubscribedRange.objects.filter(version=6).exists()
    assert any("IPv6 mapping records could not be read" in w for w in run.details["warnings"])
