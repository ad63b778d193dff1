"""Shared fixtures: personas here, services in tests/support."""

import os

# Playwright's sync API runs an event loop in the test thread; Django's ORM
# refuses to run in a thread with a loop unless this is set.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = [
    "tests.support.personas",
    "tests.support.services",
    "tests.support.browser",
    "tests.support.emulator",
]
