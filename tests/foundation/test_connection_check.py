"""The "Test connection" button: one credential check, reported in plain words."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.test import Client
from django.urls import reverse

from integrations import qualys
from integrations.connection import describe_error
from integrations.connection import test_connection as check_connection
from integrations.fields import credentials_cipher
from integrations.forms import ENTERED_PASSWORD_TTL
from integrations.models import QualysSettings
from integrations.services.call_guard import SLOTS_KEY, QualysCallGuard
from integrations.services.lock import redis_connection
from tests.support.services import free_port

TEST_URL = reverse("integrations:qualys-test")
SERVER = "https://qualysapi.qualys.com"

BAD_LOGIN_BODY = b"""<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE SIMPLE_RETURN SYSTEM "https://qualysapi.qualys.com/api/2.0/simple_return.dtd">
<SIMPLE_RETURN>
  <RESPONSE>
    <DATETIME>2026-12-04T10:00:00Z</DATETIME>
    <CODE>2000</CODE>
    <TEXT>Bad Login/Password</TEXT>
  </RESPONSE>
</SIMPLE_RETURN>
"""

EXPIRED_BODY = b"""<?xml version="1.0" encoding="UTF-8" ?>
<SIMPLE_RETURN>
  <RESPONSE>
    <DATETIME>2026-12-04T10:00:00Z</DATETIME>
    <CODE>2001</CODE>
    <TEXT>This account has expired.</TEXT>
  </RESPONSE>
</SIMPLE_RETURN>
"""

HOST_IDS_BODY = b"""<?xml version="1.0" encoding="UTF-8" ?>
<HOST_LIST_OUTPUT>
  <RESPONSE>
    <DATETIME>2026-12-04T10:00:00Z</DATETIME>
    <ID_SET><ID>4200017</ID></ID_SET>
  </RESPONSE>
