"""The Qualys password is encrypted at rest, never dumped in plain text and never logged."""

import logging
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from integrations.forms import QualysSettingsForm
from integrations.models import QualysSettings
from integrations.services.sync import NotConfigured, build_client

PASSWORD = "Plain-Qualys-Secret-4711"

FORM_DATA = {
    "enabled": "on",
    "polling_interval": "24",
    "server": "qualysapi.qualys.com",
    "username": "lumeta_api",
    "password": PASSWORD,
    "host_list_version": "2.0",
    "page_size": "5000",
}


def save_password() -> None:
    form = QualysSettingsForm(FORM_DATA, instance=QualysSettings.load())
    assert form.is_valid(), form.errors
    form.save()


@pytest.mark.django_db(transaction=True)
def test_dumpdata_holds_only_ciphertext():
    save_password()
    output = StringIO()
    call_command("dumpdata", "integrations.qualyssettings", stdout=output)
    dump = output.getvalue()
    assert '"password": "fernet:' in dump
    assert PASSWORD not in dump
    full = StringIO()
    call_command("dumpdata", stdout=full)
    assert PASSWORD not in full.getvalue()


@pytest.mark.django_db(transaction=True)
def test_database_holds_only_ciphertext():
    save_password()
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM integrations_qualyssettings")
        (stored,) = cursor.fetchone()
    assert stored.startswith("fernet:")
    assert PASSWORD not in stored

    if connection.vendor == "sqlite":
        # The committed row is in the database file or its write-ahead log.
        name = Path(connection.settings_dict["NAME"])
        raw = read_in_other_process([name, name.with_name(name.name + "-wal")])
        assert b"fernet:" in raw
        assert PASSWORD.encode() not in raw


def read_in_other_process(paths: list[Path]) -> bytes:
    """Return the bytes of the existing ``paths``, read by a child process.

    Closing a file descriptor of an SQLite file drops every POSIX lock this
    process holds on it, which corrupts the write-ahead log that live
    connections share; reading in a child process keeps those locks.
    """
    script = (
        "import sys, pathlib\n"
        "for p in map(pathlib.Path, sys.argv[1:]):\n"
        "    sys.stdout.buffer.write(p.read_bytes() if p.exists() else b'')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *map(str, paths)], capture_output=True, check=True
    )
    return result.stdout


@pytest.mark.django_db
def test_stored_password_reads_back_decrypted():
    save_password()
    assert QualysSettings.load().password == PASSWORD


@pytest.mark.django_db
def test_undecryptable_password_reads_as_empty():
    save_password()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE integrations_qualyssettings SET password = 'fernet:garbage'")
    assert QualysSettings.load().password == ""


@pytest.mark.django_db
def test_undecryptable_password_is_named_by_sync_and_form():
    save_password()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE integrations_qualyssettings SET password = 'fernet:garbage'")
    settings = QualysSettings.load()

    with pytest.raises(NotConfigured) as raised:
        build_client(settings)

    assert str(raised.value).startswith(
        "The stored Qualys password cannot be decrypted with CREDENTIALS_KEY"
    )
    form = QualysSettingsForm(instance=settings)
    assert "cannot be decrypted" in form.fields["password"].help_text


@pytest.mark.django_db
def test_password_never_logged(editor, caplog):
    caplog.set_level(logging.DEBUG)
    client = Client()
    client.force_login(editor)
    response = client.post(reverse("integrations:qualys"), FORM_DATA)
    assert response.status_code == 302
    page = client.get(reverse("integrations:qualys")).content.decode()
    assert PASSWORD not in page
    assert "Qualys settings saved" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.django_db
def test_admin_never_renders_password(admin_user):
    save_password()
    client = Client()
    client.force_login(admin_user)
    response = client.get(reverse("admin:integrations_qualyssettings_change", args=[1]))
    assert response.status_code == 200
    assert PASSWORD not in response.content.decode()
    assert "fernet:" not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_loaddata_restores_dumped_password(tmp_path):
    save_password()
    dump = tmp_path / "settings.json"
    call_command("dumpdata", "integrations.qualyssettings", output=str(dump))
    QualysSettings.objects.all().delete()
    call_command("loaddata", str(dump), verbosity=0)
    assert QualysSettings.load().password == PASSWORD
