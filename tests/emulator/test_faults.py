"""Fault injection from the state file, from --fault flags and from the control endpoint."""

import subprocess
import sys

import pytest
import requests
from django.core.management import CommandError, call_command
from lxml import etree

from tests.emulator.helpers import (
    GROUP,
    HOST_LIST,
    IP,
    LIMIT_HEADERS,
    PARSER,
    call,
    error_of,
    host_ids,
    hosts_state,
    next_url,
    parse,
)
from tests.support.services import ROOT, subprocess_env

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def emu(module_emulator):
    return module_emulator({"subscription": {"ips": ["192.0.2.0/24"]}, "hosts": hosts_state(5)})


@pytest.fixture(autouse=True)
def clear_faults(request):
    yield
    if "emu" in request.fixturenames:
        request.getfixturevalue("emu").set_faults([])


def test_bad_credentials_fault_then_recovers(qualys_emulator):
    emu = qualys_emulator(args=["--fault", "bad_credentials:times=1"])

    first = call(emu, IP, action="list")
    second = call(emu, IP, action="list")

    assert first.status_code == 401
    assert error_of(first)[0] == "2000"
    assert second.status_code == 200
    assert emu.read_state()["faults"] == [{"kind": "bad_credentials", "times": 0}]


def test_expired_account_is_http_200_with_code_2001(emu):
    emu.set_faults([{"kind": "expired"}])

    response = call(emu, HOST_LIST, action="list")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml;charset=UTF-8"
    assert error_of(response) == ("2001", "This account has expired.")


def test_registration_incomplete_is_409_code_2003(emu):
    emu.set_faults([{"kind": "registration_incomplete"}])

    response = call(emu, IP, action="list")

    assert response.status_code == 409
    code, text = error_of(response)
    assert code == "2003"
    assert text.startswith("Registration must be completed")


def test_forced_rate_limit_reports_wait(emu):
    emu.set_faults([{"kind": "rate_limit", "seconds_to_wait": 68928, "times": 1}])

    refused = call(emu, IP, action="list")
    after = call(emu, IP, action="list")

    assert refused.status_code == 409
    assert error_of(refused)[0] == "1965"
    assert refused.headers["X-RateLimit-ToWait-Sec"] == "68928"
    assert parse(refused).findtext("RESPONSE/ITEM_LIST/ITEM/VALUE") == "68928"
    assert after.status_code == 200


def test_forced_concurrency_limit(emu):
    emu.set_faults([{"kind": "concurrency_limit", "endpoint": "asset/host"}])

    refused = call(emu, HOST_LIST, action="list")
    other = call(emu, IP, action="list")

    assert refused.status_code == 409
    assert error_of(refused)[0] == "1960"
    assert (
        refused.headers["X-Concurrency-Limit-Running"]
        == refused.headers["X-Concurrency-Limit-Limit"]
    )
    assert other.status_code == 200


