"""Error pages keep the product's navigation, and refusals and icons stay out of the log."""

import logging

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_unknown_address_shows_page_with_navigation(viewer_client):
    response = viewer_client.get("/no-such-page/")

    html = response.content.decode()
    assert response.status_code == 404
    assert "No page has this address." in html
    assert "what Qualys reports" not in html
    assert f'href="{reverse("inventory:hosts")}"' in html
    assert "Log out" in html


def test_host_missing_from_inventory_is_named(viewer_client):
    response = viewer_client.get(reverse("inventory:host", args=["192.0.2.77"]))

    html = response.content.decode()
    assert response.status_code == 404
    assert "192.0.2.77 is not in the inventory." in html
    assert f'href="{reverse("dashboard:host", args=["192.0.2.77"])}"' in html


def test_icon_request_gets_no_content_without_login(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 204
    assert response["Cache-Control"] == "max-age=86400"


def test_refused_request_is_logged_without_traceback(viewer_client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = viewer_client.get(reverse("inventory:import"))

    assert response.status_code == 403
    records = [record for record in caplog.records if record.name == "django.request"]
    assert [record.getMessage() for record in records] == [
        "Forbidden (Permission denied): /inventory/import/"
    ]
    assert records[0].exc_info is None
