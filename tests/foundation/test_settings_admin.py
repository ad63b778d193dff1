"""The Qualys settings in the Django admin: one row, the same form rules, the same schedule."""

import pytest
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from integrations.constants import SYNC_TASK_NAME
from integrations.models import QualysSettings

pytestmark = pytest.mark.django_db


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admin_list_opens_the_single_row(admin_user):
    response = admin_client(admin_user).get(reverse("admin:integrations_qualyssettings_changelist"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:integrations_qualyssettings_change", args=[1])


def test_admin_cannot_add_or_delete(admin_user):
    client = admin_client(admin_user)
    QualysSettings.load()
    assert client.get(reverse("admin:integrations_qualyssettings_add")).status_code == 403
    delete_url = reverse("admin:integrations_qualyssettings_delete", args=[1])
    assert client.get(delete_url).status_code == 403


def test_admin_save_applies_form_rules_and_schedule(admin_user):
    client = admin_client(admin_user)
    url = reverse("admin:integrations_qualyssettings_change", args=[QualysSettings.load().pk])
    data = {
        "enabled": "on",
        "polling_interval": "8",
        "server": "https://qualysapi.qualys.eu/",
        "username": "lumeta_api",
        "password": "admin-secret",
        "host_list_version": "3.0",
        "page_size": "1000",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    settings = QualysSettings.load()
    assert settings.server == "https://qualysapi.qualys.eu"
    assert settings.password == "admin-secret"
    task = PeriodicTask.objects.get(name=SYNC_TASK_NAME)
    assert task.enabled is True
    assert task.interval.every == 8

    response = client.post(url, {**data, "server": "http://qualysapi.qualys.eu"})
    assert response.status_code == 200
    assert "is not supported" in response.content.decode()
