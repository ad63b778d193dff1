"""Dashboard pages: widgets, lists with filter, sort and keyset pages, CSV export, host page."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from urllib.parse import unquote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from dashboard import lists, querysets, svg, widgets
from dashboard import views as dashboard_views
from dashboard.svg import Series, trend
from integrations import constants
from integrations.models import QualysSettings, SyncRun
from inventory.models import Host
from inventory.services import import_file

from .conftest import SUBSCRIBED_ADDRESSES, index_hosts, store_scanned

INDEX = reverse("dashboard:index")


def list_url(slug: str) -> str:
    return reverse("dashboard:list", args=[slug])


def row_addresses(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'<th scope="row"><a href="/dashboard/host/[^"]+/">([^<]+)</a></th>', html)


def export_rows(client, slug: str, query: str = "") -> list[list[str]]:
    response = client.get(reverse("dashboard:export", args=[slug]), {"q": query} if query else {})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def configure(enabled: bool = True) -> QualysSettings:
    settings = QualysSettings(
        pk=1,
        enabled=enabled,
        server="https://qualysapi.qualys.com",
        username="api",
        password="s3cret",
    )
    settings.save()
    return settings


# --- Dashboard --------------------------------------------------------------------


def test_dashboard_shows_three_counts_with_links(viewer_client, coverage_data):
    response = viewer_client.get(INDEX)
    html = response.content.decode()

    assert response.status_code == 200
    assert re.search(r'IPs Unmanaged by Qualys.*?data-count="3"', html, re.S)
    assert re.search(r'IPs Unmanaged by Lumeta.*?data-count="3"', html, re.S)
    assert re.search(r'Qualys and Lumeta Managed IPs.*?data-count="4"', html, re.S)
    for slug in ("unmanaged-by-qualys", "unmanaged-by-lumeta", "managed-by-both"):
        assert f'href="{list_url(slug)}"' in html


def test_coverage_line_counts_stale_hosts(viewer_client, coverage_data):
    fresh = viewer_client.get(INDEX).content.decode()
    Host.objects.filter(address__in=["192.0.2.1", "192.0.2.2"]).update(stale=True)

    html = viewer_client.get(INDEX).content.decode()

    assert "of them stale" not in fresh
    assert '(<a href="/inventory/?state=stale">2 of them stale</a>)' in html


def test_venn_labels_every_region_with_its_count(viewer_client, coverage_data):
    html = viewer_client.get(INDEX).content.decode()

    expected = {"I": 2, "IS": 2, "ISM": 3, "IM": 1, "SM": 2, "M": 1, "S": SUBSCRIBED_ADDRESSES - 7}
    for region, count in expected.items():
        assert re.search(rf'data-region="{region}">[^<]+<title>{count:,}</title>', html)
    assert 'data-region="ISM">3<title>' in html
    # The IPv6 subscription's count is too long for the picture: shortened there only.
    assert 'data-region="S">≈ 1.8 × 10^19<title>' in html
    assert f"Subscribed only: not indexed, not scanned: {SUBSCRIBED_ADDRESSES - 7:,}" in html
    for label in ("Lumeta-indexed (I)", "Qualys-subscribed (S)", "Qualys-scanned (M)"):
        assert label in html
    assert '<table class="venn-table">' in html
    for colour in ("#1f6fd1", "#d64541", "#e5b21a"):
        assert colour in html
    # Contrast: M's outline is the darker yellow, and region labels are in ink.
    assert 'fill="#e5b21a" fill-opacity="0.18" stroke="#a07800"' in html
    assert 'font-size="11" fill="#1d232a">all three</text>' in html


def test_trend_draws_successful_syncs_only(viewer_client, db):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for day, both in enumerate([10, 20, 30]):
        SyncRun.objects.create(
            status=SyncRun.Status.SUCCEEDED, trigger=SyncRun.Trigger.SCHEDULE,
            created_at=start + timedelta(days=day), finished_at=start + timedelta(days=day),
            indexed=100, subscribed=500, scanned=60, unmanaged_by_qualys=50,
            unmanaged_by_lumeta=5, managed_by_both=both,
        )  # fmt: skip
    SyncRun.objects.create(
        status=SyncRun.Status.FAILED, trigger=SyncRun.Trigger.SCHEDULE,
        created_at=start + timedelta(days=5), error="Qualys did not answer.",
    )  # fmt: skip

    html = viewer_client.get(INDEX).content.decode()

    trend = html[html.index('id="trend-heading"') :]
    assert trend.count("<path ") == 4
    assert trend.count('<tr><th scope="row"><time') == 3
    assert "30.0%" in trend
    assert "10.0%" in trend
    assert ">2026-11-01</text>" in trend
    # The legend is HTML beside the chart, one entry per line with its stroke and marker.
    legend = trend[trend.index('<ul class="trend-legend"') :]
    assert legend.count("<li><svg") == 4
    assert "</svg> Coverage (right axis)</li>" in legend
    assert '<rect x="' in legend


def test_trend_axis_shows_times_same_day(viewer_client, db):
    start = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    for hour in range(3):
        SyncRun.objects.create(
            status=SyncRun.Status.SUCCEEDED, trigger=SyncRun.Trigger.BUTTON,
            created_at=start + timedelta(hours=hour), finished_at=start + timedelta(hours=hour),
            indexed=100, subscribed=500, scanned=60, unmanaged_by_qualys=50,
            unmanaged_by_lumeta=5, managed_by_both=10,
        )  # fmt: skip

    html = viewer_client.get(INDEX).content.decode()

    trend = html[html.index('id="trend-heading"') :]
    for label in ("2026-11-01 06:00", "2026-11-01 07:00", "2026-11-01 08:00"):
        assert f">{label}</text>" in trend
    # The table's rows name their runs, as two syncs may finish in one minute.
    for run in SyncRun.objects.all():
        run_url = reverse("integrations:sync-run", args=[run.pk])
        assert f'<a href="{run_url}">(run {run.pk})</a></th>' in trend


def test_trend_marks_each_series_with_its_own_shape():
    # Two series with the same values: their markers differ in shape, so both show.
    same = [5, 7]
    chart = trend(
        ["a", "b"],
        [Series("One", "#100", "none", same), Series("Two", "#200", "none", same)],
        Series("Coverage", "#300", "none", [0.5, 0.6]),
    )

    # Two points and the legend entry of each series.
    assert chart.count('<circle cx="') == 3
    assert chart.count('<rect x="') == 3
    assert chart.count('<polygon points="') == 3
    assert 'fill="#100" stroke="#fff"' in chart
    assert 'fill="#200" stroke="#fff"' in chart


def test_trend_marks_only_the_latest_of_many_syncs():
    values = list(range(svg.MARKED_POINTS + 1))
    chart = trend(
        [str(value) for value in values],
        [Series("One", "#100", "none", values)],
        Series("Coverage", "#300", "none", [None] * len(values)),
    )

    # The latest point and the legend entry.
    assert chart.count('<circle cx="') == 2


def test_trend_top_tick_stays_near_the_maximum():
    chart = trend(
        ["a", "b"],
        [Series("Unmanaged by Qualys", "#100", "none", [390_000, 400_006])],
        Series("Coverage", "#300", "none", [None, None]),
    )

    assert ">500,000</text>" in chart
    assert ">800,000</text>" not in chart


def test_trend_writes_each_latest_value():
    chart = trend(
        ["a", "b"],
        [
            Series("Unmanaged by Qualys", "#100", "none", [390_000, 400_006]),
            Series("Unmanaged by Lumeta", "#200", "none", [150, 199]),
            Series("Managed by both", "#400", "none", [300, 692]),
        ],
        Series("Coverage", "#300", "none", [0.5, 0.00173]),
    )

    for text, label in (
        ("400,006", "Unmanaged by Qualys"),
        ("199", "Unmanaged by Lumeta"),
        ("692", "Managed by both"),
        ("0.2%", "Coverage"),
    ):
        assert f"{text}<title>{label}: {text}</title></text>" in chart
    # Lines that end close together get labels at least a line apart.
    baselines = sorted(
        float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)" text-anchor="end" '
                                     r'font-size="11" font-weight="600"', chart)
    )  # fmt: skip
    assert len(baselines) == 4
    assert all(b - a >= svg.VALUE_LABEL_GAP - 0.01 for a, b in pairwise(baselines))


def test_trend_places_syncs_by_time():
    chart = trend(
        ["a", "b", "c"],
        [Series("Managed by both", "#000", "none", [1, 2, 3])],
        Series("Coverage", "#111", "none", [None, None, None]),
        positions=[0, 0.9, 1],
    )

    # The plot spans x = 70 to 690: the second sync sits at 90 % of it, not in the middle.
    assert 'd="M70.0,' in chart
    assert " L628.0," in chart
    assert " L690.0," in chart
    # The middle label would touch the last one, so only the ends are named.
    assert ">a</text>" in chart
    assert ">c</text>" in chart
    assert ">b</text>" not in chart


def test_not_configured_state_links_to_settings(viewer_client, db):
    html = viewer_client.get(INDEX).content.decode()

    assert "The Qualys integration is not configured." in html
    assert f'href="{reverse("integrations:qualys")}"' in html
    assert "Not scheduled" in html


@pytest.mark.parametrize(
    ("auto_subscribe", "addresses", "hint"),
    [
        (
            True,
            ["192.0.2.1", "192.0.2.2", "2001:db8::1"],
            "Auto-Subscribe is on: the next sync adds the 2 IPv4 addresses among these to the "
            "Qualys subscription. The IPv6 address needs a mapping record in Qualys, which this "
            "product does not create, so it stays here and each sync reports it.",
        ),
        (
            True,
            ["192.0.2.1"],
            "Auto-Subscribe is on: the next sync adds the IPv4 address among these to the Qualys "
            "subscription.</p>",
        ),
        (
            True,
            ["2001:db8::1", "2001:db8::2"],
            "Auto-Subscribe is on, but none of these is an IPv4 address, so the next sync adds "
            "none of them. The 2 IPv6 addresses need mapping records in Qualys",
        ),
        (
            False,
            ["192.0.2.1", "2001:db8::1"],
            "Auto-Subscribe is off: the sync adds nothing to the subscription. Turn it on in the "
            "Qualys settings to add the IPv4 addresses among these. The IPv6 address needs a "
            "mapping record in Qualys, which this product does not create.",
        ),
    ],
)
def test_unmanaged_card_hint_counts_what_a_sync_adds(
    viewer_client, db, auto_subscribe, addresses, hint
):
    settings = configure()
    settings.auto_subscribe = auto_subscribe
    settings.save()
    index_hosts(addresses)

    html = viewer_client.get(INDEX).content.decode()

    assert hint in html


def test_integration_off_adds_nothing_and_cannot_sync(client, django_user_model, db):
    settings = configure(enabled=False)
    settings.auto_subscribe = True
    settings.save()
    index_hosts(["192.0.2.1"])
    client.force_login(django_user_model.objects.create_superuser("boss"))

    html = client.get(INDEX).content.decode()

    assert "The Qualys integration is off, so no sync runs and nothing is added" in html
    assert "the next sync adds" not in html
    assert (
        'disabled aria-describedby="sync-now-help" data-busy-label="Starting…" '
        "data-idle-only>Sync now</button>"
    ) in html
    assert "The Qualys integration is turned off: turn it on in its settings to sync." in html


def test_unmanaged_card_leaves_out_stale_hosts_when_set(viewer_client, db):
    settings = configure()
    settings.auto_subscribe = True
    settings.add_stale_hosts = False
    settings.save()
    index_hosts(["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"])
    Host.objects.filter(address__in=["192.0.2.2", "192.0.2.3", "2001:db8::1"]).update(stale=True)

    html = viewer_client.get(INDEX).content.decode()

    # The stale IPv6 host is counted as IPv6, never as a stale IPv4 one.
    assert (
        "the next sync adds the IPv4 address among these to the Qualys subscription. The 2 stale "
        "hosts are left out, because Add stale hosts is off. The IPv6 address needs" in html
    )


def test_unmanaged_card_has_no_hint_when_empty(viewer_client, db):
    settings = configure()
    settings.auto_subscribe = True
    settings.save()

    html = viewer_client.get(INDEX).content.decode()

    assert "the next sync adds" not in html
    assert "Auto-Subscribe is off: the sync adds nothing" not in html


def test_unmanaged_card_held_back_add(viewer_client, db):
    settings = configure()
    settings.auto_subscribe = True
    settings.max_add_per_sync = 1000
    settings.add_stale_hosts = False
    settings.save()
    SyncRun.objects.create(
        status=SyncRun.Status.FAILED,
        trigger=SyncRun.Trigger.COMMAND,
        details={"add": {"addresses": "1500", "held_back": True}},
    )
    index_hosts(["192.0.2.1", "192.0.2.2"])

    html = viewer_client.get(INDEX).content.decode()

    assert (
        "Auto-Subscribe is on: the next sync adds the 2 IPv4 addresses among these to the Qualys "
        "subscription." in html
    )
    assert (
        "The last sync added none of them: its 1,500 addresses to add were more than the limit. "
        "The add of the next sync is within it." in html
    )
    settings.max_add_per_sync = 2000
    settings.save()
    raised = viewer_client.get(INDEX).content.decode()
    assert "The last sync added none of them" not in raised


def qualys_settings(**fields) -> QualysSettings:
    values = {"enabled": True, "server": "https://qualysapi.qualys.com", "username": "api",
              "password": "s3cret", "auto_subscribe": True, "add_stale_hosts": True,
              "max_add_per_sync": 0, **fields}  # fmt: skip
    return QualysSettings(**values)


@pytest.mark.parametrize(
    ("parts", "fields", "held_back", "expected"),
    [
        (
            widgets.UnmanagedParts(5, ipv6=1, stale_ipv4=3),
            {"add_stale_hosts": False},
            None,
            ["Auto-Subscribe is on: the next sync adds the IPv4 address among these to the "
             "Qualys subscription. The 3 stale hosts are left out, because Add stale hosts is "
             "off. The IPv6 address needs a mapping record in Qualys, which this product does "
             "not create, so it stays here and each sync reports it."],
        ),
        (
            widgets.UnmanagedParts(3, stale_ipv4=3),
            {"add_stale_hosts": False},
            None,
            ["Auto-Subscribe is on, but the next sync adds none of these. The 3 stale hosts are "
             "left out, because Add stale hosts is off."],
        ),
        (
            # Stale hosts count only when the setting leaves them out.
            widgets.UnmanagedParts(3, stale_ipv4=3),
            {},
            None,
            ["Auto-Subscribe is on: the next sync adds the 3 IPv4 addresses among these to the "
             "Qualys subscription."],
        ),
        (
            widgets.UnmanagedParts(160),
            {"max_add_per_sync": 50},
            160,
            ["Auto-Subscribe is on, but the next sync adds none of these: the 160 IPv4 addresses "
             "it would add are more than the limit of 50 per sync, so it fails and writes "
             "nothing to Qualys. Check this list, then raise the limit in the Qualys settings."],
        ),
        (
            # Within the limit once the stale hosts are left out.
            widgets.UnmanagedParts(60, stale_ipv4=20),
            {"max_add_per_sync": 50, "add_stale_hosts": False},
            None,
            ["Auto-Subscribe is on: the next sync adds the 40 IPv4 addresses among these to the "
             "Qualys subscription. The 20 stale hosts are left out, because Add stale hosts is "
             "off."],
        ),
        (widgets.UnmanagedParts(0), {}, None, []),
    ],
)  # fmt: skip
def test_add_hints_count_what_the_next_sync_adds(parts, fields, held_back, expected):
    assert widgets.add_hints(parts, qualys_settings(**fields), held_back) == expected


@pytest.mark.parametrize(
    ("share", "shown"),
    [
        (0, "0.0%"),
        (203 / 1_250_000, "< 0.1%"),
        (0.0005, "0.1%"),
        (0.9996, "> 99.9%"),
        (1, "100.0%"),
    ],
)
def test_coverage_share_never_rounds_to_zero_or_whole(share, shown):
    from dashboard.templatetags.dashboard import percent

    assert percent(share) == shown


def test_never_synced_state(viewer_client, db):
    configure()

    html = viewer_client.get(INDEX).content.decode()

    assert "No sync has run yet." in html
    assert "No sync has succeeded yet" in html


def store_success_then_failure(error: str, **failed_values) -> SyncRun:
    """Store a successful sync on 2026-11-30 and a failed one a day later; return the failed."""
    configure()
    finished = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    SyncRun.objects.create(
        status=SyncRun.Status.SUCCEEDED, trigger=SyncRun.Trigger.SCHEDULE,
        created_at=finished - timedelta(days=1), finished_at=finished - timedelta(days=1),
    )  # fmt: skip
    return SyncRun.objects.create(
        status=SyncRun.Status.FAILED, trigger=SyncRun.Trigger.SCHEDULE, created_at=finished,
        started_at=finished, finished_at=finished, error=error, **failed_values,
    )  # fmt: skip


def test_failed_sync_shows_error_and_last_success(viewer_client, db):
    failed = store_success_then_failure(
        "Qualys rejected the username or password. Check them in the Qualys settings."
    )

    html = viewer_client.get(INDEX).content.decode()

    assert "The last sync failed." in html
    assert "Qualys rejected the username or password." in html
    assert "2026-11-30 06:00 UTC" in html
    assert "It failed before it stored anything, so the dashboard keeps showing" in html
    assert reverse("integrations:sync-run", args=[failed.pk]) in html


def test_failed_sync_says_settings_changed_since(viewer_client, db):
    failed = store_success_then_failure("Qualys rejected the username or password.")
    notice = "The Qualys settings were saved after this sync started"

    QualysSettings.objects.update(updated_at=failed.started_at - timedelta(minutes=1))
    before = viewer_client.get(INDEX).content.decode()
    QualysSettings.objects.update(updated_at=failed.started_at + timedelta(minutes=1))
    after = viewer_client.get(INDEX).content.decode()

    assert notice not in before
    assert f"{notice}, so they may have fixed its cause. The next sync checks them." in after


def test_failed_sync_names_data_run(viewer_client, db):
    stored = store_success_then_failure("Updating the asset group failed.", subscribed=280)
    later = stored.finished_at + timedelta(hours=1)
    SyncRun.objects.create(
        status=SyncRun.Status.FAILED, trigger=SyncRun.Trigger.SCHEDULE, created_at=later,
        started_at=later, finished_at=later, error="Could not connect to 127.0.0.1:1.",
    )  # fmt: skip

    html = viewer_client.get(INDEX).content.decode()

    run_url = reverse("integrations:sync-run", args=[stored.pk])
    assert (
        "It failed before it stored anything, so the dashboard keeps showing the data of "
        f'<a href="{run_url}">run {stored.pk}</a>, which failed after it stored what it read.'
    ) in html
    assert "the counts use the data it stored" not in html


def test_failed_sync_after_store_counts(viewer_client, db):
    store_success_then_failure("Adding 2 addresses to the subscription failed.", subscribed=280)

    html = viewer_client.get(INDEX).content.decode()

    assert "It failed after it stored what it read from Qualys, so the counts use that data." in (
        html
    )
    assert "the counts use the data it stored" not in html


def test_next_run_is_last_run_plus_interval(viewer_client, db):
    configure()
    task = PeriodicTask.objects.get(name=constants.SYNC_TASK_NAME)
    task.interval = IntervalSchedule.objects.create(every=6, period=IntervalSchedule.HOURS)
    task.last_run_at = datetime(2026, 12, 2, 9, 15, tzinfo=UTC)
    task.save()

    html = viewer_client.get(INDEX).content.decode()

    assert re.search(r"Next scheduled sync</dt>\s*<dd><time[^>]*>2026-12-02 15:15 UTC", html)


def test_disabled_schedule_reads_not_scheduled(viewer_client, db):
    configure(enabled=False)

    html = viewer_client.get(INDEX).content.decode()

    assert "Not scheduled (the integration is turned off)" in html


def test_viewer_sees_no_sync_now_button(viewer_client, db):
    configure()
    assert "Sync now" not in viewer_client.get(INDEX).content.decode()


def test_editor_sees_sync_now_button(editor_client, db):
    configure()
    html = editor_client.get(INDEX).content.decode()
    assert f'action="{reverse("integrations:sync-now")}"' in html
    assert ">Sync now</button>" in html


def test_running_sync_shows_live_progress(viewer_client, db):
    configure()
    SyncRun.objects.create(
        status=SyncRun.Status.RUNNING, trigger=SyncRun.Trigger.BUTTON,
        step="fetch_scanned_hosts", progress={"hosts_read": 12000},
    )  # fmt: skip

    html = viewer_client.get(INDEX).content.decode()

    assert f'data-url="{reverse("integrations:sync-progress")}"' in html
    assert re.search(r"<p data-when-active>\s*<strong[^>]*>Running</strong>", html)
    assert '<span data-field="step_label">Reading scanned hosts</span>' in html
    assert "12000</span> scanned hosts read" in html
    assert "integrations/sync_progress.js" in html


def test_anonymous_user_is_sent_to_login(client, db):
    for url in [
        INDEX,
        list_url("managed-by-both"),
        reverse("dashboard:export", args=["managed-by-both"]),
    ]:
        response = client.get(url, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


# --- Lists ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("unmanaged-by-qualys", ["192.0.2.200", "203.0.113.5", "2001:db8:1::1"]),
        ("unmanaged-by-lumeta", ["192.0.2.50", "198.51.100.99", "2001:db8::2"]),
        ("managed-by-both", ["192.0.2.1", "192.0.2.2", "203.0.113.5", "2001:db8::1"]),
    ],
)
def test_list_shows_set_in_address_order(viewer_client, coverage_data, slug, expected):
    response = viewer_client.get(list_url(slug))
    assert response.status_code == 200
    assert row_addresses(response) == expected


@pytest.mark.parametrize(
    ("slug", "total"),
    [
        ("unmanaged-by-qualys", "3 addresses"),
        ("unmanaged-by-lumeta", "3 addresses"),
        ("managed-by-both", "4 addresses"),
    ],
)
def test_list_shows_its_total(viewer_client, coverage_data, slug, total):
    html = viewer_client.get(list_url(slug)).content.decode()
    filtered = viewer_client.get(list_url(slug), {"q": "192.0.2.0/24"}).content.decode()

    assert f"<strong>{total.split()[0]}</strong> {total.split()[1]} in this list." in html
    assert "in this list." not in filtered


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("192.0.2.0/24", "<strong>2</strong> addresses in this list match “192.0.2.0/24”."),
        ("192.0.2.2", "<strong>1</strong> address in this list matches “192.0.2.2”."),
        ("198.51.100.0/24", "<strong>0</strong> addresses in this list match"),
    ],
)
def test_filtered_list_counts_matches(viewer_client, coverage_data, query, count):
    html = viewer_client.get(list_url("managed-by-both"), {"q": query}).content.decode()

    assert count in html


@pytest.mark.parametrize(
    ("slug", "sentence"),
    [
        ("unmanaged-by-qualys", "Only each host's primary name is matched here."),
        (
            "managed-by-both",
            "Only each host's primary name and the names Qualys reports are matched here.",
        ),
    ],
)
def test_name_filter_says_which_names_match(viewer_client, coverage_data, slug, sentence):
    html = viewer_client.get(list_url(slug), {"q": "host-"}).content.decode()

    assert sentence in html


def test_name_filter_counts_its_only_page(viewer_client, coverage_data):
    response = viewer_client.get(list_url("managed-by-both"), {"q": "host-203"})

    assert row_addresses(response) == ["203.0.113.5"]
    assert "<strong>1</strong> address in this list matches “host-203”." in (
        response.content.decode()
    )


def test_name_filter_of_several_pages_gives_lower_bound(
    viewer_client, coverage_data, monkeypatch
):
    monkeypatch.setattr(lists, "PAGE_SIZE", 1)

    first = viewer_client.get(list_url("managed-by-both"), {"q": "host-"})
    html = first.content.decode()
    later = viewer_client.get(
        list_url("managed-by-both"),
        {"q": "host-", "after": unquote(re.search(r'after=([^"&]+)', html).group(1))},
    )

    assert "More than <strong>1</strong> addresses in this list match “host-”." in html
    # Later pages, reached by a cursor, give no count.
    assert later.status_code == 200
    assert len(row_addresses(later)) == 1
    assert "in this list match" not in later.content.decode()


def test_filtered_count_stops_at_cap(viewer_client, coverage_data, monkeypatch):
    monkeypatch.setattr(dashboard_views, "MATCH_COUNT_CAP", 1)

    html = viewer_client.get(list_url("managed-by-both"), {"q": "192.0.2.0/24"}).content.decode()

    assert "More than <strong>1</strong> addresses in this list match" in html


def test_list_shows_details_from_both_sides(viewer_client, coverage_data):
    html = viewer_client.get(list_url("managed-by-both"), {"q": "203.0.113.5"}).content.decode()

    # Without markup: a host name wraps only after its dots, by one element per label.
    page_text = re.sub(r"<[^>]*>", "", html)
    expected = ["host-203-0-113-5.example.test", "02:00:00:00:00:05", "Debian 12", "scan.xml",
                "vpn.example.test", "VPN", "Linux 5.15", "IP", "2026-11-09 08:30 UTC"]  # fmt: skip
    for text in expected:
        assert text in page_text


def test_unmanaged_by_lumeta_shows_only_qualys_columns(viewer_client, coverage_data):
    html = viewer_client.get(list_url("unmanaged-by-lumeta")).content.decode()

    headers = re.findall(r'<th scope="col">([^<]+)</th>', html)
    assert headers == ["Address", "Qualys DNS", "NetBIOS", "Qualys OS", "Tracking method",
                       "Last scan"]  # fmt: skip
    assert "Not in the inventory" not in html
    assert "printer.example.test" in re.sub(r"<[^>]*>", "", html)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("192.0.2.2", ["192.0.2.2"]),
        ("192.0.2.0/24", ["192.0.2.1", "192.0.2.2"]),
        ("2001:db8::/32", ["2001:db8::1"]),
        ("192.0.2.1-192.0.2.1", ["192.0.2.1"]),
        # IPv4-mapped, as IPv6 software writes an IPv4 address.
        ("::ffff:192.0.2.2", ["192.0.2.2"]),
        ("::ffff:192.0.2.0/120", ["192.0.2.1", "192.0.2.2"]),
        ("host-203", ["203.0.113.5"]),
        ("HOST-192-0-2-2", ["192.0.2.2"]),
    ],
)
def test_list_filter(viewer_client, coverage_data, query, expected):
    response = viewer_client.get(list_url("managed-by-both"), {"q": query})
    assert row_addresses(response) == expected


def test_qualys_only_list_filters_on_qualys_names(viewer_client, coverage_data):
    response = viewer_client.get(list_url("unmanaged-by-lumeta"), {"q": "printer"})
    assert row_addresses(response) == ["192.0.2.50"]


# A cap of 0 makes every name filter take the path for prefixes that many hosts share.
@pytest.mark.parametrize("cap", [lists.NAME_MATCHES_CAP, 0])
@pytest.mark.parametrize("sort", ["address", "-last_scan"])
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("web-1", ["192.0.2.1"]),  # Qualys DNS name
        ("db1", ["192.0.2.2", "2001:db8::1"]),  # Qualys NetBIOS name, any letter case
        ("host-203", ["203.0.113.5"]),  # the inventory's host name
        ("alias-0", []),  # the inventory's other names are not searched here
    ],
)
def test_managed_list_matches_both_names(
    viewer_client, coverage_data, monkeypatch, cap, sort, query, expected
):
    monkeypatch.setattr(lists, "NAME_MATCHES_CAP", cap)

    response = viewer_client.get(list_url("managed-by-both"), {"q": query, "sort": sort})

    assert sorted(row_addresses(response)) == expected
    exported = export_rows(viewer_client, "managed-by-both", query)
    assert [row[0] for row in exported[1:]] == expected


@pytest.mark.parametrize("cap", [lists.NAME_MATCHES_CAP, 0])
@pytest.mark.parametrize("sort", ["address", "-last_scan"])
def test_list_outside_subscription_filters_on_inventory_names_only(
    viewer_client, coverage_data, monkeypatch, cap, sort
):
    monkeypatch.setattr(lists, "NAME_MATCHES_CAP", cap)

    # 203.0.113.5 is outside S, and Qualys calls it vpn.example.test.
    by_inventory_name = viewer_client.get(
        list_url("unmanaged-by-qualys"), {"q": "host-203", "sort": sort}
    )
    by_qualys_name = viewer_client.get(list_url("unmanaged-by-qualys"), {"q": "vpn", "sort": sort})

    assert row_addresses(by_inventory_name) == ["203.0.113.5"]
    assert row_addresses(by_qualys_name) == []


@pytest.mark.parametrize("cap", [lists.NAME_MATCHES_CAP, 0])
def test_scan_order_segment_filters_on_inventory_names_alone(coverage_data, monkeypatch, cap):
    monkeypatch.setattr(lists, "NAME_MATCHES_CAP", cap)
    address_filter = lists.AddressFilter.parse("host-203")

    rows = address_filter.apply(querysets.scanned_indexed(), "scanned-indexed")

    assert list(rows.values_list("address", flat=True)) == ["203.0.113.5"]


@pytest.mark.parametrize(
    ("slug", "query", "expected"),
    [
        ("unmanaged-by-lumeta", "192.0.2.", ["192.0.2.50"]),
        ("unmanaged-by-lumeta", "198.51.", ["198.51.100.99"]),
        ("managed-by-both", "203.0.", ["203.0.113.5"]),
    ],
)
def test_typed_address_start_filters_lists(viewer_client, coverage_data, slug, query, expected):
    response = viewer_client.get(list_url(slug), {"q": query})

    assert row_addresses(response) == expected


@pytest.mark.parametrize(
    "query",
    ["192.0.2.7/24", "not a host!", "2001:db8::zz", "192.0.2.300", "192.0.2.7-3", "192.0.2"],
)
def test_invalid_filter_is_rejected_with_message(viewer_client, coverage_data, query):
    response = viewer_client.get(list_url("managed-by-both"), {"q": query})

    assert response.status_code == 400
    assert f"“{query}” is not" in response.content.decode()


def test_name_filter_points_to_inventory_search(viewer_client, coverage_data):
    response = viewer_client.get(list_url("unmanaged-by-qualys"), {"q": "alias-3"})

    html = response.content.decode()
    assert row_addresses(response) == []
    assert f'<a href="{reverse("inventory:hosts")}?q=alias-3">search the indexed hosts</a>' in html


def test_invalid_filter_offers_no_export(viewer_client, coverage_data):
    html = viewer_client.get(list_url("managed-by-both"), {"q": "192.0.2.300"}).content.decode()

    assert "as CSV</a>" not in html


def test_text_with_slash_gets_the_plain_message(viewer_client, coverage_data):
    response = viewer_client.get(list_url("managed-by-both"), {"q": "web/db"})

    html = response.content.decode()
    assert response.status_code == 400
    assert "“web/db” is not an IP address, a CIDR block or the start of a host name." in html
    assert "does not appear" not in html


def test_unknown_list_is_not_found(viewer_client, db):
    assert viewer_client.get(list_url("everything")).status_code == 404


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        # 192.0.2.50 has no scan time: oldest first puts it first, newest first last.
        ("last_scan", ["192.0.2.50", "198.51.100.99", "2001:db8::2"]),
        ("-last_scan", ["2001:db8::2", "198.51.100.99", "192.0.2.50"]),
        ("-address", ["2001:db8::2", "198.51.100.99", "192.0.2.50"]),
    ],
)
def test_list_sorts_by_last_scan(viewer_client, coverage_data, sort, expected):
    response = viewer_client.get(list_url("unmanaged-by-lumeta"), {"sort": sort})
    assert row_addresses(response) == expected


def test_managed_list_sorted_by_last_scan_newest_first(viewer_client, coverage_data):
    response = viewer_client.get(list_url("managed-by-both"), {"sort": "-last_scan"})
    # 203.0.113.5 on the 9th, 192.0.2.1 on the 5th (latest of its two networks), then the
    # dual-stack host's two addresses scanned on the 2nd, ties in descending address order.
    assert row_addresses(response) == ["203.0.113.5", "192.0.2.1", "2001:db8::1", "192.0.2.2"]


def test_unmanaged_by_qualys_sorted_by_last_scan(viewer_client, coverage_data):
    response = viewer_client.get(list_url("unmanaged-by-qualys"), {"sort": "last_scan"})
    # Never-scanned hosts first, in address order, then the one scanned outside S.
    assert row_addresses(response) == ["192.0.2.200", "2001:db8:1::1", "203.0.113.5"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (
            "-last_scan",
            ["203.0.113.8", "203.0.113.5", "203.0.113.7", "203.0.113.6"]
            + ["2001:db8:1::1", "192.0.2.200"],
        ),
        (
            "last_scan",
            ["192.0.2.200", "2001:db8:1::1"]
            + ["203.0.113.6", "203.0.113.7", "203.0.113.5", "203.0.113.8"],
        ),
    ],
)
def test_unmanaged_by_qualys_pages_by_scan_time(
    viewer_client, coverage_data, monkeypatch, sort, expected
):
    # Three more hosts scanned outside S: one never scanned, one tied with 203.0.113.5.
    store_scanned(
        [
            (201, "203.0.113.6", "", 0, "six.example.test", "SIX", None),
            (202, "203.0.113.7", "", 0, "seven.example.test", "SEVEN", 4),
            (203, "203.0.113.8", "", 0, "eight.example.test", "EIGHT", 9),
        ]
    )
    index_hosts(["203.0.113.6", "203.0.113.7", "203.0.113.8"])
    url = list_url("unmanaged-by-qualys")
    monkeypatch.setattr(lists, "PAGE_SIZE", 1)

    seen, pages = walk_pages(viewer_client, url, {"sort": sort})
    backwards = []
    query = pages[-1]
    while query is not None:
        response = viewer_client.get(url, query)
        backwards += row_addresses(response)
        match = re.search(r'rel="prev" href="\?([^"]+)"', response.content.decode())
        query = None if match is None else parse_link(match.group(1))

    assert seen == expected
    assert len(pages) == len(expected)
    assert backwards == list(reversed(expected))


def parse_link(query_string: str) -> dict:
    """Return the parameters of a page link's query string as the client sends them."""
    pairs = (part.split("=", 1) for part in query_string.replace("&amp;", "&").split("&"))
    return {key: unquote(value) for key, value in pairs}