</HOST_LIST_OUTPUT>
"""
HOST_URL = f"{SERVER}/api/2.0/fo/asset/host/"


class FakeClient:
    """Stands in for QualysClient: records how it was built and raises ``error`` if set."""

    instances: list["FakeClient"] = []
    error: Exception | None = None

    def __init__(self, base_url, username, password, **options):
        self.base_url, self.username, self.password, self.options = (
            base_url,
            username,
            password,
            options,
        )
        FakeClient.instances.append(self)

    def check_credentials(self) -> None:
        if FakeClient.error is not None:
            raise FakeClient.error


@pytest.fixture
def fake_client(monkeypatch):
    FakeClient.instances = []
    FakeClient.error = None
    monkeypatch.setattr(qualys, "QualysClient", FakeClient)
    return FakeClient


def retry_in(seconds: int) -> qualys.RateLimited:
    return qualys.RateLimited(
        "rate limited",
        retry_after=seconds,
        retry_at=datetime.now(UTC) + timedelta(seconds=seconds),
        code=1965,
        status=409,
    )


ERRORS = [
    (
        qualys.AuthenticationFailed("Bad Login/Password", code=2000, status=401),
        "bad_credentials",
        "same reply when the user has no API access and when the account belongs to another",
    ),
    (
        qualys.AccountUnavailable("This account has expired.", code=2001, status=200),
        "account_unavailable",
        "Qualys refused the account lumeta_api. This account has expired.",
    ),
    (
        qualys.RegistrationIncomplete("registration", code=2003, status=409),
        "registration_incomplete",
        "registration is complete",
    ),
    (retry_in(600), "rate_limited", "Try again after"),
    (
        qualys.ConcurrencyLimited("busy", code=1960, status=409),
        "rate_limited",
        "Try again in a minute",
    ),
    (
        qualys.QualysTimeout("No connection to q.example.test:8443 within 10 seconds."),
        "unreachable",
        "No connection to q.example.test:8443 within 10 seconds.",
    ),
    (
        # Test connection waits 20 seconds at most, whatever the sync's read timeout.
        qualys.ReplyTimeout("q.example.test sent nothing for 20 seconds while answering /api/."),
        "unreachable",
        "took the request but sent no reply within 20 seconds, as long as Test connection waits. "
        "Qualys may be busy: try again later. A sync waits 300 seconds for each reply "
        "(QUALYS_READ_TIMEOUT in the environment).",
    ),
    (
        qualys.QualysUnreachable("Could not connect to q.example.test:8443 for /api/."),
        "unreachable",
        "Could not connect to q.example.test:8443 for /api/.",
    ),
    (
        qualys.TLSFailure("The TLS certificate of q.example.test could not be verified: x."),
        "tls_failure",
        "could not be verified: x.",
    ),
    (qualys.ServerError("503", status=503), "server_error", "server error"),
    (
        qualys.MessageInsteadOfData("Qualys returned a message without an error code"),
        "error",
        "Qualys returned a message without an error code",
    ),
    (
        qualys.UnexpectedResponse("HTML page"),
        "not_qualys",
        "did not answer like a Qualys API server",
    ),
    (
        qualys.MalformedResponse("cut short"),
        "not_qualys",
        "did not answer like a Qualys API server",
    ),
    (qualys.InvalidRequest("bad parameter", code=1905), "error", "The connection test failed"),
]


@pytest.mark.parametrize(
    ("error", "outcome", "words"), ERRORS, ids=[type(e[0]).__name__ for e in ERRORS]
)
def test_each_error_has_its_message(fake_client, error, outcome, words):
    fake_client.error = error
    result = check_connection(SERVER, "lumeta_api", "secret")
    assert result.ok is False
    assert result.outcome == outcome
    assert words in result.message


def test_success_message(fake_client):
    result = check_connection(SERVER, "lumeta_api", "secret")
    assert result.ok is True
    assert result.outcome == "success"
    assert f"Connected to {SERVER} as lumeta_api" in result.message


def test_rate_limit_says_when_to_retry():
    error = retry_in(3 * 60)
    message = describe_error(error, server=SERVER, username="u").message
    assert f"{error.retry_at:%Y-%m-%d %H:%M} UTC" in message
    assert "in about 3 minutes" in message


def test_client_built_without_retries(fake_client, settings):
    settings.QUALYS_CA_BUNDLE = "/etc/ssl/private-ca.pem"
    check_connection(SERVER, "lumeta_api", "secret")
    (client,) = fake_client.instances
    assert client.options["max_retries"] == 0
    assert client.options["max_wait_seconds"] == 0
    assert client.options["ca_bundle"] == "/etc/ssl/private-ca.pem"
    assert (client.base_url, client.username, client.password) == (SERVER, "lumeta_api", "secret")


def test_message_never_contains_password(fake_client):
    for error, _outcome, _words in ERRORS:
        fake_client.error = error
        assert "s3cret-value" not in check_connection(SERVER, "u", "s3cret-value").message


@responses.activate
def test_real_client_tries_bad_login_once():
    responses.get(f"{SERVER}/api/2.0/fo/asset/host/", body=BAD_LOGIN_BODY, status=401)
    result = check_connection(SERVER, "lumeta_api", "wrong")
    assert result.outcome == "bad_credentials"
    assert len(responses.calls) == 1


@responses.activate
def test_real_client_shows_expired_account_sentence():
    # Qualys sends this error with HTTP 200, so only the body shows that the call failed.
    responses.get(f"{SERVER}/api/2.0/fo/asset/host/", body=EXPIRED_BODY, status=200)
    result = check_connection(SERVER, "lumeta_api", "secret")
    assert result.ok is False
    assert result.outcome == "account_unavailable"
    assert "Qualys: This account has expired (code 2001)." in result.message
    assert len(responses.calls) == 1


# Qualys call slots shared with the sync ----------------------------------------


@pytest.fixture
def slots(redis_url, settings):
    settings.REDIS_URL = redis_url
    connection = redis_connection(redis_url)
    connection.delete(SLOTS_KEY)
    yield connection
    connection.delete(SLOTS_KEY)


@responses.activate
def test_check_holds_call_slot(slots):
    guard = QualysCallGuard(limit=2, connection=slots)
    slots_in_use = []

    def reply(request):
        slots_in_use.append(guard.in_flight())
        return 200, {}, HOST_IDS_BODY

    responses.add_callback("GET", HOST_URL, callback=reply)

    result = check_connection(SERVER, "lumeta_api", "secret", call_guard=guard)

    assert result.outcome == "success"
    assert slots_in_use == [1]
    assert guard.in_flight() == 0


@responses.activate
def test_check_waits_then_reports_busy(slots):
    # Two calls of a running sync take both slots for the whole check.
    sync_guard = QualysCallGuard(limit=2, connection=slots)
    waits = []
    guard = QualysCallGuard(
        limit=2, connection=slots, wait_seconds=0.3, poll_seconds=0.1, sleep=waits.append
    )
    responses.get(HOST_URL, body=HOST_IDS_BODY)

    with sync_guard(), sync_guard():
        result = check_connection(SERVER, "lumeta_api", "secret", call_guard=guard)

    assert result.ok is False
    assert result.outcome == "rate_limited"
    assert "Try again in a minute" in result.message
    assert waits
    assert len(responses.calls) == 0


@responses.activate
def test_check_runs_when_redis_is_down():
    guard = QualysCallGuard(limit=2, connection=redis_connection("redis://127.0.0.1:1/0"))
    responses.get(HOST_URL, body=HOST_IDS_BODY)

    result = check_connection(SERVER, "lumeta_api", "secret", call_guard=guard)

    assert result.outcome == "success"
    assert len(responses.calls) == 1


# The view ------------------------------------------------------------------


def editor_client(editor) -> Client:
    client = Client()
    client.force_login(editor)
    return client


def store_settings(**values) -> QualysSettings:
    settings = QualysSettings.load()
    settings.server = SERVER
    settings.username = "lumeta_api"
    settings.password = "stored-secret"
    for name, value in values.items():
        setattr(settings, name, value)
    settings.save()
    return settings


def form(**overrides) -> dict:
    data = {
        "polling_interval": "24",
        "server": "qualysapi.qualys.com",
        "username": "lumeta_api",
        "password": "",
        "host_list_version": "2.0",
        "page_size": "5000",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_view_falls_back_to_stored_password(editor, fake_client):
    store_settings()
    response = editor_client(editor).post(TEST_URL, form())
    assert response.status_code == 200
    (client,) = fake_client.instances
    assert client.password == "stored-secret"
    html = response.content.decode()
    assert 'data-outcome="success"' in html
    assert "stored-secret" not in html


@pytest.mark.django_db
def test_view_keeps_sync_buttons_enabled(editor, fake_client):
    # A saved, enabled integration: testing the connection leaves its buttons usable.
    store_settings(enabled=True)
    response = editor_client(editor).post(TEST_URL, form())
    html = response.content.decode()
    sync_now = html[html.index('id="sync-now"') :].split(">", 1)[0]
    preview = html[html.index('id="sync-preview"') :].split(">", 1)[0]
    assert "disabled" not in sync_now
    assert "disabled" not in preview


@pytest.mark.django_db
def test_view_checks_through_call_slots(editor, fake_client):
    store_settings()
    editor_client(editor).post(TEST_URL, form())
    (client,) = fake_client.instances
    assert client.options["call_guard"] is not None


@pytest.mark.django_db
def test_view_uses_entered_password(editor, fake_client):
    store_settings()
    editor_client(editor).post(TEST_URL, form(password="typed-secret", username="other"))
    (client,) = fake_client.instances
    assert (client.username, client.password) == ("other", "typed-secret")


def kept_password_token(html: str) -> str:
    """Return the value of the form's hidden entered_password field."""
    match = re.search(r'<input type="hidden" name="entered_password" value="([^"]*)"', html)
    assert match, "the form has no entered_password field"
    return match.group(1)


