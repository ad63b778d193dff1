"""The Qualys settings page in headless Chromium: fill, save, reload."""

import pytest

from integrations.models import QualysSettings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_settings_saved_and_shown_after_reload(page, log_in, live_server, editor):
    log_in(page, editor)
    page.goto(f"{live_server.url}/settings/")
    page.get_by_role("link", name="Qualys").first.click()
    page.wait_for_url("**/settings/integrations/qualys/")

    page.get_by_label("Enabled").check()
    page.get_by_label("Polling interval (hours)").fill("6")
    page.get_by_label("Qualys API server").fill("[::1]:8443")
    page.get_by_label("Username").fill("lumeta_api")
    page.get_by_label("Password").fill("browser-secret")
    page.get_by_label("Auto-Subscribe", exact=True).check()
    page.get_by_label("Auto-Subscribe limit per sync").fill("5000")
    page.get_by_role("button", name="Submit").click()

    page.get_by_text("Settings saved. The sync runs every 6 hours.").wait_for()
    page.reload()

    assert page.get_by_label("Enabled").is_checked()
    assert page.get_by_label("Polling interval (hours)").input_value() == "6"
    assert page.get_by_label("Qualys API server").input_value() == "https://[::1]:8443"
    assert page.get_by_label("Username").input_value() == "lumeta_api"
    assert page.get_by_label("Password").input_value() == ""
    assert page.get_by_label("Auto-Subscribe", exact=True).is_checked()
    assert page.get_by_label("Auto-Subscribe limit per sync").input_value() == "5000"
    assert "browser-secret" not in page.content()

    settings = QualysSettings.load()
    assert settings.password == "browser-secret"
    assert settings.auto_subscribe is True
    assert settings.max_add_per_sync == 5000


def test_invalid_server_explained_in_page(page, log_in, live_server, editor):
    log_in(page, editor)
    page.goto(f"{live_server.url}/settings/integrations/qualys/")
    page.get_by_label("Qualys API server").fill("http://qualys.example.com/api")
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("is not supported (Qualys needs https://)").wait_for()
    assert QualysSettings.load().server == ""
    # The summary takes the focus and names the error in the title; its link moves to the field.
    page.wait_for_function("document.activeElement.classList.contains('error-summary')")
    assert page.title().startswith("Error: Qualys settings")
    page.get_by_role("link", name="Qualys API server").click()
    assert page.evaluate("document.activeElement.id") == "id_server"


def test_viewer_page_has_no_submit(page, log_in, live_server, viewer):
    log_in(page, viewer)
    page.goto(f"{live_server.url}/settings/integrations/qualys/")
    assert page.get_by_label("Polling interval (hours)").is_disabled()
    assert page.get_by_label("Enabled").is_disabled()
    assert page.get_by_role("button", name="Submit").count() == 0
    assert page.get_by_role("button", name="Test connection").count() == 0


def test_test_connection_shows_it_is_busy(page, log_in, live_server, editor):
    log_in(page, editor)
    page.goto(f"{live_server.url}/settings/integrations/qualys/")
    # Stop the form's submission after the page's own handlers have seen it, so
    # that the page stays to be checked while the request would be on its way.
    page.evaluate("window.addEventListener('submit', event => event.preventDefault())")

    page.get_by_role("button", name="Test connection").click()

    busy = page.get_by_role("button", name="Testing the connection…")
    busy.wait_for()
    assert busy.is_disabled()
    assert page.get_by_role("button", name="Submit").is_disabled()