def walk_pages(client, url: str, params: dict) -> tuple[list[str], list[dict]]:
    """Follow "Next page" links to the end; return the addresses and each page's query."""
    seen: list[str] = []
    pages = []
    query = dict(params)
    while True:
        response = client.get(url, query)
        assert response.status_code == 200
        seen += row_addresses(response)
        pages.append(dict(query))
        match = re.search(r'rel="next" href="\?([^"]+)"', response.content.decode())
        if not match:
            return seen, pages
        query = dict(part.split("=", 1) for part in match.group(1).replace("&amp;", "&").split("&"))
        query = {key: value.replace("%7E", "~").replace("%3A", ":").replace("%2B", "+")
                 for key, value in query.items()}  # fmt: skip


@pytest.mark.parametrize("sort", ["address", "-address", "last_scan", "-last_scan"])
def test_keyset_pages_cover_list_once_in_order(viewer_client, coverage_data, monkeypatch, sort):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    url = list_url("managed-by-both")
    full = row_addresses(viewer_client.get(url, {"sort": sort}))
    monkeypatch.setattr(lists, "PAGE_SIZE", 1)

    seen, pages = walk_pages(viewer_client, url, {"sort": sort})

    assert len(full) == 2
    assert seen[:2] == full
    assert sorted(seen) == sorted(["192.0.2.1", "192.0.2.2", "203.0.113.5", "2001:db8::1"])
    assert len(pages) == 4


