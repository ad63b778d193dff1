"""Limit headers, per-endpoint rate window (1965) and concurrency (1960), concurrency first."""

import threading
import time

import pytest

from tests.emulator.helpers import GROUP, HOST_LIST, IP, LIMIT_HEADERS, call, error_of, parse

pytestmark = pytest.mark.services


def wait_until_running(emu, endpoint: str, count: int) -> None:
    """Poll the emulator's status until ``count`` calls of ``endpoint`` are running."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if emu.status()["running"].get(endpoint, 0) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{endpoint} never had {count} running calls: {emu.status()}")


def start_in_thread(emu, path, **params):
    result = {}

    def run():
        result["response"] = call(emu, path, **params)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_headers_on_success_and_error_but_not_on_401(fresh_emulator):
    emu = fresh_emulator()

    ok = call(emu, IP, action="list")
    bad_value = call(emu, IP, action="list", ips="nonsense")
    bad_login = emu.session()
    bad_login.auth = (emu.username, "wrong")
    unauthorised = call(emu, IP, session=bad_login, action="list")

    for response in (ok, bad_value):
        assert all(name in response.headers for name in LIMIT_HEADERS), response.headers
    assert ok.headers["X-RateLimit-Limit"] == "300"
    assert ok.headers["X-RateLimit-Window-Sec"] == "3600"
    assert ok.headers["X-RateLimit-Remaining"] == "299"
    assert bad_value.headers["X-RateLimit-Remaining"] == "298"
    assert ok.headers["X-RateLimit-ToWait-Sec"] == "0"
    assert ok.headers["X-Concurrency-Limit-Limit"] == "2"
    assert ok.headers["X-Concurrency-Limit-Running"] == "1"
    assert unauthorised.status_code == 401
    assert not any(name in unauthorised.headers for name in LIMIT_HEADERS)


def test_rate_limit_gives_409_1965_per_endpoint(fresh_emulator):
    emu = fresh_emulator({"limits": {"calls_per_window": 3, "window_seconds": 600}})

    statuses = [call(emu, IP, action="list").status_code for _ in range(3)]
    refused = call(emu, IP, action="list")
    other_endpoint = call(emu, GROUP, action="list")

    assert statuses == [200, 200, 200]
    assert refused.status_code == 409
    code, text = error_of(refused)
    assert code == "1965"
    root = parse(refused)
    assert root.findtext("RESPONSE/ITEM_LIST/ITEM/KEY") == "SECONDS_TO_WAIT"
    wait = int(root.findtext("RESPONSE/ITEM_LIST/ITEM/VALUE"))
    assert 590 < wait <= 600
    minutes, seconds = divmod(wait, 60)
    assert text == (
        f"This API cannot be run again for another 0 hours, {minutes} minutes "
        f"and {seconds} seconds."
    )
    assert int(refused.headers["X-RateLimit-ToWait-Sec"]) == wait
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert other_endpoint.status_code == 200


def test_limit_flags_and_per_endpoint_override(qualys_emulator):
    emu = qualys_emulator(
        {"limits": {"per_endpoint": {"asset/group": {"calls_per_window": 1}}}},
        args=["--calls-per-window", "50", "--concurrency", "5"],
    )

    ip = call(emu, IP, action="list")
    first = call(emu, GROUP, action="list")
    second = call(emu, GROUP, action="list")

    assert ip.headers["X-RateLimit-Limit"] == "50"
    assert ip.headers["X-Concurrency-Limit-Limit"] == "5"
    assert first.headers["X-RateLimit-Limit"] == "1"
    assert second.status_code == 409
    assert error_of(second)[0] == "1965"


def test_concurrency_limit_gives_409_1960(fresh_emulator):
    emu = fresh_emulator({"limits": {"concurrency": 1}})
    emu.set_faults([{"kind": "slow", "endpoint": "asset/host", "delay": 1.5, "times": 1}])

    thread, first = start_in_thread(emu, HOST_LIST, action="list")
    wait_until_running(emu, "asset/host", 1)
    refused = call(emu, HOST_LIST, action="list")
    other_endpoint = call(emu, IP, action="list")
    thread.join()
    after = call(emu, HOST_LIST, action="list")

    assert refused.status_code == 409
    code, text = error_of(refused)
    assert code == "1960"
    assert "currently running" in text
    assert parse(refused).findtext("RESPONSE/ITEM_LIST/ITEM/KEY") == "CALLS_TO_FINISH"
    assert refused.headers["X-Concurrency-Limit-Running"] == "1"
    assert other_endpoint.status_code == 200
    assert first["response"].status_code == 200
    assert after.status_code == 200


def test_concurrency_is_checked_before_rate(fresh_emulator):
    emu = fresh_emulator({"limits": {"concurrency": 1, "calls_per_window": 1}})
    emu.set_faults([{"kind": "slow", "endpoint": "asset/host", "delay": 1.5, "times": 1}])

    thread, _ = start_in_thread(emu, HOST_LIST, action="list")
    wait_until_running(emu, "asset/host", 1)
    both_exceeded = call(emu, HOST_LIST, action="list")
    thread.join()
    rate_only = call(emu, HOST_LIST, action="list")

    assert error_of(both_exceeded)[0] == "1960"
    assert error_of(rate_only)[0] == "1965"


def test_refused_calls_do_not_use_the_window(fresh_emulator):
    emu = fresh_emulator({"limits": {"calls_per_window": 2}})
    emu.set_faults([{"kind": "concurrency_limit", "endpoint": "asset/ip", "times": 3}])

    refused = [call(emu, IP, action="list").status_code for _ in range(3)]
    accepted = call(emu, IP, action="list")

    assert refused == [409, 409, 409]
    assert accepted.status_code == 200
    assert accepted.headers["X-RateLimit-Remaining"] == "1"
