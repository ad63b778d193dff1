"""A module-scoped emulator factory, so read-only tests share one subprocess."""

import pytest

from tests.support.emulator import start_emulator
from tests.support.services import ManagedProcess


@pytest.fixture(scope="module")
def module_emulator():
    """Like ``qualys_emulator``, but the processes live until the test module ends."""
    started: list[ManagedProcess] = []

    def start_process(args, env, name="process"):
        managed = ManagedProcess(args, env, name)
        started.append(managed)
        return managed

    def start(state=None, args=()):
        return start_emulator(start_process, state, args)

    yield start
    for managed in started:
        managed.stop()


@pytest.fixture(scope="module")
def shared_server(module_emulator):
    return module_emulator()


@pytest.fixture
def fresh_emulator(shared_server):
    """``fresh_emulator(state=None)``: the module's emulator, reset to ``state``."""

    def reset(state=None):
        shared_server.reset(state)
        return shared_server

    return reset