def test_previous_page_returns_the_page_before(viewer_client, coverage_data, monkeypatch):
    monkeypatch.setattr(lists, "PAGE_SIZE", 1)
    url = list_url("managed-by-both")
    _, pages = walk_pages(viewer_client, url, {"sort": "address"})
    third = viewer_client.get(url, pages[2]).content.decode()

    previous = re.search(r'rel="prev" href="\?([^"]+)"', third).group(1).replace("&amp;", "&")
    response = viewer_client.get(f"{url}?{previous}")

    assert row_addresses(response) == ["192.0.2.2"]


def test_deep_page_query_uses_no_offset(viewer_client, coverage_data, monkeypatch):
    monkeypatch.setattr(lists, "PAGE_SIZE", 1)
    url = list_url("unmanaged-by-qualys")
    for sort in ("address", "-last_scan"):
        _, pages = walk_pages(viewer_client, url, {"sort": sort})
        with CaptureQueriesContext(connection) as queries:
            viewer_client.get(url, pages[-1])
        assert queries.captured_queries
        for query in queries.captured_queries:
            assert "OFFSET" not in query["sql"].upper()


def test_edited_cursor_is_rejected(viewer_client, coverage_data):
    response = viewer_client.get(list_url("managed-by-both"), {"after": "0~not-a-key"})
    assert response.status_code == 400
    assert "The page link is not valid" in response.content.decode()


