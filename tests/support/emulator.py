"""The Qualys API emulator as a real HTTPS server on loopback, for integration tests.

Use the ``qualys_emulator`` factory fixture::

    def test_sync_reads_subscription(qualys_emulator):
        emu = qualys_emulator({"subscription": {"ips": ["192.0.2.0/24"]}})
        response = requests.get(
            f"{emu.url}/api/2.0/fo/asset/ip/",
            params={"action": "list"},
            auth=(emu.username, emu.password),
            headers={"X-Requested-With": "tests"},
            verify=str(emu.cert_path),
        )

``qualys_emulator(state=None, args=())`` writes ``state`` to a temporary
file. ``state`` is a dict in the state-file format of docs/emulator.md, and
missing keys get defaults; without it the state has one user ``apiuser`` /
``a-password`` and a small subscription. The fixture then starts
``manage.py qualys_emulator --port 0`` as a real subprocess with the extra
command-line ``args``, waits for the URL it prints, and returns an
:class:`EmulatorProcess` with:

- ``url``: ``https://127.0.0.1:PORT`` (``http://`` with ``--insecure-http``);
- ``cert_path``: the generated certificate, to pass as ``verify=``;
- ``state_path``; ``read_state()`` (the state file as a dict, as the emulator
  last wrote it) and ``write_log()`` (its ``write_log`` list: every accepted
  write call with its parameters);
- ``username`` and ``password`` (the first user of the state);
- ``session()``: a ``requests.Session`` with auth, ``X-Requested-With`` and
  ``verify`` set, and ``trust_env`` off (otherwise requests lets
  REQUESTS_CA_BUNDLE from the environment override ``session.verify``);
- ``set_faults(list)``: replace the active faults of the running emulator;
  ``reset(state=None)``: replace its whole state, as a restart would but
  without one; ``status()``: running calls, fault counters and sizes;
- ``stop()``: SIGTERM and wait (also done after the test).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.services import ROOT, ManagedProcess, subprocess_env

DEFAULT_USER = "apiuser"
DEFAULT_PASSWORD = "a-password"
DEFAULT_STATE: dict[str, Any] = {
    "users": {DEFAULT_USER: DEFAULT_PASSWORD},
    "subscription": {"ips": ["192.0.2.1", "192.0.2.10-192.0.2.30"], "licence_limit": None},
    "hosts": [
        {
            "id": 101,
            "ip": "192.0.2.1",
            "dns": "web1.example.test",
            "netbios": "WEB1",
            "os": "Linux 5.x",
            "tracking_method": "IP",
            "last_vuln_scan": "2026-11-30T02:00:00Z",
        }
    ],
    "asset_groups": [],
}
URL_PATTERN = re.compile(r"^(https?://(?:127\.0\.0\.1|\[::1\]):\d+)\s*$", re.MULTILINE)


class EmulatorProcess:
    """A running emulator subprocess and the files it uses."""

    def __init__(self, process: ManagedProcess, url: str, workdir: Path, users: dict[str, str]):
        self.process = process
        self.url = url
        self.workdir = workdir
        self.state_path = workdir / "state.json"
        self.cert_path = workdir / "cert.pem"
        self.username, self.password = next(iter(users.items()), ("", ""))

    @property
    def verify(self) -> str | bool:
        return str(self.cert_path) if self.url.startswith("https") else False

    def read_state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def write_log(self) -> list[dict[str, Any]]:
        return self.read_state()["write_log"]

    def session(self) -> requests.Session:
        session = requests.Session()
        # With trust_env on, REQUESTS_CA_BUNDLE from the environment would
        # replace session.verify on every request.
        session.trust_env = False
        session.auth = (self.username, self.password)
        session.headers["X-Requested-With"] = "lumeta-qualys tests"
        session.verify = self.verify
        return session

    def set_faults(self, faults: list[dict[str, Any]]) -> None:
        response = requests.post(
            f"{self.url}/_emulator/faults", data=json.dumps(faults), verify=self.verify, timeout=30
        )
        response.raise_for_status()

    def reset(self, state: dict[str, Any] | None = None) -> None:
        """Replace the running emulator's whole state (limits and sessions start afresh)."""
        data = dict(DEFAULT_STATE if state is None else state)
        response = requests.post(
            f"{self.url}/_emulator/state", data=json.dumps(data), verify=self.verify, timeout=60
        )
        response.raise_for_status()

    def status(self) -> dict[str, Any]:
        response = requests.get(f"{self.url}/_emulator/status", verify=self.verify, timeout=30)
        response.raise_for_status()
        return response.json()

    def output(self) -> str:
        return self.process.output()

    def stop(self) -> None:
        self.process.stop()


def start_emulator(
    start_process, state: dict[str, Any] | None = None, args: list[str] | tuple[str, ...] = ()
) -> EmulatorProcess:
    """Start ``manage.py qualys_emulator`` with ``state`` and wait for its URL."""
    workdir = Path(tempfile.mkdtemp(prefix="qualys-emulator-test-"))
    data = dict(DEFAULT_STATE if state is None else state)
    (workdir / "state.json").write_text(json.dumps(data), encoding="utf-8")
    command = [
        sys.executable,
        str(ROOT / "manage.py"),
        "qualys_emulator",
        "--port",
        "0",
        "--state",
        str(workdir / "state.json"),
        "--cert",
        str(workdir / "cert.pem"),
        *args,
    ]
    process = start_process(command, subprocess_env(), name="qualys-emulator")
    process.wait_for_output("://", timeout=60)
    match = URL_PATTERN.search(process.output())
    if match is None:
        raise AssertionError(f"the emulator printed no URL:\n{process.output()[-4000:]}")
    users = data.get("users") or {DEFAULT_USER: DEFAULT_PASSWORD}
    return EmulatorProcess(process, match.group(1), workdir, users)


@pytest.fixture
def qualys_emulator(start_process):
    """Factory: ``qualys_emulator(state=None, args=())`` starts an emulator subprocess."""

    def start(
        state: dict[str, Any] | None = None, args: list[str] | tuple[str, ...] = ()
    ) -> EmulatorProcess:
        return start_emulator(start_process, state, args)

    return start