@pytest.mark.django_db
def test_tested_password_is_saved_by_submit(editor, fake_client):
    store_settings()
    client = editor_client(editor)
    tested = client.post(TEST_URL, form(password="new-secret")).content.decode()
    token = kept_password_token(tested)

    saved = client.post(reverse("integrations:qualys"), form(password="", entered_password=token))

    assert saved.status_code == 302
    assert QualysSettings.load().password == "new-secret"
    assert "new-secret" not in tested
    assert "The password you entered is kept, encrypted, for this form" in tested


@pytest.mark.django_db
def test_kept_password_serves_a_second_test(editor, fake_client):
    store_settings()
    client = editor_client(editor)
    token = kept_password_token(client.post(TEST_URL, form(password="new-secret")).content.decode())

    again = client.post(TEST_URL, form(password="", entered_password=token)).content.decode()

    assert [made.password for made in fake_client.instances] == ["new-secret", "new-secret"]
    assert kept_password_token(again) == token


@pytest.mark.django_db
def test_typed_password_wins_over_kept_one(editor, fake_client):
    store_settings()
    client = editor_client(editor)
    token = kept_password_token(client.post(TEST_URL, form(password="first")).content.decode())

    client.post(reverse("integrations:qualys"), form(password="second", entered_password=token))

    assert QualysSettings.load().password == "second"


