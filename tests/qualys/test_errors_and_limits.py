"""Errors from the body before the status, limits, retries and the call budget."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import requests

from integrations.qualys import (
    AccountUnavailable,
    AuthenticationFailed,
    ConcurrencyLimited,
    GatewayError,
    InvalidRequest,
    MessageInsteadOfData,
    QualysTimeout,
    QualysUnreachable,
    RateLimited,
    RegistrationIncomplete,
    ReplyTimeout,
    ServerError,
    UnexpectedResponse,
    is_transient,
)
from lumeta_qualys.ipset import IPSet

from .conftest import (
    GROUP_URL,
    HOST_URL,
    IP_MAP_URL,
    IP_URL,
    REAL_INPUTS,
    SAMPLES,
    fixture_bytes,
    shared_bytes,
)

LIMIT_HEADERS = {
    "X-RateLimit-Limit": "300",
    "X-RateLimit-Window-Sec": "3600",
    "X-RateLimit-Remaining": "297",
    "X-RateLimit-ToWait-Sec": "0",
    "X-Concurrency-Limit-Limit": "2",
    "X-Concurrency-Limit-Running": "0",
}


def test_expired_account_with_http_200_is_an_error(mocked, client):
    body = shared_bytes(REAL_INPUTS / "simple_return_2001_account_expired.xml")
    mocked.get(IP_URL, body=body, status=200, content_type="text/xml;charset=UTF-8")

    with pytest.raises(AccountUnavailable) as raised:
        client.list_subscription()

    assert raised.value.message.startswith("Qualys: This account has expired (code 2001).")
    assert raised.value.code == 2001
    assert raised.value.status == 200
    assert len(mocked.calls) == 1


def test_error_text_without_full_stop_reads_as_sentences(mocked, client):
    body = (
        b'<?xml version="1.0" encoding="UTF-8" ?><SIMPLE_RETURN><RESPONSE>'
        b"<DATETIME>2026-12-01T00:00:00Z</DATETIME><CODE>2003</CODE>"
        b"<TEXT>Registration must be completed before API requests will be served for this "
        b"account</TEXT></RESPONSE></SIMPLE_RETURN>"
    )
    mocked.get(IP_URL, body=body, status=409, content_type="text/xml;charset=UTF-8")

    with pytest.raises(RegistrationIncomplete) as raised:
        client.list_subscription()

    assert raised.value.message.startswith(
        "Qualys: Registration must be completed before API requests will be served for this "
        "account (code 2003). Log in to the Qualys web interface"
    )


# Each call the product makes, as (HTTP method, URL, call on the client).
CALLS = {
    "subscription list": ("GET", IP_URL, lambda client: client.list_subscription()),
    "host list": ("GET", HOST_URL, lambda client: list(client.iter_scanned_hosts())),
    "credential check": ("GET", HOST_URL, lambda client: client.check_credentials()),
    "subscription add": (
        "POST",
        IP_URL,
        lambda client: client.add_ips(IPSet.from_strings(["192.0.2.1"])),
    ),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_expired_account_body_fails_call(mocked, client, sleeps, call):
    method, url, make_call = CALLS[call]
    body = fixture_bytes("simple_return_2001_expired.xml")
    mocked.add(method, url, body=body, status=200, content_type="text/xml;charset=UTF-8")

    with pytest.raises(AccountUnavailable) as raised:
        make_call(client)

    assert raised.value.message.startswith("Qualys: This account has expired (code 2001). ")
    assert raised.value.code == 2001
    assert raised.value.status == 200
    assert not is_transient(raised.value)
    assert len(mocked.calls) == 1
    assert sleeps == []


# Every call that reads data, as (HTTP method, URL, call on the client).
LIST_CALLS = {
    "subscription list": CALLS["subscription list"],
    "host list": CALLS["host list"],
    "credential check": CALLS["credential check"],
    "host IDs": ("GET", HOST_URL, lambda client: list(client.iter_host_ids())),
    "IPv6 mappings": ("GET", IP_MAP_URL, lambda client: client.list_ipv6_mappings()),
    "asset groups": ("GET", GROUP_URL, lambda client: client.list_asset_groups()),
    "asset group IDs": ("GET", GROUP_URL, lambda client: client.find_asset_group_ids("Lumeta")),
    "asset group IPs": ("GET", GROUP_URL, lambda client: client.asset_group_ips(7)),
}


@pytest.mark.parametrize("call", list(LIST_CALLS))
def test_message_without_code_fails_list_call(mocked, client, sleeps, call):
    method, url, make_call = LIST_CALLS[call]
    body = (
        b'<?xml version="1.0" encoding="UTF-8" ?><SIMPLE_RETURN><RESPONSE>'
        b"<DATETIME>2026-12-01T00:00:00Z</DATETIME><TEXT>Service temporarily unavailable</TEXT>"
        b"</RESPONSE></SIMPLE_RETURN>"
    )
    mocked.add(method, url, body=body, status=200, content_type="text/xml;charset=UTF-8")

    with pytest.raises(MessageInsteadOfData) as raised:
        make_call(client)

    assert "message without an error code" in raised.value.message
    assert '(HTTP 200): "Service temporarily unavailable". No data was read' in raised.value.message
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("call", list(CALLS))
def test_invalid_credentials_body_fails_call(mocked, client, sleeps, call):
    method, url, make_call = CALLS[call]
    body = fixture_bytes("service_response_invalid_credentials.xml")
    mocked.add(method, url, body=body, status=200, content_type="application/xml")

    with pytest.raises(AuthenticationFailed) as raised:
        make_call(client)

    assert raised.value.message.startswith(
        "Qualys rejected the user name or password (INVALID_CREDENTIALS: Authentication failed)."
    )
    assert raised.value.status == 200
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_bad_login_is_permanent(mocked, client, sleeps):
    body = shared_bytes(SAMPLES / "simple_return_error_2000_bad_login_http401.sample.xml")
    mocked.get(IP_URL, body=body, status=401, content_type="text/xml;charset=UTF-8")

    with pytest.raises(AuthenticationFailed) as raised:
        client.list_subscription()

    assert str(raised.value) == (
        "Qualys rejected the user name or password (code 2000). Qualys gives the same reply "
        "to a user without API access and to credentials used on the wrong platform: check "
        "the user, its API access and the server."
    )
    assert raised.value.status == 401
    assert not is_transient(raised.value)
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_password_is_never_logged(mocked, client, caplog):
    body = shared_bytes(SAMPLES / "simple_return_error_2000_bad_login_http401.sample.xml")
    mocked.get(IP_URL, body=body, status=401)

    with caplog.at_level("DEBUG"), pytest.raises(AuthenticationFailed):
        client.list_subscription()

    assert "s3cret-pass" not in caplog.text
    assert "Bad Login/Password" not in caplog.text


def test_plain_401_without_body_code(mocked, client):
    mocked.get(IP_URL, body=b"", status=401)

    with pytest.raises(AuthenticationFailed, match=r"\(HTTP 401\)"):
        client.list_subscription()


def test_service_response_invalid_credentials_with_http_200(mocked, client):
    body = shared_bytes(REAL_INPUTS / "service_response_invalid_credentials.xml")
    mocked.get(IP_URL, body=body, status=200)

    with pytest.raises(AuthenticationFailed, match="INVALID_CREDENTIALS"):
        client.list_subscription()


def test_service_response_invalid_request_with_http_200(mocked, client):
    body = shared_bytes(REAL_INPUTS / "service_response_invalid_request_http200.xml")
    mocked.get(IP_URL, body=body, status=200)

    with pytest.raises(UnexpectedResponse) as raised:
        client.list_subscription()

    assert "INVALID_REQUEST" in raised.value.message
    assert "Specify criteria value(s) as Long." in raised.value.message


def test_long_rate_limit_wait_raises_with_retry_time(mocked, make_client, sleeps):
    client = make_client(max_wait_seconds=300)
    body = shared_bytes(REAL_INPUTS / "simple_return_1965_rate_limit_409_body.xml")
    mocked.get(IP_URL, body=body, status=409, headers={"X-RateLimit-ToWait-Sec": "68928"})
    before = datetime.now(UTC)

    with pytest.raises(RateLimited) as raised:
        client.list_subscription()

    error = raised.value
    assert error.retry_after == 68928
    assert before + timedelta(seconds=68927) <= error.retry_at
    assert error.retry_at <= datetime.now(UTC) + timedelta(seconds=68928)
    assert error.retry_at.tzinfo is not None
    assert f"{error.retry_at:%Y-%m-%d %H:%M:%S} UTC" in error.message
    assert "68928 seconds" in error.message
    # The sentence's 23 h 57 min 54 s disagrees with the number and is not used.
    assert "86274" not in error.message
    assert "23 hours" not in error.message
    assert not is_transient(error)
    assert sleeps == []
    assert len(mocked.calls) == 1


def test_rate_limit_wait_from_item_when_header_missing(mocked, make_client, sleeps):
    client = make_client(max_wait_seconds=60)
    mocked.get(
        IP_URL,
        body=shared_bytes(SAMPLES / "simple_return_error_1965_rate_limit.fixture.xml"),
        status=409,
    )

    with pytest.raises(RateLimited) as raised:
        client.list_subscription()

    assert raised.value.retry_after == 68928


@pytest.mark.parametrize(
    "headers",
    [{"X-RateLimit-ToWait-Sec": "68928"}, {}],
    ids=["header and item", "item only"],
)
def test_long_rate_limit_fails_without_sleeping(mocked, make_client, sleeps, headers):
    client = make_client(max_wait_seconds=300)
    body = fixture_bytes("simple_return_1965_long_wait.xml")
    mocked.get(IP_URL, body=body, status=409, headers=headers)
    before = datetime.now(UTC).replace(microsecond=0)

    with pytest.raises(RateLimited) as raised:
        client.list_subscription()

    error = raised.value
    assert error.retry_after == 68928
    assert before + timedelta(seconds=68928) <= error.retry_at
    assert error.retry_at <= datetime.now(UTC) + timedelta(seconds=68928)
    assert "the next call is allowed in 68928 seconds" in error.message
    # The TEXT gives 23 h 57 min 54 s (86274 s), which disagrees with the item.
    assert "86274" not in error.message
    assert "23 hours" not in error.message
    assert not is_transient(error)
    assert sleeps == []
    assert len(mocked.calls) == 1


def test_rate_wait_ignores_text_sentence(mocked, make_client, sleeps):
    client = make_client(max_wait_seconds=300)
    body = fixture_bytes("simple_return_1965_long_wait.xml").replace(b"<ITEM_LIST>", b"<!--")
    body = body.replace(b"</ITEM_LIST>", b"-->")
    mocked.get(IP_URL, body=body, status=409)

    with pytest.raises(RateLimited) as raised:
        client.list_subscription()

    # Without the header and the item, the wait is the fixed fallback of one hour.
    assert raised.value.retry_after == 3600
    assert sleeps == []


def test_short_rate_limit_wait_is_slept_then_retried(mocked, client, sleeps):
    mocked.get(IP_URL, body=fixture_bytes("simple_return_1965_short_wait.xml"), status=409)
    mocked.get(IP_URL, body=fixture_bytes("ip_list_one_ip.xml"), headers=LIMIT_HEADERS)

    result = client.list_subscription()

    assert result.ips.size == 1
    assert sleeps == [30.0]
    assert len(mocked.calls) == 2


def test_header_wait_wins_when_larger_than_item(mocked, client, sleeps):
    mocked.get(
        IP_URL,
        body=fixture_bytes("simple_return_1965_short_wait.xml"),
        status=409,
        headers={"X-RateLimit-ToWait-Sec": "45"},
    )
    mocked.get(IP_URL, body=fixture_bytes("ip_list_one_ip.xml"))

    client.list_subscription()

    assert sleeps == [45.0]


def test_short_rate_limit_retries_are_bounded(mocked, make_client, sleeps):
    client = make_client(max_retries=2)
    for _ in range(3):
        mocked.get(IP_URL, body=fixture_bytes("simple_return_1965_short_wait.xml"), status=409)

    with pytest.raises(RateLimited) as raised:
        client.list_subscription()

    assert is_transient(raised.value)
    assert sleeps == [30.0, 30.0]
    assert len(mocked.calls) == 3


def test_concurrency_limit_retries_with_backoff(mocked, client, sleeps):
    headers = {
        "X-RateLimit-Limit": "0",
        "X-Concurrency-Limit-Limit": "2",
        "X-Concurrency-Limit-Running": "2",
    }
    body = shared_bytes(SAMPLES / "simple_return_error_1960_concurrency_limit.fixture.xml")
    mocked.get(IP_URL, body=body, status=409, headers=headers)
    mocked.get(
        IP_URL,
        body=fixture_bytes("simple_return_1960_no_declaration.xml"),
        status=409,
        headers=headers,
    )
    mocked.get(IP_URL, body=fixture_bytes("ip_list_one_ip.xml"), headers=LIMIT_HEADERS)

    client.list_subscription()

    assert sleeps == [2.0, 4.0]
    assert client.budget.calls == 3


def test_concurrency_limit_gives_up_after_max_retries(mocked, make_client, sleeps):
    client = make_client(max_retries=1)
    headers = {
        "X-RateLimit-Limit": "0",
        "X-Concurrency-Limit-Limit": "2",
        "X-Concurrency-Limit-Running": "2",
    }
    body = shared_bytes(SAMPLES / "simple_return_error_1960_concurrency_limit.fixture.xml")
    mocked.get(IP_URL, body=body, status=409, headers=headers)
    mocked.get(IP_URL, body=body, status=409, headers=headers)

    with pytest.raises(ConcurrencyLimited) as raised:
        client.list_subscription()

    assert raised.value.code == 1960
    assert "limit 2 at a time" in raised.value.message
    assert client.budget.rate_limit is None
    assert client.budget.concurrency_limit == 2
    assert client.budget.concurrency_running == 2
    assert sleeps == [2.0]


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("30", 30), ("Sat, 05 Dec 2026 12:00:30 GMT", 30), ("soon", None)],
    ids=["seconds", "HTTP date", "unreadable"],
)
def test_proxy_rate_limit_waits_for_retry_after(mocked, make_client, sleeps, retry_after, expected):
    client = make_client(max_wait_seconds=300)
    client._transport.clock = lambda: datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
    headers = {"Retry-After": retry_after}
    mocked.get(IP_URL, body=b"<html><body>Too many<br></body></html>", status=429, headers=headers)
    if expected is not None:
        mocked.get(IP_URL, body=fixture_bytes("ip_list_one_ip.xml"), headers=LIMIT_HEADERS)

    if expected is None:
        # No wait to read: the hour of the fallback is longer than a sync sleeps.
        with pytest.raises(RateLimited) as raised:
            client.list_subscription()
        assert raised.value.retry_after == 3600
        assert sleeps == []
    else:
        client.list_subscription()
        assert sleeps == [float(expected)]


CONCURRENCY_HEADERS = {
    "X-RateLimit-Limit": "0",
    "X-Concurrency-Limit-Limit": "2",
    "X-Concurrency-Limit-Running": "2",
}


@pytest.mark.parametrize(
    "body",
    [b"", b"<html><body>Conflict<br></body></html>", b"<html><body>Conflict</body></html>"],
    ids=["empty", "HTML, not well-formed", "HTML, well-formed"],
)
def test_concurrency_limit_without_xml_body_is_retried(mocked, client, sleeps, body):
    mocked.get(IP_URL, body=body, status=409, headers=CONCURRENCY_HEADERS)
    mocked.get(IP_URL, body=fixture_bytes("ip_list_one_ip.xml"), headers=LIMIT_HEADERS)

    client.list_subscription()

    assert sleeps == [2.0]
    assert client.budget.calls == 2


def test_concurrency_limit_without_body_names_limit(mocked, make_client, sleeps):
    client = make_client(max_retries=0)
    mocked.get(IP_URL, body=b"", status=409, headers=CONCURRENCY_HEADERS)

    with pytest.raises(ConcurrencyLimited) as raised:
        client.list_subscription()

    assert raised.value.code is None
    assert raised.value.status == 409
    assert "(conflict with other running calls (limit 2 at a time))" in raised.value.message
    assert is_transient(raised.value)


@pytest.mark.parametrize("status", [409, 429])
@pytest.mark.parametrize("body", [b"", b"<html><body>Too many<br></body></html>"])
def test_rate_limit_without_xml_body_keeps_wait(mocked, make_client, sleeps, status, body):
    client = make_client(max_wait_seconds=300)
    mocked.get(IP_URL, body=body, status=status, headers={"X-RateLimit-ToWait-Sec": "68928"})

    with pytest.raises(RateLimited) as raised:
        client.list_subscription()

    error = raised.value
    assert error.retry_after == 68928
    assert error.code is None
    assert error.message.startswith(
        f"Rate limit reached for /api/2.0/fo/asset/ip/ (HTTP {status}, from Qualys or a proxy): "
        "the next call is allowed in 68928 seconds"
    )
    assert not is_transient(error)
    assert sleeps == []
    assert len(mocked.calls) == 1


def test_concurrency_limit_with_zero_rate_limit(mocked, make_client, sleeps, caplog):
    client = make_client(max_retries=2)
    headers = {
        "X-RateLimit-Limit": "0",
        "X-Concurrency-Limit-Limit": "2",
        "X-Concurrency-Limit-Running": "2",
    }
    body = fixture_bytes("simple_return_1960_no_declaration.xml")
    for _ in range(3):
        mocked.get(HOST_URL, body=body, status=409, headers=headers)

    with caplog.at_level("WARNING"), pytest.raises(ConcurrencyLimited) as raised:
        list(client.iter_scanned_hosts())

    error = raised.value
    assert error.code == 1960
    assert error.status == 409
    assert error.message.startswith(
        "Qualys: This API cannot be run again until 2 currently running instances have "
        "finished (code 1960)."
    )
    assert "limit 2 at a time" in error.message
    assert is_transient(error)
    # A rate limit of "0" comes with a concurrency limit and is no real rate figure.
    assert client.budget.rate_limit is None
    assert client.budget.concurrency_limit == 2
    assert client.budget.concurrency_running == 2
    assert sleeps == [2.0, 4.0]
    assert len(mocked.calls) == 3
    assert "currently running instances have finished" in caplog.text


def test_registration_incomplete_is_permanent(mocked, client, sleeps):
    body = shared_bytes(SAMPLES / "simple_return_error_2003_registration_incomplete.fixture.xml")
    mocked.get(IP_URL, body=body, status=409)

    with pytest.raises(RegistrationIncomplete, match="complete the registration") as raised:
        client.list_subscription()

    assert raised.value.code == 2003
    assert sleeps == []
    assert len(mocked.calls) == 1


def test_inactive_account_is_permanent(mocked, client):
    mocked.get(IP_URL, body=fixture_bytes("simple_return_2002_inactive.xml"), status=200)

    with pytest.raises(
        AccountUnavailable, match=r"Qualys: User account is inactive \(code 2002\)\."
    ):
        client.list_subscription()


def test_invalid_parameter_with_http_400_and_no_declaration(mocked, client, sleeps):
    body = shared_bytes(SAMPLES / "simple_return_error_1905_invalid_value_http400.sample.xml")
    mocked.get(IP_URL, body=body, status=400)

    with pytest.raises(InvalidRequest) as raised:
        client.list_subscription()

    assert raised.value.code == 1905
    assert "parameter ids has invalid value: abc123" in raised.value.message
    assert sleeps == []


def test_server_errors_retry_with_capped_backoff(mocked, make_client, sleeps):
    client = make_client(max_retries=6)
    for _ in range(6):
        mocked.get(IP_URL, body=b"", status=503)
    mocked.get(IP_URL, body=fixture_bytes("ip_list_one_ip.xml"))

    client.list_subscription()

    assert sleeps == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0]


def test_internal_error_code_is_a_server_error(mocked, make_client):
    client = make_client(max_retries=0)
    mocked.get(IP_URL, body=fixture_bytes("simple_return_999_internal.xml"), status=500)

    with pytest.raises(ServerError, match=r"code 999"):
        client.list_subscription()


def test_gateway_html_page_is_retried_then_named(mocked, make_client, sleeps):
    client = make_client(max_retries=1)
    for _ in range(2):
        mocked.get(
            IP_URL, body=fixture_bytes("html_502.html"), status=502, content_type="text/html"
        )

    with pytest.raises(GatewayError) as raised:
        client.list_subscription()

    assert isinstance(raised.value, UnexpectedResponse)
    assert isinstance(raised.value, ServerError)
    assert "Qualys returned HTTP 502 (HTML page)" in raised.value.message
    assert sleeps == [2.0]


def test_html_414_page_is_not_retried(mocked, client, sleeps):
    mocked.get(IP_URL, body=fixture_bytes("html_414.html"), status=414, content_type="text/html")

    with pytest.raises(UnexpectedResponse) as raised:
        client.list_subscription()

    assert raised.value.message == (
        "Qualys returned HTTP 414 (HTML page) for /api/2.0/fo/asset/ip/ instead of an XML reply. "
        "The request address was too long; this client sends long values as form bodies, so "
        "report this as a bug."
    )
    assert raised.value.status == 414
    assert sleeps == []


def test_html_page_with_http_200_is_unexpected(mocked, client):
    mocked.get(IP_URL, body=b"<html><body>Maintenance</body></html>", status=200)

    with pytest.raises(UnexpectedResponse, match="instead of <IP_LIST_OUTPUT>"):
        client.list_subscription()


def test_empty_body_with_http_200_is_unexpected(mocked, client):
    mocked.get(IP_URL, body=b"", status=200)

    with pytest.raises(UnexpectedResponse, match=r"HTTP 200 \(not XML\)"):
        client.list_subscription()


def test_timeouts_and_connection_errors_are_retried(mocked, client, sleeps):
    mocked.get(IP_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    mocked.get(IP_URL, body=requests.exceptions.ConnectionError("connection refused"))
    mocked.get(IP_URL, body=fixture_bytes("ip_list_one_ip.xml"))

    assert client.list_subscription().ips.size == 1
    assert sleeps == [2.0, 4.0]
    # The refused connection never reached Qualys; the timed-out call did.
    assert client.budget.calls == 2


def test_timeout_after_retries_names_the_timeout(mocked, make_client):
    client = make_client(max_retries=0, read_timeout=12)
    mocked.get(IP_URL, body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(ReplyTimeout, match="sent nothing for 12 seconds") as raised:
        client.list_subscription()

    assert raised.value.message.endswith(
        "raise the read timeout, QUALYS_READ_TIMEOUT in the environment."
    )
    assert isinstance(raised.value, QualysTimeout)


def test_connection_refused_after_retries(mocked, make_client):
    client = make_client(max_retries=0)
    mocked.get(IP_URL, body=requests.exceptions.ConnectionError("refused"))

    with pytest.raises(QualysUnreachable, match="Could not connect to qualysapi.example.test"):
        client.list_subscription()


def test_budget_records_limit_headers(mocked, client):
    mocked.get(
        HOST_URL, body=shared_bytes(REAL_INPUTS / "host_list_ids_empty.xml"), headers=LIMIT_HEADERS
    )

    client.check_credentials()

    budget = client.budget
    assert budget.calls == 1
    assert budget.rate_limit == 300
    assert budget.rate_remaining == 297
    assert budget.rate_window_seconds == 3600
    assert budget.rate_to_wait_seconds == 0
    assert budget.concurrency_limit == 2
    assert budget.concurrency_running == 0
    assert budget.updated_at is not None


def test_budget_treats_zero_rate_limit_as_unknown(mocked, client):
    headers = {**LIMIT_HEADERS, "X-RateLimit-Limit": "0"}
    mocked.get(
        HOST_URL, body=shared_bytes(REAL_INPUTS / "host_list_ids_empty.xml"), headers=headers
    )

    client.check_credentials()

    assert client.budget.rate_limit is None
    assert client.budget.concurrency_limit == 2


def test_budget_keeps_each_api_apart(mocked, client):
    # Qualys counts calls per API: the last reply's figure may hide the API
    # that runs out first, such as the host list after many pages.
    def limits(remaining: int) -> dict[str, str]:
        return {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": str(remaining)}

    mocked.get(IP_URL, body=fixture_bytes("ip_list_one_ip.xml"), headers=limits(40))
    mocked.get(GROUP_URL, body=fixture_bytes("asset_group_list_lumeta.xml"), headers=limits(290))

    client.list_subscription()
    client.list_asset_groups()

    assert client.budget.rate_remaining == 290
    assert client.budget.lowest() == ("/api/2.0/fo/asset/ip/", 40, 300)


def test_budget_keeps_last_values_when_headers_absent(mocked, client):
    mocked.get(
        HOST_URL, body=shared_bytes(REAL_INPUTS / "host_list_ids_empty.xml"), headers=LIMIT_HEADERS
    )
    mocked.get(
        HOST_URL,
        body=shared_bytes(SAMPLES / "simple_return_error_2000_bad_login_http401.sample.xml"),
        status=401,
    )

    client.check_credentials()
    with pytest.raises(AuthenticationFailed):
        client.check_credentials()

    assert client.budget.calls == 2
    assert client.budget.rate_remaining == 297


def test_call_guard_wraps_every_http_call(mocked, make_client):
    events = []

    @contextmanager
    def guard():
        events.append("enter")
        try:
            yield
        finally:
            events.append("exit")

    client = make_client(call_guard=guard)
    mocked.get(HOST_URL, body=fixture_bytes("host_list_page1.xml"))
    mocked.get(HOST_URL, body=fixture_bytes("host_list_page3_last.xml"))

    hosts = client.iter_scanned_hosts(page_size=2)
    next(hosts)
    assert events == ["enter"]
    list(hosts)

    assert events == ["enter", "exit", "enter", "exit"]


def test_check_credentials_never_retries(mocked, client, sleeps):
    mocked.get(HOST_URL, body=fixture_bytes("simple_return_1965_short_wait.xml"), status=409)

    with pytest.raises(RateLimited):
        client.check_credentials()

    assert sleeps == []
    assert len(mocked.calls) == 1
