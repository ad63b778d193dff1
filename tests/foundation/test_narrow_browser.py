"""Pages at 320 CSS pixels (WCAG reflow): nothing makes the page scroll sideways."""

import pytest

from accounts.models import ApiToken
from integrations.models import SyncRun
from inventory.models import Host

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/dashboard/",
    "/dashboard/managed-by-both/",
    "/inventory/",
    "/inventory/hosts/192.0.2.10/",
    "/inventory/import/",
    "/accounts/tokens/",
    "/settings/integrations/qualys/",
]


def test_pages_fit_a_narrow_window(page, log_in, live_server, admin_user):
    Host.objects.create(
        address="192.0.2.10",
        source="a-long-source-name-from-a-nightly-discovery-feed.xml",
        hostname="a-rather-long-host-name.branch-office.example.test",
        hostnames=["a-rather-long-host-name.branch-office.example.test"],
        os_name="Microsoft Windows Server 2022 Datacenter Edition",
        mac="02:00:00:00:00:0a",
    )
    ApiToken.issue(admin_user, "a nightly discovery feed with a long name")
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.BUTTON, status=SyncRun.Status.SUCCEEDED, dry_run=True
    )
    # Two successful syncs, so that the dashboard draws its trend chart.
    for both in (10, 20):
        SyncRun.objects.create(
            trigger=SyncRun.Trigger.SCHEDULE, status=SyncRun.Status.SUCCEEDED, indexed=100,
            subscribed=500, scanned=60, unmanaged_by_qualys=50, unmanaged_by_lumeta=5,
            managed_by_both=both,
        )  # fmt: skip
    paths = [*PAGES, f"/settings/integrations/qualys/sync/runs/{run.pk}/"]
    page.set_viewport_size({"width": 320, "height": 640})
    log_in(page, admin_user)

    widths = {}
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        widths[path] = page.evaluate("document.documentElement.scrollWidth")
    page.goto(f"{live_server.url}/dashboard/")
    chart_width = page.evaluate("document.querySelector('svg.trend').getBoundingClientRect().width")
    figure = page.locator(".trend-scroll")
    scrolled = figure.evaluate("element => element.scrollLeft + element.clientWidth")
    figure_width = figure.evaluate("element => element.scrollWidth")
    legend_right = page.evaluate(
        "document.querySelector('.trend-legend').getBoundingClientRect().right"
    )

    assert widths == {path: 320 for path in paths}
    # The trend chart keeps a readable size and scrolls inside its figure.
    assert chart_width >= 680
    # It opens at its right end, where the latest sync is.
    assert abs(scrolled - figure_width) <= 1
    # Its legend wraps within the window, whatever part of the chart is in view.
    assert legend_right <= 320


LONG_NAME = "build-agent-0042.continuous-integration.datacenter-east-02.eu-central.example.test"
# A label of the maximum length DNS allows: 63 characters.
MAX_LENGTH_LABEL = "a" * 30 + "-" + "b" * 32 + ".example.test"


@pytest.mark.parametrize("path", ["/inventory/hosts/192.0.2.32/", "/dashboard/host/192.0.2.32/"])
def test_host_details_fit_a_phone(page, log_in, live_server, admin_user, path):
    Host.objects.create(
        address="192.0.2.32",
        source="scan.xml",
        hostname=LONG_NAME,
        hostnames=[LONG_NAME, MAX_LENGTH_LABEL],
    )
    page.set_viewport_size({"width": 360, "height": 800})
    log_in(page, admin_user)

    page.goto(f"{live_server.url}{path}")
    table = page.locator("table.details").first
    # On a phone a table scrolls sideways inside its own box when its content is wider.
    hidden = table.evaluate("table => table.scrollWidth - table.clientWidth")
    outside = table.evaluate(
        "table => table.getBoundingClientRect().right"
        " - table.parentElement.getBoundingClientRect().right"
    )
    texts = table.inner_text()

    # The details fit: nothing of them is hidden to the right or cut off by the card.
    assert hidden <= 0
    assert outside <= 0
    # Every name is shown whole; only its line breaks differ.
    assert LONG_NAME in texts.replace("\n", "")
    assert MAX_LENGTH_LABEL in texts.replace("\n", "")