@pytest.mark.django_db
def test_expired_kept_password_must_be_typed_again(editor, fake_client):
    store_settings()
    entered_at = int(time.time()) - ENTERED_PASSWORD_TTL - 60
    token = credentials_cipher().encrypt_at_time(b"new-secret", entered_at).decode()

    response = editor_client(editor).post(
        reverse("integrations:qualys"), form(entered_password=token)
    )

    assert response.status_code == 200
    assert "The password entered earlier in this form has expired" in response.content.decode()
    assert QualysSettings.load().password == "stored-secret"


@pytest.mark.django_db
def test_view_keeps_stored_password_from_new_server(editor, fake_client):
    store_settings()
    response = editor_client(editor).post(TEST_URL, form(server="qualysapi.qualys.eu"))
    assert fake_client.instances == []
    assert "Enter the password again" in response.content.decode()
    assert "correct the password below first" in response.content.decode()
    assert "The connection was not tested, and nothing was saved." in response.content.decode()
    assert "The settings were not saved." not in response.content.decode()
    # The help text beside the error no longer asks to leave the field blank.
    assert "Leave this blank to keep it" not in response.content.decode()
    assert "The stored password is for the previous server." in response.content.decode()


@pytest.mark.django_db
def test_view_saves_nothing(editor, fake_client):
    store_settings(polling_interval=24)
    editor_client(editor).post(TEST_URL, form(polling_interval="3", password="typed"))
    settings = QualysSettings.load()
    assert settings.polling_interval == 24
    assert settings.password == "stored-secret"


@pytest.mark.django_db
def test_view_reports_missing_fields(editor, fake_client):
    response = editor_client(editor).post(TEST_URL, form(server="", username=""))
    assert fake_client.instances == []
    assert "Cannot test the connection: enter the server, username and password first." in (
        response.content.decode()
    )


@pytest.mark.django_db
def test_view_shows_failure_in_plain_words(editor, fake_client):
    fake_client.error = qualys.AuthenticationFailed("Bad Login/Password", code=2000, status=401)
    response = editor_client(editor).post(TEST_URL, form(password="wrong"))
    html = response.content.decode()
    assert "Connection failed." in html
    assert "rejected the user name or password" in html


@pytest.mark.django_db
def test_view_get_not_allowed(editor):
    assert editor_client(editor).get(TEST_URL).status_code == 405


# Against the emulator over real HTTPS ------------------------------------------


@pytest.fixture
def emulator_form(qualys_emulator, settings, redis_url):
    # The view takes a Qualys call slot in the test Redis.
    settings.REDIS_URL = redis_url

    def start(args=(), trust=True, password=None):
        emulator = qualys_emulator(args=list(args))
        settings.QUALYS_CA_BUNDLE = str(emulator.cert_path) if trust else None
        return emulator, form(
            server=emulator.url,
            username=emulator.username,
            password=emulator.password if password is None else password,
        )

    return start


@pytest.mark.services
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "trust", "password", "outcome"),
    [
        ((), True, None, "success"),
        ((), True, "wrong-password", "bad_credentials"),
        (("--fault", "expired"), True, None, "account_unavailable"),
        (("--fault", "rate_limit:seconds_to_wait=900"), True, None, "rate_limited"),
        ((), False, None, "tls_failure"),
    ],
    ids=["success", "bad-password", "expired", "rate-limited", "untrusted-certificate"],
)
def test_emulator_outcomes(editor, emulator_form, args, trust, password, outcome):
    _emulator, data = emulator_form(args, trust, password)
    response = editor_client(editor).post(TEST_URL, data)
    html = response.content.decode()
    assert f'data-outcome="{outcome}"' in html, html[html.find("connection-result") - 100 :][:1500]


@pytest.mark.django_db
def test_closed_port_is_unreachable(editor):
    response = editor_client(editor).post(
        TEST_URL, form(server=f"127.0.0.1:{free_port()}", password="x")
    )
    assert 'data-outcome="unreachable"' in response.content.decode()
