"""The dashboard in headless Chromium: from a widget to its list, filter, export, numbers."""

import csv
import io

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_widget_to_list_filter_and_export(page, log_in, live_server, viewer, coverage_data):
    log_in(page, viewer)
    page.goto(f"{live_server.url}/dashboard/")

    managed = page.get_by_role("article").filter(has_text="Qualys and Lumeta Managed IPs")
    assert managed.locator(".count").inner_text() == "4"
    unmanaged = page.get_by_role("article").filter(has_text="IPs Unmanaged by Qualys")
    assert unmanaged.locator(".count").inner_text() == "3"

    page.get_by_role("link", name="View the list of Qualys and Lumeta Managed IPs").click()
    page.wait_for_url(f"{live_server.url}/dashboard/managed-by-both/")
    rows = page.locator("table.hosts tbody tr")
    assert rows.count() == 4

    # Filter from the keyboard: type a CIDR block and press Enter.
    field = page.get_by_label("Address, CIDR block, start of a host name")
    field.fill("192.0.2.0/24")
    field.press("Enter")
    page.wait_for_url("**/dashboard/managed-by-both/?q=192.0.2.0%2F24*")
    assert [cell.inner_text() for cell in page.locator("table.hosts tbody th").all()] == [
        "192.0.2.1",
        "192.0.2.2",
    ]

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export the filtered list as CSV").click()
    download = download_info.value
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8").read())))

    assert download.suggested_filename.startswith("managed-by-both-")
    assert [row[0] for row in rows] == ["Address", "192.0.2.1", "192.0.2.2"]
    assert rows[1][13] == "web-1.example.test"


def test_host_page_from_list_and_invalid_filter(page, log_in, live_server, viewer, coverage_data):
    log_in(page, viewer)
    page.goto(f"{live_server.url}/dashboard/unmanaged-by-lumeta/")

    page.get_by_label("Address, CIDR block, start of a host name").fill("192.0.2.7/24")
    page.get_by_role("button", name="Apply").click()
    assert "is not a valid CIDR block" in page.get_by_role("alert").inner_text()

    page.get_by_label("Address, CIDR block, start of a host name").fill("")
    page.get_by_label("Sort by").select_option("-last_scan")
    page.get_by_role("button", name="Apply").click()
    first = page.locator("table.hosts tbody th").first
    assert first.inner_text() == "2001:db8::2"

    first.get_by_role("link").click()
    assert page.get_by_role("heading", level=1).inner_text() == "2001:db8::2"
    assert "v6only.example.test" in page.locator("main").inner_text()