# --- CSV export ---------------------------------------------------------------------


def test_export_of_managed_list_is_exact(viewer_client, coverage_data):
    rows = export_rows(viewer_client, "managed-by-both")

    assert rows[0][0] == "Address"
    assert rows[0][-1] == "Qualys network ID"
    assert rows[1:] == [
        ["192.0.2.1", "host-192-0-2-1.example.test",
         "host-192-0-2-1.example.test alias-0.example.test", "02:00:00:00:00:00", "",
         "Debian 12", "2026-10-01T00:00:00Z", "2026-11-30T12:00:00Z", "scan.xml", "", "no", "yes",
         "101", "web-1.example.test", "WEB1", "Linux 5.15", "IP", "2026-11-05T08:30:00Z", "0"],
        ["192.0.2.2", "host-192-0-2-2.example.test",
         "host-192-0-2-2.example.test alias-1.example.test", "02:00:00:00:00:01", "",
         "Debian 12", "2026-10-01T00:00:00Z", "2026-11-30T12:00:00Z", "scan.xml", "", "no", "yes",
         "103", "db-1.example.test", "DB1", "Linux 5.15", "IP", "2026-11-02T08:30:00Z", "0"],
        ["203.0.113.5", "host-203-0-113-5.example.test",
         "host-203-0-113-5.example.test alias-5.example.test", "02:00:00:00:00:05", "",
         "Debian 12", "2026-10-01T00:00:00Z", "2026-11-30T12:00:00Z", "scan.xml", "", "no", "no",
         "104", "vpn.example.test", "VPN", "Linux 5.15", "IP", "2026-11-09T08:30:00Z", "0"],
        ["2001:db8::1", "host-2001-db8--1.example.test",
         "host-2001-db8--1.example.test alias-6.example.test", "02:00:00:00:00:06", "",
         "Debian 12", "2026-10-01T00:00:00Z", "2026-11-30T12:00:00Z", "scan.xml", "", "no", "yes",
         "103", "db-1.example.test", "DB1", "Linux 5.15", "IP", "2026-11-02T08:30:00Z", "0"],
    ]  # fmt: skip


