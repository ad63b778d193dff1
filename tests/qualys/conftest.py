"""Fixtures for the Qualys client tests: a mocked HTTP boundary and request checks."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integrations.qualys import QualysClient

BASE_URL = "https://qualysapi.example.test"
USERNAME = "apiuser"
PASSWORD = "s3cret-pass"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "qualys"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SAMPLES = SHARED / "qualys-samples"
REAL_INPUTS = SHARED / "real-inputs" / "qualys"

IP_URL = BASE_URL + "/api/2.0/fo/asset/ip/"
IP_MAP_URL = BASE_URL + "/api/2.0/fo/asset/ip/v4_v6/"
GROUP_URL = BASE_URL + "/api/2.0/fo/asset/group/"
HOST_URL = BASE_URL + "/api/2.0/fo/asset/host/"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def shared_bytes(path: Path) -> bytes:
    """Read a file from the shared sample folders, skipping the test when it is absent."""
    if not path.is_file():
        pytest.skip(f"shared sample {path.name} is not present at {path.resolve()}")
    return path.read_bytes()


class SleepRecorder(list):
    """Stands in for time.sleep and records every requested delay."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def make_client(sleeps: SleepRecorder):
    def make(**options) -> QualysClient:
        options.setdefault("sleep", sleeps)
        return QualysClient(BASE_URL, USERNAME, PASSWORD, **options)

    return make


@pytest.fixture
def client(make_client) -> QualysClient:
    return make_client()


def sent_params(call) -> dict[str, str]:
    """Return the parameters of a recorded call, from the query (GET) or the form body (POST)."""
    request = call.request
    if request.method == "GET":
        raw = urlsplit(request.url).query
    else:
        body = request.body or ""
        raw = body.decode() if isinstance(body, bytes) else body
    parsed = parse_qs(raw, keep_blank_values=True, strict_parsing=bool(raw))
    return {key: values[-1] for key, values in parsed.items()}


def assert_qualys_request(call, method: str, path: str, params: dict[str, str]) -> None:
    """Check method, path with trailing slash, headers, Basic auth and parameters of a call."""
    request = call.request
    assert request.method == method
    assert urlsplit(request.url).path == path
    assert path.endswith("/")
    assert request.headers["X-Requested-With"]
    expected_auth = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    assert "Cookie" not in request.headers
    if method == "POST":
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert urlsplit(request.url).query == ""
    assert sent_params(call) == params
    kwargs = request.req_kwargs
    assert kwargs["stream"] is True
    assert kwargs["timeout"] == (10.0, 300.0)
    assert kwargs["verify"]
