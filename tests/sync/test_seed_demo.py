"""seed_demo: the emulator's state, the imported hosts, the settings and a first sync."""

import ipaddress
import json

import pytest
from django.core.management import call_command

from integrations import constants, demo
from integrations.models import QualysSettings, ScannedHost, SyncRun
from inventory.models import Host
from lumeta_qualys.ipset import IPSet

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def test_generated_demo_covers_every_dashboard_set():
    data = demo.generate()
    subscription = IPSet.from_strings(data.state["subscription"]["ips"])
    scanned = {host["ip"] for host in data.state["hosts"]}
    indexed = {host["address"] for host in data.discovered}

    assert subscription.size > 65536  # one /16 plus single addresses and ranges
    assert "0.0.0.1" in subscription
    assert data.state["ipv6_mappings"] == [{"id": 1, "v4": "0.0.0.1", "v6": "2001:db8::10"}]
    assert any(
        not subscription.contains(4, int(ipaddress.ip_address(a)))
        for a in scanned
        if a != "0.0.0.1"
    )  # scanned hosts outside S
    assert indexed & scanned  # I ∩ M
    assert scanned - indexed  # M − I
    assert "2001:db8::20" in indexed  # an IPv6 host that cannot be pushed
    assert demo.generate().state["hosts"] == data.state["hosts"]  # same seed, same data


def test_seed_demo_writes_state_then_syncs_against_emulator(
    tmp_path, qualys_emulator, sync_redis, settings, capsys
):
    state_path = tmp_path / "state.json"
    call_command("seed_demo", "--state", str(state_path), "--write-state-only")
    state = json.loads(state_path.read_text())
    emulator = qualys_emulator(state)

    call_command(
        "seed_demo",
        "--state",
        str(state_path),
        "--emulator-url",
        emulator.url,
        "--cert",
        str(emulator.cert_path),
    )

    out = capsys.readouterr().out
    assert "Keeping the existing emulator state" in out
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.unmanaged_by_qualys > 0
    assert run.unmanaged_by_lumeta > 0
    assert run.managed_by_both > 0
    assert run.group_size > 0
    qualys_settings = QualysSettings.load()
    assert qualys_settings.enabled and qualys_settings.server == emulator.url
    assert Host.objects.count() == len(demo.generate().discovered)
    assert ScannedHost.objects.count() == len(state["hosts"])
    groups = {group["title"] for group in emulator.read_state()["asset_groups"]}
    assert groups == {"Data center servers", constants.ASSET_GROUP_TITLE}


def test_seed_demo_keeps_foreign_state_file(tmp_path, db, capsys):
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps({"users": {"ops": "x"}}))

    call_command("seed_demo", "--state", str(state_path), "--emulator-url", "https://127.0.0.1:1")

    out = capsys.readouterr().out
    assert "it is not the demo's, so the demo hosts are not imported" in out
    assert json.loads(state_path.read_text()) == {"users": {"ops": "x"}}
    assert Host.objects.count() == 0
    assert QualysSettings.load().server == ""
    assert SyncRun.objects.count() == 0


def test_second_seed_keeps_the_users_inventory_and_settings(
    tmp_path, qualys_emulator, sync_redis, capsys
):
    state_path = tmp_path / "state.json"
    call_command("seed_demo", "--state", str(state_path), "--write-state-only")
    emulator = qualys_emulator(json.loads(state_path.read_text()))
    seed = ["seed_demo", "--state", str(state_path), "--emulator-url", emulator.url,
            "--cert", str(emulator.cert_path)]  # fmt: skip
    call_command(*seed)
    # The user expires some demo hosts, moves one to a feed of their own and sets up Qualys.
    first_key = Host.objects.order_by("key").values_list("key", flat=True)[0]
    Host.objects.filter(key=first_key).update(source="weekly-scan")
    expired = Host.objects.filter(source="demo-discovery").order_by("-key")[:3]
    Host.objects.filter(pk__in=[host.pk for host in expired]).delete()
    hosts_before = sorted(Host.objects.values_list("key", "source"))
    own = QualysSettings.load()
    own.server, own.username, own.password = "https://127.0.0.1:1", "ops-team", "secret"
    own.save()
    runs_before = SyncRun.objects.count()
    capsys.readouterr()

    call_command(*seed)

    out = capsys.readouterr().out
    assert "the inventory is kept as it is" in out
    assert "The Qualys integration keeps its own settings (user 'ops-team'" in out
    assert sorted(Host.objects.values_list("key", "source")) == hosts_before
    kept = QualysSettings.load()
    assert (kept.server, kept.username, kept.password) == (
        "https://127.0.0.1:1", "ops-team", "secret"
    )  # fmt: skip
    assert SyncRun.objects.count() == runs_before  # no sync against the user's server


def test_second_seed_follows_new_emulator(tmp_path, qualys_emulator, sync_redis):
    state_path = tmp_path / "state.json"
    call_command("seed_demo", "--state", str(state_path), "--write-state-only")
    state = json.loads(state_path.read_text())
    first = qualys_emulator(state)
    call_command("seed_demo", "--state", str(state_path), "--emulator-url", first.url,
                 "--cert", str(first.cert_path))  # fmt: skip
    second = qualys_emulator(state)

    call_command("seed_demo", "--state", str(state_path), "--emulator-url", second.url,
                 "--cert", str(second.cert_path))  # fmt: skip

    assert QualysSettings.load().server == second.url
    assert SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).count() == 2


def test_seed_keeps_user_loaded_state(tmp_path, qualys_emulator, sync_redis, capsys):
    state_path = tmp_path / "state.json"
    call_command("seed_demo", "--state", str(state_path), "--write-state-only")
    first = qualys_emulator(json.loads(state_path.read_text()))
    call_command("seed_demo", "--state", str(state_path), "--emulator-url", first.url,
                 "--cert", str(first.cert_path))  # fmt: skip
    # The user loads a state of their own, with the demo's user, into the emulator.
    own = json.loads(state_path.read_text())
    del own["demo"]
    own["hosts"] = own["hosts"][:5]
    state_path.write_text(json.dumps(own))
    hosts_before = Host.objects.count()
    capsys.readouterr()

    call_command("seed_demo", "--state", str(state_path), "--write-state-only")
    second = qualys_emulator(own)
    call_command("seed_demo", "--state", str(state_path), "--emulator-url", second.url,
                 "--cert", str(second.cert_path))  # fmt: skip

    out = capsys.readouterr().out
    assert "it is not the demo's, so the demo hosts are not imported" in out
    assert f"keeps user 'apiuser' and now reaches the emulator at {second.url}" in out
    assert json.loads(state_path.read_text()) == own
    assert Host.objects.count() == hosts_before
    assert QualysSettings.load().server == second.url
    latest = SyncRun.objects.order_by("-pk").first()
    assert latest.status == SyncRun.Status.SUCCEEDED, latest.error
    assert latest.details["scanned_hosts"] == 5