def test_export_of_qualys_only_list_is_exact(viewer_client, coverage_data):
    rows = export_rows(viewer_client, "unmanaged-by-lumeta")

    assert rows[1:] == [
        ["192.0.2.50", "", "", "", "", "", "", "", "", "", "", "yes", "105", "printer.example.test",
         "", "Linux 5.15", "IP", "", "0"],
        ["198.51.100.99", "", "", "", "", "", "", "", "", "", "", "no", "106", "old.example.test",
         "OLD", "Linux 5.15", "IP", "2026-11-01T08:30:00Z", "0"],
        ["2001:db8::2", "", "", "", "", "", "", "", "", "", "", "yes", "107", "v6only.example.test",
         "", "Linux 5.15", "IP", "2026-11-04T08:30:00Z", "0"],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("names", "expected_names"),
    [
        (["a.example.test", "b.example.test"], "a.example.test b.example.test"),
        (['web "main", a', "ünïcode.example.test"], 'web ""main"", a ünïcode.example.test'),
        ([], ""),
    ],
)
def test_export_quotes_fields_and_ends_lines_with_crlf(
    viewer_client, coverage_data, names, expected_names
):
    Host.objects.filter(address="192.0.2.200").update(
        hostname='web "main", a', hostnames=names, os_name="Linux\n6.1"
    )

    response = viewer_client.get(
        reverse("dashboard:export", args=["unmanaged-by-qualys"]), {"q": "192.0.2.200"}
    )
    body = b"".join(response.streaming_content).decode()

    lines = body.split("\r\n")
    assert lines[1] == (
        '"192.0.2.200","web ""main"", a","' + expected_names + '","02:00:00:00:00:03","",'
        '"Linux\n6.1",2026-10-01T00:00:00Z,2026-11-30T12:00:00Z,"scan.xml","",no,no,,,,,,,'
    )
    assert lines[2:] == [""]


