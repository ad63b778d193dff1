"""The emulator command: printed URL, certificate, HTTPS only, clean stop."""

import ipaddress
import json
import signal
import socket
import subprocess
import sys

import pytest
import requests
from cryptography import x509

from tests.emulator.helpers import IP, call, parse
from tests.support.services import ROOT, subprocess_env

pytestmark = pytest.mark.services


def test_port_zero_prints_https_url_on_loopback(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "qualys_emulator",
            "--port",
            "0",
            "--cert",
            str(tmp_path / "cert.pem"),
            "--quiet",
        ],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        first_line = process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=15)

    assert first_line.startswith("https://127.0.0.1:")
    assert int(first_line.rsplit(":", 1)[1]) > 0


def test_certificate_is_self_signed_for_loopback_names(shared_server):
    emu = shared_server
    certificate = x509.load_pem_x509_certificate(emu.cert_path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value

    assert certificate.issuer == certificate.subject
    assert ipaddress.IPv4Address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert emu.cert_path.with_name("cert.pem.key").stat().st_mode & 0o077 == 0


def test_generated_certificate_is_the_trusted_one(shared_server, qualys_emulator):
    emu = shared_server
    url = f"{emu.url}{IP}"
    headers = {"X-Requested-With": "tests"}
    auth = (emu.username, emu.password)

    trusted = requests.get(
        url,
        params={"action": "list"},
        auth=auth,
        headers=headers,
        verify=str(emu.cert_path),
        timeout=30,
    )
    assert trusted.status_code == 200
    # The system bundle (REQUESTS_CA_BUNDLE here) does not know this certificate.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(
            url, params={"action": "list"}, auth=auth, headers=headers, verify=True, timeout=30
        )
    # Nor does another emulator's certificate.
    other = qualys_emulator()
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(
            url,
            params={"action": "list"},
            auth=auth,
            headers=headers,
            verify=str(other.cert_path),
            timeout=30,
        )


def test_localhost_name_matches_certificate(shared_server):
    emu = shared_server
    url = emu.url.replace("127.0.0.1", "localhost") + IP

    response = requests.get(
        url,
        params={"action": "list"},
        auth=(emu.username, emu.password),
        headers={"X-Requested-With": "tests"},
        verify=str(emu.cert_path),
        timeout=30,
    )

    assert response.status_code == 200


def test_plain_http_is_refused_on_https_port(shared_server):
    emu = shared_server
    plain = emu.url.replace("https://", "http://") + IP

    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(
            plain,
            params={"action": "list"},
            auth=(emu.username, emu.password),
            headers={"X-Requested-With": "tests"},
            timeout=30,
        )
    # The server still serves HTTPS afterwards.
    assert call(emu, IP, action="list").status_code == 200


def test_insecure_http_flag_serves_plain_http(qualys_emulator):
    emu = qualys_emulator(args=["--insecure-http"])

    assert emu.url.startswith("http://127.0.0.1:")
    response = call(emu, IP, action="list")
    assert response.status_code == 200
    assert parse(response).tag == "IP_LIST_OUTPUT"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(qualys_emulator, signum):
    emu = qualys_emulator()
    assert call(emu, IP, action="list").status_code == 200

    emu.process.process.send_signal(signum)
    code = emu.process.process.wait(timeout=15)

    assert code == 0
    assert "Qualys API emulator stopped." in emu.output()
    assert "Traceback" not in emu.output()


def test_invalid_state_file_fails_with_file_and_value(tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"hosts": [{"id": 1, "ip": "192.0.2.300"}]}))

    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "qualys_emulator",
            "--state",
            str(state),
            "--insecure-http",
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )

    assert result.returncode != 0
    assert str(state) in result.stderr
    assert "hosts[0]" in result.stderr
    assert "192.0.2.300" in result.stderr


def test_state_file_gets_defaults_written_back(qualys_emulator):
    emu = qualys_emulator({"users": {"someone": "secret"}})

    state = emu.read_state()

    assert state["users"] == {"someone": "secret"}
    assert state["limits"] == {"calls_per_window": 300, "window_seconds": 3600, "concurrency": 2}
    assert state["write_log"] == []
    assert state["subscription"] == {"ips": [], "licence_limit": None}


def test_ipv6_loopback_bind(qualys_emulator):
    emu = qualys_emulator(args=["--bind", "::1"])

    assert emu.url.startswith("https://[::1]:")
    assert call(emu, IP, action="list").status_code == 200


def test_runs_without_a_database(tmp_path, start_process):
    # Nothing listens on port 1, so any database query would fail.
    env = subprocess_env(DATABASE_URL="postgres://nobody@127.0.0.1:1/absent")
    process = start_process(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "qualys_emulator",
            "--port",
            "0",
            "--cert",
            str(tmp_path / "cert.pem"),
            "--state",
            str(tmp_path / "state.json"),
        ],
        env,
        name="qualys-emulator-no-db",
    )
    process.wait_for_output("https://127.0.0.1:")
    url = next(line for line in process.output().splitlines() if line.startswith("https://"))

    response = requests.get(
        f"{url}{IP}",
        params={"action": "list"},
        auth=("apiuser", "a-password"),
        headers={"X-Requested-With": "t"},
        verify=str(tmp_path / "cert.pem"),
        timeout=30,
    )

    assert response.status_code == 200
    assert parse(response).tag == "IP_LIST_OUTPUT"


def test_stalled_connection_does_not_block_others(shared_server):
    emu = shared_server
    port = int(emu.url.rsplit(":", 1)[1])

    # A client that connects but never starts the TLS handshake.
    with socket.create_connection(("127.0.0.1", port), timeout=30):
        response = call(emu, IP, action="list")

    assert response.status_code == 200
