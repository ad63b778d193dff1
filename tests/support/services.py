"""Real services for integration tests: Redis, a Celery worker and beat.

Each is a real process on loopback. When a service's program is missing the
test is skipped with the reason, unless LUMETA_REQUIRE_SERVICES=1 (set by
.ci/run), which turns the skip into a failure so CI cannot pass without them.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def missing_service(reason: str):
    """Skip the test, or fail it where services are required."""
    if os.environ.get("LUMETA_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (LUMETA_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, process=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def test_database_url() -> str:
    """Return a DATABASE_URL for the database the running tests use."""
    settings = connection.settings_dict
    if settings["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = settings.get("PASSWORD") or ""
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or "5432"
    return f"postgres://{credentials}{host}:{port}/{settings['NAME']}"


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a child process of the project: test settings, test database."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": test_database_url(),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    if "REDIS_URL" in extra:
        # tests.settings sets REDIS_URL from this in the child process.
        env["LUMETA_TEST_REDIS_URL"] = extra["REDIS_URL"]
    return env


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis: REDIS_URL when set, else a redis-server started on a free port."""
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        missing_service("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="test-redis-")
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process=process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


class ManagedProcess:
    """A child process whose output goes to a file, read back on failure."""

    def __init__(self, args: list[str], env: dict[str, str], name: str):
        self.log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not seen in output:\n{self.output()[-4000:]}")

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log.close()


@pytest.fixture
def start_process():
    """Start project processes (worker, beat, emulator); all are stopped after the test."""
    started: list[ManagedProcess] = []

    def start(args: list[str], env: dict[str, str], name: str = "process") -> ManagedProcess:
        managed = ManagedProcess(args, env, name)
        started.append(managed)
        return managed

    yield start
    for managed in started:
        managed.stop()


@pytest.fixture
def celery_worker_process(transactional_db, redis_url, start_process):
    """A real Celery worker on the test database and a real Redis broker."""
    worker = start_process(
        [sys.executable, "-m", "celery", "-A", "lumeta_qualys", "worker", "--pool", "solo",
         "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        subprocess_env(REDIS_URL=redis_url),
        name="celery-worker",
    )
    worker.wait_for_output("ready.", timeout=60)
    return worker


@pytest.fixture
def celery_beat_process(transactional_db, redis_url, start_process):
    """Start a real Celery beat with the DatabaseScheduler; returns a starter."""

    def start(max_interval: int = 1) -> ManagedProcess:
        # beat takes --max-interval as whole seconds and rejects "1.0".
        workdir = tempfile.mkdtemp(prefix="test-beat-")
        return start_process(
            [sys.executable, "-m", "celery", "-A", "lumeta_qualys", "beat", "--loglevel", "DEBUG",
             "--max-interval", str(max_interval), "--schedule", os.path.join(workdir, "beat.db"),
             "--pidfile", os.path.join(workdir, "beat.pid")],
            subprocess_env(REDIS_URL=redis_url),
            name="celery-beat",
        )

    return start