def test_export_mixes_escaped_and_plain_host_names(viewer_client, coverage_data):
    # Names with a quote are stored with JSON escapes, which the database does not cut.
    Host.objects.filter(address="203.0.113.5").update(hostnames=['vpn "edge"', "vpn-2"])

    rows = export_rows(viewer_client, "unmanaged-by-qualys")

    assert [row[0] for row in rows[1:]] == ["192.0.2.200", "203.0.113.5", "2001:db8:1::1"]
    assert rows[1][2] == "host-192-0-2-200.example.test alias-3.example.test"
    assert rows[2][2] == 'vpn "edge" vpn-2'
    assert rows[2][12] == "104"
    assert rows[3][2] == "host-2001-db8-1--1.example.test alias-7.example.test"


@pytest.mark.parametrize("query", ["", "host-", "os:debian", "192.0.2.0/24"])
def test_export_writes_tags_on_every_path(viewer_client, coverage_data, query):
    # Each query takes another path: whole list, name filter, field search, CIDR.
    # Plain ASCII tags are cut out of the JSON text by the database, formula guard included.
    Host.objects.filter(address="192.0.2.1").update(tags=["=owner", "pci"])
    # Non-ASCII text is stored with JSON escapes, which the database does not cut.
    Host.objects.filter(address="192.0.2.2").update(tags=["+zürich", "dmz"])

    rows = export_rows(viewer_client, "managed-by-both", query)

    tags = rows[0].index("Tags")
    assert rows[0][tags - 1 : tags + 2] == ["Source", "Tags", "Stale"]
    by_address = {row[0]: row[tags] for row in rows[1:]}
    assert by_address["192.0.2.1"] == "'=owner, pci"
    assert by_address["192.0.2.2"] == "'+zürich, dmz"
    assert by_address.get("203.0.113.5", "") == ""