def test_server_error_fails_next_n_calls(emu):
    emu.set_faults([{"kind": "server_error", "times": 2}])

    statuses = [call(emu, IP, action="list").status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert emu.status()["faults"] == [{"kind": "server_error", "times": 0}]


def test_html_error_pages(emu):
    for status, title in ((414, "414 Request-URI Too Long"), (502, "502 Bad Gateway")):
        emu.set_faults([{"kind": "html", "status": status, "times": 1}])
        response = call(emu, IP, action="list")
        assert response.status_code == status
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.text.startswith('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">')
        assert f"<title>{title}</title>" in response.text
        assert not any(name in response.headers for name in LIMIT_HEADERS)


def test_over_long_get_url_gets_html_414(emu):
    ips = ",".join([f"192.0.2.{n}" for n in range(1, 255)] * 3)

    too_long = call(emu, IP, action="list", ips=ips)
    as_post = call(emu, IP, method="POST", action="list", ips=ips)

    assert too_long.status_code == 414
    assert "Request-URI Too Long" in too_long.text
    assert as_post.status_code == 200


def test_truncated_body_on_page_two_only(emu):
    emu.set_faults([{"kind": "truncated", "endpoint": "asset/host", "page": 2, "times": 1}])

    page_one = call(emu, HOST_LIST, action="list", truncation_limit="2")
    url = next_url(parse(page_one))
    broken = emu.session().get(url, timeout=30)
    retried = emu.session().get(url, timeout=30)

    assert broken.status_code == 200
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(broken.content, PARSER)
    assert broken.content.startswith(b"<?xml")
    assert host_ids(parse(retried)) == [3, 4]


def test_truncated_with_dropped_connection(emu):
    emu.set_faults([{"kind": "truncated", "drop_connection": True, "times": 1}])

    with pytest.raises(requests.exceptions.RequestException):
        call(emu, HOST_LIST, action="list")
    assert call(emu, HOST_LIST, action="list").status_code == 200


def test_malformed_body(emu):
    emu.set_faults([{"kind": "malformed", "endpoint": "asset/ip", "action": "list"}])

    response = call(emu, IP, action="list")

    assert response.status_code == 200
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(response.content, PARSER)


def test_comments_around_root_and_no_declaration(emu):
    emu.set_faults([{"kind": "comments"}, {"kind": "no_declaration"}])

    response = call(emu, HOST_LIST, action="list")
    root = parse(response)

    assert response.content.startswith(b"<!DOCTYPE HOST_LIST_OUTPUT")
    assert isinstance(root.getprevious(), etree._Comment)
    assert isinstance(root.getnext(), etree._Comment)
    assert host_ids(root) == [1, 2, 3, 4, 5]


def test_fault_targets_one_action(emu):
    emu.set_faults([{"kind": "server_error", "endpoint": "asset/ip", "action": "add"}])

    listed = call(emu, IP, action="list")
    added = call(emu, IP, method="POST", action="add", ips="192.0.2.9", enable_vm="1")
    other = call(emu, GROUP, action="list")

    assert listed.status_code == 200
    assert added.status_code == 503
    assert error_of(added)[0] == "999"
    assert other.status_code == 200
    assert emu.write_log() == []


def test_slow_fault_delays_reply(emu):
    emu.set_faults([{"kind": "slow", "delay": 0.5, "times": 1}])

    with pytest.raises(requests.exceptions.Timeout):
        emu.session().get(f"{emu.url}{IP}", params={"action": "list"}, timeout=0.2)


def test_faults_from_state_file(fresh_emulator):
    emu = fresh_emulator({"faults": [{"kind": "expired", "endpoint": "asset/group"}]})

    assert call(emu, IP, action="list").status_code == 200
    assert error_of(call(emu, GROUP, action="list"))[0] == "2001"


def test_control_endpoint_rejects_bad_fault(emu):
    response = requests.post(
        f"{emu.url}/_emulator/faults",
        data='[{"kind": "meteor"}]',
        verify=str(emu.cert_path),
        timeout=30,
    )

    assert response.status_code == 400
    assert "meteor" in response.json()["error"]


@pytest.mark.parametrize(
    "flag, message",
    [
        ("meteor", "unknown fault kind 'meteor'"),
        ("slow:delay=fast", "delay of a slow fault"),
        ("html:colour=red", "does not take colour"),
        ("truncated:endpoint=asset/scan", "unknown endpoint 'asset/scan'"),
    ],
)
def test_invalid_fault_flag_is_rejected(flag, message):
    with pytest.raises(CommandError) as caught:
        call_command("qualys_emulator", "--insecure-http", "--fault", flag)

    assert message in str(caught.value)
    assert flag in str(caught.value)


def test_invalid_fault_flag_stops_the_command():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "qualys_emulator",
            "--insecure-http",
            "--fault",
            "meteor",
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )

    assert result.returncode != 0
    assert "unknown fault kind 'meteor'" in result.stderr
    assert result.stdout == ""


def test_control_state_reset_rejects_invalid_state(emu):
    response = requests.post(
        f"{emu.url}/_emulator/state",
        data='{"hosts": [{"id": 1, "ip": "nonsense"}]}',
        verify=str(emu.cert_path),
        timeout=30,
    )

    assert response.status_code == 400
    assert "hosts[0]" in response.json()["error"]
    assert host_ids(parse(call(emu, HOST_LIST, action="list"))) == [1, 2, 3, 4, 5]
