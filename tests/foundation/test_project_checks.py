"""Project-wide checks: migrations, deployment settings, secrets, and admin coverage."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "SECRET_KEY": "k2x!Qw9-production-like-secret-key-with-more-than-fifty-characters-7Zp",
    "CREDENTIALS_KEY": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "lumeta.example.com",
}


def run_manage(*args: str, **env_values: str) -> subprocess.CompletedProcess:
    """Run manage.py in a clean environment: production settings, no .env file."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LUMETA_ENV_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "lumeta_qualys.settings",
        "DATA_DIR": os.environ["DATA_DIR"],
        **env_values,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_missing_migrations(db):
    output = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=output, stderr=output)
    except SystemExit:
        pytest.fail(f"Models changed without a migration:\n{output.getvalue()}")


def test_deploy_check_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("name", ["SECRET_KEY", "CREDENTIALS_KEY"])
def test_missing_secret_stops_start_with_its_name(name):
    values = {key: value for key, value in PRODUCTION_ENV.items() if key != name}
    result = run_manage("check", **values)
    assert result.returncode != 0
    assert f"The environment variable {name} is missing." in result.stderr


@pytest.mark.parametrize("name", ["SECRET_KEY", "CREDENTIALS_KEY"])
def test_empty_secret_counts_as_missing(name):
    result = run_manage("check", **{**PRODUCTION_ENV, name: ""})
    assert result.returncode != 0
    assert f"The environment variable {name} is missing." in result.stderr


def test_debug_run_needs_no_secrets():
    result = run_manage("check", DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_invalid_credentials_key_named_at_start():
    result = run_manage("check", **{**PRODUCTION_ENV, "CREDENTIALS_KEY": "not-a-fernet-key"})
    assert result.returncode != 0
    assert "CREDENTIALS_KEY is not a valid Fernet key" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "minimum"),
    [
        ("INVENTORY_STALE_EXPIRY_DAYS", "abc", 0),
        ("INVENTORY_STALE_EXPIRY_DAYS", "-3", 0),
        ("QUALYS_MAX_CONCURRENT_CALLS", "0", 1),
        ("IMPORT_PREVIEW_KEEP_HOURS", "1.5", 0),
        ("SYNC_TIME_LIMIT", "3h", 1),
        ("SECURE_HSTS_SECONDS", "1y", 0),
    ],
)
def test_invalid_number_setting_named_at_start(name, value, minimum):
    result = run_manage("check", **{**PRODUCTION_ENV, name: value})

    assert result.returncode != 0
    assert result.stderr.startswith(
        f"Configuration error: The environment variable {name}={value!r} is not a whole number "
        f"of {minimum} or more."
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"DEBUG": "maybe"}, "The environment variable DEBUG='maybe' is neither true nor false."),
        (
            {"BEHIND_HTTPS_PROXY": "sometimes"},
            "The environment variable BEHIND_HTTPS_PROXY='sometimes' is neither true nor false.",
        ),
        (
            {"QUALYS_READ_TIMEOUT": "abc"},
            "The environment variable QUALYS_READ_TIMEOUT='abc' is not a number above 0.",
        ),
        ({"LOG_LEVEL": "LOUD"}, "The environment variable LOG_LEVEL='LOUD' is not a log level."),
        (
            {"REDIS_URL": "http://127.0.0.1:6379/0"},
            "The environment variable REDIS_URL='http://127.0.0.1:6379/0' is not a Redis address.",
        ),
        (
            {"DATABASE_URL": "postgress://db.example.test/lumeta"},
            "The environment variable DATABASE_URL is not a database address",
        ),
        (
            {"LUMETA_ENV_FILE": "/nonexistent/lumeta.env"},
            "The environment variable LUMETA_ENV_FILE='/nonexistent/lumeta.env' names no file.",
        ),
        (
            {"SYNC_SOFT_TIME_LIMIT": "7200", "SYNC_TIME_LIMIT": "3600"},
            "SYNC_TIME_LIMIT (3600 s) must be greater than SYNC_SOFT_TIME_LIMIT (7200 s)",
        ),
    ],
)
def test_invalid_setting_named_at_start(values, message):
    result = run_manage("check", **{**PRODUCTION_ENV, **values})

    assert result.returncode != 0
    assert result.stderr.startswith(f"Configuration error: {message}")
    assert "Traceback" not in result.stderr


def test_visibility_timeout_must_exceed_time_limit():
    # Redis hands an unacknowledged task to another worker after the visibility
    # timeout, so a sync that may run longer than it would run twice.
    result = run_manage(
        "check",
        **PRODUCTION_ENV,
        SYNC_SOFT_TIME_LIMIT="3000",
        SYNC_TIME_LIMIT="3600",
        CELERY_VISIBILITY_TIMEOUT="3600",
    )
    assert result.returncode != 0
    assert (
        "CELERY_VISIBILITY_TIMEOUT must be greater than SYNC_TIME_LIMIT (3600 <= 3600)"
        in result.stderr
    )


def test_sync_tasks_end_before_redelivery():
    from integrations import tasks
    from lumeta_qualys.celery import app

    visibility_timeout = app.conf.broker_transport_options["visibility_timeout"]
    for task in (tasks.run_sync, tasks.run_scheduled_sync):
        assert task.acks_late is True
        assert task.soft_time_limit < task.time_limit
        assert task.time_limit < visibility_timeout


def test_every_model_has_an_admin():
    # Every app whose code lives in this repository, found by path so a new app is
    # covered; installed packages (a .venv inside the clone) are not the project's.
    project_apps = [
        config
        for config in apps.get_app_configs()
        if Path(config.path).is_relative_to(ROOT) and "site-packages" not in Path(config.path).parts
    ]
    assert {"accounts", "inventory", "integrations", "dashboard"} <= {c.label for c in project_apps}
    missing = [
        model._meta.label
        for config in project_apps
        for model in config.get_models()
        if not admin.site.is_registered(model)
    ]
    assert missing == [], f"Register these models in their app's admin.py: {missing}"


def test_schedule_and_user_models_have_an_admin():
    from django.contrib.auth.models import Group, User
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for model in (User, Group, PeriodicTask, IntervalSchedule):
        assert admin.site.is_registered(model), model._meta.label


def test_unmigrated_database_named_in_one_line(tmp_path):
    result = run_manage("qualys_sync", DEBUG="1", DATA_DIR=str(tmp_path))

    assert result.returncode == 1
    assert result.stderr.startswith("Database error: no such table: ")
    assert "'python manage.py migrate' has run." in result.stderr
    assert "Traceback" not in result.stderr