@pytest.mark.parametrize("query", ["", "host-", "os:debian", "192.0.2.0/24"])
def test_export_imports_back_with_host_details(viewer_client, coverage_data, tmp_path, query):
    # Each query takes another export path (see test_export_writes_tags_on_every_path).
    Host.objects.filter(address="192.0.2.1").update(
        tags=["=owner", "pci"], os_name="-Debian", mac_vendor="@Vendor"
    )
    Host.objects.filter(address="192.0.2.2").update(
        tags=["'=t"], os_name="'-Debian", mac_vendor="'quoted"
    )
    details = ("hostname", "hostnames", "mac", "mac_vendor", "os_name", "tags")
    rows = export_rows(viewer_client, "managed-by-both", query)
    exported = {row[0] for row in rows[1:]}
    scanned = Host.objects.filter(address__in=exported)
    before = {host["address"]: host for host in scanned.values("address", *details)}
    path = tmp_path / "managed.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    Host.objects.all().delete()

    report = import_file(path)

    assert (report.added, report.rejected_count) == (len(before), 0)
    assert {host["address"]: host for host in Host.objects.values("address", *details)} == before


def test_export_of_unscanned_hosts_leaves_qualys_columns_empty(viewer_client, coverage_data):
    rows = export_rows(viewer_client, "unmanaged-by-qualys", "192.0.2.200")

    assert rows[1:] == [
        ["192.0.2.200", "host-192-0-2-200.example.test",
         "host-192-0-2-200.example.test alias-3.example.test", "02:00:00:00:00:03", "",
         "Debian 12", "2026-10-01T00:00:00Z", "2026-11-30T12:00:00Z", "scan.xml", "", "no", "no",
         "", "", "", "", "", "", ""],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("192.0.2.0/24", ["192.0.2.1", "192.0.2.2"]),
        ("2001:db8::1", ["2001:db8::1"]),
        ("host-2", ["203.0.113.5", "2001:db8::1"]),
    ],
)
def test_export_applies_filter(viewer_client, coverage_data, query, expected):
    rows = export_rows(viewer_client, "managed-by-both", query)
    assert [row[0] for row in rows[1:]] == expected


def test_export_streams_in_chunks(viewer_client, coverage_data, monkeypatch):
    from dashboard import exports

    monkeypatch.setattr(exports, "CHUNK", 1)
    response = viewer_client.get(reverse("dashboard:export", args=["managed-by-both"]))
    chunks = list(response.streaming_content)

    assert len(chunks) == 1 + 4
    assert b"".join(chunks).count(b"\r\n") == 5


def test_export_rejects_invalid_filter(viewer_client, coverage_data):
    response = viewer_client.get(
        reverse("dashboard:export", args=["managed-by-both"]), {"q": "a b"}
    )
    assert response.status_code == 400
    assert "is not an IP address" in response.content.decode()


# --- Host page ------------------------------------------------------------------------


def test_host_page_shows_every_network_and_range(viewer_client, coverage_data):
    html = viewer_client.get(reverse("dashboard:host", args=["192.0.2.1"])).content.decode()
    # Without markup: a host name wraps only after its dots, by one element per label.
    text = re.sub(r"<[^>]*>", "", html)

    assert "yes, in the range 192.0.2.0-192.0.2.127" in html
    assert "web-1.example.test" in text
    assert "web-1.branch.example.test" in text
    assert re.search(r"<th scope=\"row\">101</th><td>0</td>", html)
    assert re.search(r"<th scope=\"row\">102</th><td>7</td>", html)
    assert "host-192-0-2-1.example.test" in text


def test_host_page_links_tags_and_wraps_names(viewer_client, coverage_data):
    Host.objects.filter(address="192.0.2.1").update(tags=["pci zone"])

    html = viewer_client.get(reverse("dashboard:host", args=["192.0.2.1"])).content.decode()

    assert '<a href="/inventory/?q=tag:pci%20zone">pci zone</a>' in html
    assert (
        '<td><span class="name-label">host-192-0-2-1.</span><wbr>'
        '<span class="name-label">example.</span><wbr><span class="name-label">test</span></td>'
    ) in html


def test_host_page_finds_ipv6_of_dual_stack_host(viewer_client, coverage_data):
    html = viewer_client.get(reverse("dashboard:host", args=["2001:db8::1"])).content.decode()

    assert "db-1.example.test" in re.sub(r"<[^>]*>", "", html)
    assert "yes, in the range 2001:db8::-2001:db8::ffff:ffff:ffff:ffff" in html


def test_host_page_of_unknown_address(viewer_client, coverage_data):
    html = viewer_client.get(reverse("dashboard:host", args=["198.51.100.200"])).content.decode()

    assert "The inventory does not hold this address." in html
    assert "Qualys lists no scanned host with this address." in html
    assert "Qualys-subscribed (S): <strong>no" in html


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("192.0.2.1", ["managed-by-both"]),
        ("192.0.2.200", ["unmanaged-by-qualys"]),
        ("192.0.2.50", ["unmanaged-by-lumeta"]),
        ("198.51.100.200", []),
    ],
)
def test_host_page_names_the_lists_that_hold_it(viewer_client, coverage_data, address, expected):
    html = viewer_client.get(reverse("dashboard:host", args=[address])).content.decode()

    linked = re.findall(r'href="/dashboard/([a-z-]+)/\?q=', html)
    assert linked == expected
    if not expected:
        assert "neither the inventory nor Qualys's scanned hosts hold it" in html
    indexed = Host.objects.filter(address=address).exists()
    back = f'href="{reverse("inventory:host", args=[address])}">The host\'s inventory page</a>'
    assert (back in html) == indexed


def test_host_page_rejects_invalid_address(viewer_client, db):
    assert viewer_client.get(reverse("dashboard:host", args=["192.0.2.300"])).status_code == 404


def test_export_writes_formula_text_as_text(viewer_client, coverage_data):
    # A spreadsheet evaluates a cell that starts with =, +, - or @.
    Host.objects.filter(address="192.0.2.200").update(
        hostname="=cmd", hostnames=["+a", "b"], os_name="=SUM(1,2)", mac_vendor="@x"
    )
    Host.objects.filter(address="203.0.113.5").update(hostnames=['-vpn "edge"'])

    rows = export_rows(viewer_client, "unmanaged-by-qualys")

    assert rows[1][:6] == [
        "192.0.2.200", "'=cmd", "'+a b", "02:00:00:00:00:03", "'@x", "'=SUM(1,2)",
    ]  # fmt: skip
    assert rows[2][2] == '\'-vpn "edge"'


# --- The state filter (current or stale hosts) -------------------------------------


@pytest.fixture
def some_stale(coverage_data):
    Host.objects.filter(address__in=["192.0.2.2", "203.0.113.5"]).update(
        stale=True, stale_since=datetime(2026, 11, 29, tzinfo=UTC)
    )


