"""Rules of the Qualys settings form: required fields, ranges and the password."""

import pytest

from integrations.forms import AUTO_SUBSCRIBE_HELP, QualysSettingsForm
from integrations.models import QualysSettings

pytestmark = pytest.mark.django_db

FIELD_ORDER = [
    "enabled",
    "polling_interval",
    "server",
    "username",
    "password",
    "auto_subscribe",
    "max_add_per_sync",
    "add_stale_hosts",
    "host_list_version",
    "page_size",
]


def form_data(**overrides) -> dict:
    data = {
        "enabled": "on",
        "polling_interval": "24",
        "server": "qualysapi.qualys.com",
        "username": "lumeta_api",
        "password": "first-password",
        "auto_subscribe": "",
        "add_stale_hosts": "on",
        "host_list_version": "2.0",
        "page_size": "5000",
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def stored_settings(**values) -> QualysSettings:
    settings = QualysSettings.load()
    for name, value in {
        "enabled": True,
        "server": "https://qualysapi.qualys.com",
        "username": "lumeta_api",
        "password": "stored-password",
        **values,
    }.items():
        setattr(settings, name, value)
    settings.save()
    return settings


def test_form_fields_in_order():
    form = QualysSettingsForm()

    assert [field.name for field in form.visible_fields()] == FIELD_ORDER
    assert [field.name for field in form.hidden_fields()] == ["entered_password"]


def test_form_saves_all_values():
    form = QualysSettingsForm(
        form_data(auto_subscribe="on", polling_interval="6", server="127.0.0.1:8443"),
        instance=QualysSettings.load(),
    )
    assert form.is_valid(), form.errors
    form.save()
    saved = QualysSettings.load()
    assert saved.enabled is True
    assert saved.polling_interval == 6
    assert saved.server == "https://127.0.0.1:8443"
    assert saved.username == "lumeta_api"
    assert saved.password == "first-password"
    assert saved.auto_subscribe is True
    assert saved.add_stale_hosts is True


def test_add_stale_hosts_can_be_turned_off():
    form = QualysSettingsForm(form_data(add_stale_hosts=None), instance=QualysSettings.load())

    assert form.is_valid(), form.errors
    form.save()
    assert QualysSettings.load().add_stale_hosts is False


@pytest.mark.parametrize(("value", "stored"), [("", 0), ("0", 0), ("25000", 25000)])
def test_add_limit_saved(value, stored):
    form = QualysSettingsForm(form_data(max_add_per_sync=value), instance=QualysSettings.load())

    assert form.is_valid(), form.errors
    form.save()
    assert QualysSettings.load().max_add_per_sync == stored


@pytest.mark.parametrize("value", ["-1", "many", "1.5"])
def test_add_limit_rejects_non_count(value):
    form = QualysSettingsForm(form_data(max_add_per_sync=value), instance=QualysSettings.load())

    assert not form.is_valid()
    assert "max_add_per_sync" in form.errors


def test_polling_interval_defaults_to_24_hours():
    assert QualysSettingsForm(instance=QualysSettings.load())["polling_interval"].value() == 24


@pytest.mark.parametrize("value", ["1", "24", "168"])
def test_polling_interval_accepts_whole_hours(value):
    form = QualysSettingsForm(form_data(polling_interval=value), instance=QualysSettings.load())
    assert form.is_valid(), form.errors


@pytest.mark.parametrize("value", ["0", "169", "-1", "1.5", "two", ""])
def test_polling_interval_rejects_out_of_range(value):
    form = QualysSettingsForm(form_data(polling_interval=value), instance=QualysSettings.load())
    assert not form.is_valid()
    assert "polling_interval" in form.errors


@pytest.mark.parametrize("value", ["0", "1000001", "x"])
def test_page_size_rejects_out_of_range(value):
    form = QualysSettingsForm(form_data(page_size=value), instance=QualysSettings.load())
    assert not form.is_valid()
    assert "page_size" in form.errors


def test_server_error_shown_on_field():
    form = QualysSettingsForm(
        form_data(server="http://qualysapi.qualys.com"), instance=QualysSettings.load()
    )
    assert not form.is_valid()
    assert "“http://” is not supported" in form.errors["server"][0]


@pytest.mark.parametrize("field", ["server", "username", "password"])
def test_enabled_requires_connection_fields(field):
    form = QualysSettingsForm(form_data(**{field: ""}), instance=QualysSettings.load())
    assert not form.is_valid()
    assert "to enable the integration" in form.errors[field][0]


def test_disabled_allows_blank_connection_fields():
    form = QualysSettingsForm(
        form_data(enabled=None, server="", username="", password=""),
        instance=QualysSettings.load(),
    )
    assert form.is_valid(), form.errors
    settings = form.save()
    assert settings.enabled is False
    assert settings.is_configured is False


def test_blank_password_keeps_stored_one():
    settings = stored_settings()
    form = QualysSettingsForm(form_data(password="", polling_interval="12"), instance=settings)
    assert form.is_valid(), form.errors
    form.save()
    saved = QualysSettings.load()
    assert saved.password == "stored-password"
    assert saved.polling_interval == 12


def test_new_password_replaces_stored_one():
    settings = stored_settings()
    form = QualysSettingsForm(form_data(password="second-password"), instance=settings)
    assert form.is_valid(), form.errors
    form.save()
    assert QualysSettings.load().password == "second-password"


def test_password_keeps_spaces():
    form = QualysSettingsForm(form_data(password="  spaced  "), instance=QualysSettings.load())
    assert form.is_valid(), form.errors
    form.save()
    assert QualysSettings.load().password == "  spaced  "


def test_new_server_requires_password_again():
    settings = stored_settings()
    form = QualysSettingsForm(
        form_data(server="qualysapi.qualys.eu", password=""), instance=settings
    )
    assert not form.is_valid()
    assert "Enter the password again" in form.errors["password"][0]
    assert "Leave this blank" not in form.fields["password"].help_text
    assert QualysSettings.load().server == "https://qualysapi.qualys.com"


def test_same_server_written_differently_keeps_password():
    settings = stored_settings()
    form = QualysSettingsForm(
        form_data(server="HTTPS://QUALYSAPI.QUALYS.COM/", password=""), instance=settings
    )
    assert form.is_valid(), form.errors


def test_password_never_rendered_back():
    settings = stored_settings()
    html = str(QualysSettingsForm(instance=settings)["password"])
    assert "stored-password" not in html
    assert 'type="password"' in html
    assert "value=" not in html


def test_password_not_rendered_after_invalid_post():
    form = QualysSettingsForm(
        form_data(password="typed-password", polling_interval="0"), instance=QualysSettings.load()
    )
    assert not form.is_valid()
    assert "typed-password" not in str(form["password"])


def test_password_help_says_one_is_stored():
    settings = stored_settings()
    help_text = QualysSettingsForm(instance=settings).fields["password"].help_text
    assert "A password is stored" in help_text


def test_auto_subscribe_help_explains_both_modes():
    form = QualysSettingsForm(instance=QualysSettings.load())
    help_text = form.fields["auto_subscribe"].help_text
    assert help_text == AUTO_SUBSCRIBE_HELP
    assert "(I − S)" in help_text
    assert "VM enabled" in help_text
    assert "LUMETA_Spectre_DISCOVERED" in help_text
    assert "((I ∩ S) − M)" in help_text
    assert "nothing is added to the subscription" in help_text


def test_read_only_form_disables_every_field():
    form = QualysSettingsForm(instance=QualysSettings.load(), read_only=True)
    assert all(field.disabled for field in form.fields.values())


def test_read_only_form_ignores_posted_values():
    settings = stored_settings(polling_interval=24)
    form = QualysSettingsForm(form_data(polling_interval="2"), instance=settings, read_only=True)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["polling_interval"] == 24
