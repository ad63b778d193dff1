"""The settings pages: the integrations list and Qualys settings, for editors and viewers."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from integrations.constants import SYNC_TASK_NAME
from integrations.models import QualysSettings, SyncRun

pytestmark = pytest.mark.django_db

QUALYS_URL = reverse("integrations:qualys")
TEST_URL = reverse("integrations:qualys-test")
INDEX_URL = reverse("integrations:index")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def posted(**overrides) -> dict:
    data = {
        "enabled": "on",
        "polling_interval": "12",
        "server": "qualysapi.qg2.apps.qualys.com",
        "username": "lumeta_api",
        "password": "page-password",
        "host_list_version": "2.0",
        "page_size": "5000",
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def test_urls_have_expected_paths():
    assert INDEX_URL == "/settings/"
    assert QUALYS_URL == "/settings/integrations/qualys/"


def test_integrations_address_leads_to_list(editor):
    response = client_for(editor).get("/settings/integrations/")

    assert response.status_code == 302
    assert response["Location"] == INDEX_URL


def test_index_lists_qualys_under_other_solutions(editor):
    response = client_for(editor).get(INDEX_URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Other Solutions" in html
    assert html.index("Other Solutions") < html.index(">Qualys<")
    assert f'href="{QUALYS_URL}"' in html
    assert "No sync has finished yet." in html


def test_index_shows_on_off_state(editor):
    client = client_for(editor)
    assert 'badge-off">Off<' in client.get(INDEX_URL).content.decode()
    client.post(QUALYS_URL, posted())
    assert 'badge-on">On<' in client.get(INDEX_URL).content.decode()


def test_index_shows_latest_finished_run(editor):
    now = timezone.now()
    SyncRun.objects.create(
        trigger="schedule",
        status="failed",
        error="Qualys rejected the user name or password.",
        started_at=now - timezone.timedelta(hours=2),
        finished_at=now - timezone.timedelta(hours=2),
    )
    SyncRun.objects.create(
        trigger="schedule",
        status="succeeded",
        started_at=now - timezone.timedelta(minutes=5),
        finished_at=now - timezone.timedelta(minutes=4),
    )
    SyncRun.objects.create(trigger="button", status="running", started_at=now)
    html = client_for(editor).get(INDEX_URL).content.decode()
    assert 'status-succeeded">Succeeded<' in html
    assert "rejected the user name" not in html
    assert "Running" not in html


def test_editor_sees_enabled_form_with_submit(editor):
    html = client_for(editor).get(QUALYS_URL).content.decode()
    assert 'name="enabled"' in html
    assert "disabled" not in html.split('name="polling_interval"')[1].split(">")[0]
    assert ">Submit</button>" in html
    assert ">Test connection</button>" in html


def test_viewer_sees_read_only_form(viewer):
    html = client_for(viewer).get(QUALYS_URL).content.decode()
    for name in ["enabled", "polling_interval", "server", "username", "password", "auto_subscribe"]:
        tag = html.split(f'name="{name}"')[1].split(">")[0]
        assert " disabled" in tag, name
    assert ">Submit</button>" not in html
    assert "Test connection" not in html
    assert "You can view these settings" in html


@pytest.mark.parametrize("url", [QUALYS_URL, TEST_URL])
def test_viewer_post_is_forbidden(viewer, url):
    response = client_for(viewer).post(url, posted())
    assert response.status_code == 403
    settings = QualysSettings.load()
    assert settings.enabled is False
    assert settings.password == ""


def test_editor_post_saves_and_redirects(editor):
    client = client_for(editor)
    response = client.post(QUALYS_URL, posted())
    assert response.status_code == 302
    assert response["Location"] == QUALYS_URL
    settings = QualysSettings.load()
    assert settings.server == "https://qualysapi.qg2.apps.qualys.com"
    assert settings.polling_interval == 12
    assert settings.password == "page-password"
    page = client.get(QUALYS_URL).content.decode()
    assert "Settings saved. The sync runs every 12 hours." in page
    assert "page-password" not in page


def test_invalid_post_shows_errors_and_saves_nothing(editor):
    response = client_for(editor).post(QUALYS_URL, posted(server="http://example.com/x"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "is not supported" in html
    assert "The settings were not saved." in html
    assert '<li><a href="#id_server">Qualys API server</a></li>' in html
    assert "page-password" not in html
    assert QualysSettings.load().server == ""


def test_superuser_can_edit(admin_user):
    response = client_for(admin_user).post(QUALYS_URL, posted())
    assert response.status_code == 302


def test_page_includes_sync_panel_below_form(editor):
    response = client_for(editor).get(QUALYS_URL)
    names = [template.name for template in response.templates]
    assert "integrations/includes/sync_panel.html" in names
    assert "integrations/qualys.html" in names


def test_page_offers_platforms_in_datalist(editor):
    html = client_for(editor).get(QUALYS_URL).content.decode()
    assert 'list="qualys-platforms"' in html
    assert '<option value="qualysapi.qualys.com" label="US1">' in html


def test_enabled_is_a_labelled_switch(editor):
    html = client_for(editor).get(QUALYS_URL).content.decode()
    tag = (
        html.split('name="enabled"')[0].rsplit("<input", 1)[1]
        + html.split('name="enabled"')[1].split(">")[0]
    )
    assert 'type="checkbox"' in tag
    assert 'class="switch"' in tag
    assert 'role="switch"' in tag
    assert '<label for="id_enabled">Enabled</label>' in html


def test_schedule_card_follows_settings(editor):
    client = client_for(editor)
    assert "the integration is off" in client.get(QUALYS_URL).content.decode()
    client.post(QUALYS_URL, posted(polling_interval="6"))
    html = client.get(QUALYS_URL).content.decode()
    assert "The sync runs every 6 hours; the next run is due at " in html
    task = PeriodicTask.objects.get(name=SYNC_TASK_NAME)
    expected = task.last_run_at + timezone.timedelta(hours=6)
    assert f"{expected:%Y-%m-%d %H:%M} UTC" in html


def test_nav_links_dashboard_and_settings(editor):
    html = client_for(editor).get(QUALYS_URL).content.decode()
    assert ">Dashboard</a>" in html
    assert ">Settings</a>" in html


def test_forbidden_page_says_why(viewer):
    response = client_for(viewer).post(QUALYS_URL, posted())
    html = response.content.decode()
    assert response.status_code == 403
    assert "Changing the Qualys settings needs the change permission." in html
    assert "<title>Permission denied" in html


def test_hourly_sync_is_said_as_every_hour(editor):
    client = client_for(editor)
    client.post(QUALYS_URL, posted(polling_interval="1"))

    page = client.get(QUALYS_URL).content.decode()

    assert "Settings saved. The sync runs every hour." in page