@pytest.mark.parametrize("sort", ["address", "-address", "last_scan", "-last_scan"])
@pytest.mark.parametrize(
    ("slug", "state", "expected"),
    [
        ("managed-by-both", "stale", ["192.0.2.2", "203.0.113.5"]),
        ("managed-by-both", "current", ["192.0.2.1", "2001:db8::1"]),
        ("unmanaged-by-qualys", "stale", ["203.0.113.5"]),
        ("unmanaged-by-qualys", "current", ["192.0.2.200", "2001:db8:1::1"]),
    ],
)
def test_state_filter_keeps_stale_or_current(
    viewer_client, some_stale, monkeypatch, slug, state, expected, sort
):
    monkeypatch.setattr(lists, "PAGE_SIZE", 1)

    seen, pages = walk_pages(viewer_client, list_url(slug), {"state": state, "sort": sort})

    assert sorted(seen) == expected
    assert len(pages) == len(expected)
    assert all(page["state"] == state for page in pages)


def test_state_filter_counts_and_describes(viewer_client, some_stale):
    url = list_url("managed-by-both")

    stale = viewer_client.get(url, {"state": "stale"}).content.decode()
    both = viewer_client.get(url, {"state": "stale", "q": "192.0.2.0/24"}).content.decode()
    none = viewer_client.get(url, {"state": "stale", "q": "198.51.100.0/24"}).content.decode()

    assert "<strong>2</strong> addresses in this list match the state “Stale only”." in stale
    assert "in this list." not in stale
    assert (
        "<strong>1</strong> address in this list matches “192.0.2.0/24” and the state "
        "“Stale only”." in both
    )
    assert "No address of this list matches “198.51.100.0/24” and the state “Stale only”." in none
    assert 'href="/dashboard/managed-by-both.csv?q=192.0.2.0%2F24&amp;state=stale"' in both


def test_qualys_only_list_no_state_filter(viewer_client, some_stale):
    plain = viewer_client.get(list_url("unmanaged-by-lumeta"))
    response = viewer_client.get(list_url("unmanaged-by-lumeta"), {"state": "stale"})
    html = response.content.decode()

    assert 'name="state"' not in plain.content.decode()
    assert row_addresses(plain) == ["192.0.2.50", "198.51.100.99", "2001:db8::2"]
    # The page words it as the list's export does.
    assert response.status_code == 400
    assert (
        "state applies to the lists of indexed hosts; no address of this list is in the "
        "inventory. Leave it out."
    ) in html


def test_unknown_state_shown_on_the_page(viewer_client, some_stale):
    response = viewer_client.get(list_url("managed-by-both"), {"state": "CURRENT"})

    assert response.status_code == 400
    assert "state must be current or stale, not “CURRENT”." in response.content.decode()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "stale"}, ["192.0.2.2", "203.0.113.5"]),
        ({"state": "current"}, ["192.0.2.1", "2001:db8::1"]),
        ({"state": "stale", "q": "192.0.2.0/24"}, ["192.0.2.2"]),
        # A name filter reads its keys through the list's queries.
        ({"state": "current", "q": "host-"}, ["192.0.2.1", "2001:db8::1"]),
    ],
)
def test_export_keeps_state_filter(viewer_client, some_stale, params, expected):
    response = viewer_client.get(reverse("dashboard:export", args=["managed-by-both"]), params)
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert [row[0] for row in rows[1:]] == expected
    stale_column = rows[0].index("Stale")
    assert {row[stale_column] for row in rows[1:]} == (
        {"yes"} if params["state"] == "stale" else {"no"}
    )


def test_export_rejects_unknown_state(viewer_client, some_stale):
    response = viewer_client.get(
        reverse("dashboard:export", args=["managed-by-both"]), {"state": "CURRENT"}
    )

    assert response.status_code == 400
    assert "state must be current or stale, not “CURRENT”." in response.content.decode()


@pytest.mark.parametrize(
    ("slug", "query", "expected"),
    [
        ("managed-by-both", "tag:pci", ["192.0.2.2", "203.0.113.5"]),
        ("unmanaged-by-qualys", "tag:PCI", ["203.0.113.5"]),
        ("managed-by-both", "ip:192.0.2.0/24", ["192.0.2.1", "192.0.2.2"]),
        ("managed-by-both", "os:debian", ["192.0.2.1", "192.0.2.2", "2001:db8::1", "203.0.113.5"]),
    ],
)
def test_host_lists_take_field_searches(viewer_client, coverage_data, slug, query, expected):
    Host.objects.filter(address__in=["192.0.2.2", "203.0.113.5"]).update(tags=["pci"])

    response = viewer_client.get(list_url(slug), {"q": query})
    rows = list(
        csv.reader(
            io.StringIO(
                b"".join(
                    viewer_client.get(
                        reverse("dashboard:export", args=[slug]), {"q": query}
                    ).streaming_content
                ).decode()
            )
        )
    )

    assert response.status_code == 200
    assert sorted(row_addresses(response)) == expected
    assert sorted(row[0] for row in rows[1:]) == expected


def test_host_lists_show_tags_linked_to_their_search(viewer_client, coverage_data):
    Host.objects.filter(address="203.0.113.5").update(tags=["pci", "dmz zone"])

    page = viewer_client.get(list_url("unmanaged-by-qualys"), {"state": "current"})

    html = page.content.decode()
    assert '<th scope="col">Tags</th>' in html
    assert (
        '<a href="?q=tag:pci&amp;state=current">pci</a>, '
        '<a href="?q=tag:dmz%20zone&amp;state=current">dmz zone</a>'
    ) in html
    followed = viewer_client.get(list_url("unmanaged-by-qualys"), {"q": "tag:dmz zone"})
    assert row_addresses(followed) == ["203.0.113.5"]


def test_qualys_only_list_refuses_field_search(viewer_client, coverage_data):
    response = viewer_client.get(list_url("unmanaged-by-lumeta"), {"q": "tag:pci"})
    export = viewer_client.get(
        reverse("dashboard:export", args=["unmanaged-by-lumeta"]), {"q": "tag:pci"}
    )

    assert response.status_code == 400
    assert "no address of this list is in the inventory" in response.content.decode()
    assert export.status_code == 400


@pytest.mark.parametrize(
    ("slug", "query", "expected"),
    [
        # name: and ip: read as the list's own name and address filters.
        ("managed-by-both", "name:host-203", ["203.0.113.5"]),
        ("unmanaged-by-lumeta", "name:printer", ["192.0.2.50"]),
        ("managed-by-both", "[2001:db8::1]", ["2001:db8::1"]),
        ("managed-by-both", "ip:2001:db8::1%eth0", ["2001:db8::1"]),
    ],
)
def test_lists_read_name_ip_brackets_and_zones(viewer_client, coverage_data, slug, query, expected):
    response = viewer_client.get(list_url(slug), {"q": query})

    assert response.status_code == 200
    assert row_addresses(response) == expected


def test_lists_name_unknown_fields(viewer_client, coverage_data):
    response = viewer_client.get(list_url("managed-by-both"), {"q": "role:web"})

    assert response.status_code == 400
    assert "“role:” is not a search field" in response.content.decode()


def test_qualys_only_export_refuses_state(viewer_client, coverage_data):
    response = viewer_client.get(
        reverse("dashboard:export", args=["unmanaged-by-lumeta"]), {"state": "stale"}
    )

    assert response.status_code == 400
    assert "state applies to the lists of indexed hosts" in response.content.decode()
