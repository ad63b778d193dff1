"""Helpers for the inventory tests: fixture files, the real nmap files, a signal recorder."""

from pathlib import Path

import pytest

from inventory.models import Host
from inventory.signals import hosts_deleted, hosts_imported

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inventory"
# The repository's parent folder holds the shared real inputs when they are present.
REAL_NMAP = Path(__file__).resolve().parents[2] / ".." / "shared" / "real-inputs" / "nmap"


def fixture_path(name: str) -> Path:
    return FIXTURES / name


@pytest.fixture
def real_nmap():
    """Return the path of a real nmap file, skipping the test when the folder is absent."""

    def path(name: str) -> Path:
        file = REAL_NMAP / name
        if not file.is_file():
            pytest.skip(f"real nmap input {name} is not present at {REAL_NMAP.resolve()}")
        return file

    return path


def addresses() -> set[str]:
    return set(Host.objects.values_list("address", flat=True))


class SignalRecorder:
    def __init__(self):
        self.imported: list[dict] = []
        self.deleted: list[dict] = []

    def on_imported(self, sender, **kwargs):
        self.imported.append(kwargs)

    def on_deleted(self, sender, **kwargs):
        self.deleted.append(kwargs)


@pytest.fixture
def signals():
    recorder = SignalRecorder()
    hosts_imported.connect(recorder.on_imported, dispatch_uid="test-recorder-imported")
    hosts_deleted.connect(recorder.on_deleted, dispatch_uid="test-recorder-deleted")
    yield recorder
    hosts_imported.disconnect(dispatch_uid="test-recorder-imported")
    hosts_deleted.disconnect(dispatch_uid="test-recorder-deleted")


@pytest.fixture
def failing_receiver():
    """Connect a receiver of hosts_imported that raises RuntimeError("receiver failed")."""

    def fail(sender, **kwargs):
        raise RuntimeError("receiver failed")

    hosts_imported.connect(fail, dispatch_uid="test-failing-receiver")
    yield
    hosts_imported.disconnect(dispatch_uid="test-failing-receiver")
