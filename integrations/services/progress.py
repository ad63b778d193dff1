"""Publish a running sync's step and counts on its SyncRun, for the pages that poll it."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from ..models import SyncRun

# Save the host count after this many hosts, and at most this often.
HOSTS_EVERY = 5000
MIN_SECONDS_BETWEEN_SAVES = 1.0

Listener = Callable[[str, dict[str, Any]], None]


def peak_memory_mib() -> int:
    """Return this process's peak resident memory in MiB.

    Linux's VmHWM counts from the process's own start. ``ru_maxrss`` is the
    fallback elsewhere; on Linux it would also count the memory of the
    parent that forked this process before it started the program.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # macOS reports bytes, Linux and the BSDs KiB.
    return peak // (1024 * 1024) if sys.platform == "darwin" else peak // 1024


class ProgressReporter:
    """Save ``SyncRun.step`` and ``SyncRun.progress`` as the sync advances.

    ``listener`` (the command's progress bar) is called on every update,
    while the database row is saved at each step and every ``HOSTS_EVERY``
    hosts, so a million-host sync does not write a row per host.
    """

    def __init__(self, run: SyncRun, listener: Listener | None = None):
        self.run = run
        self.listener = listener
        self._last_saved_hosts = 0
        self._last_save = 0.0
        self._started = time.monotonic()

    def step(self, name: str, **counts: Any) -> None:
        """Record that step ``name`` started, with any counts known so far."""
        self.run.step = name
        # Each step's start, in seconds from the start of the run, with the
        # process's peak memory so far in MiB.
        timeline = [
            *self.run.progress.get("timeline", []),
            [name, round(time.monotonic() - self._started, 2), peak_memory_mib()],
        ]
        # A retry shown during the last step is over once the next one starts.
        self.run.progress = {**self._without_retry(), **counts, "step": name, "timeline": timeline}
        self._save()

    def update(self, **counts: Any) -> None:
        """Record new counts within the current step; new counts end a retry shown before."""
        earlier = self.run.progress if "retry" in counts else self._without_retry()
        self.run.progress = {**earlier, **counts}
        self._save()

    def hosts(self, count: int) -> None:
        """Record the number of scanned hosts read so far; a retry shown before is over."""
        self.run.progress["hosts_read"] = count
        # A retry notice goes at once, not at the next periodic save.
        retry_over = self.run.progress.pop("retry", None) is not None
        if self.listener is not None:
            self.listener(self.run.step, self.run.progress)
        due = count - self._last_saved_hosts >= HOSTS_EVERY
        if retry_over or (due and time.monotonic() - self._last_save >= MIN_SECONDS_BETWEEN_SAVES):
            self._last_saved_hosts = count
            self._save(notify=False)

    def _without_retry(self) -> dict[str, Any]:
        """Return the progress without the notice of a retry."""
        return {key: value for key, value in self.run.progress.items() if key != "retry"}

    def _save(self, notify: bool = True) -> None:
        self._last_save = time.monotonic()
        SyncRun.objects.filter(pk=self.run.pk).update(
            step=self.run.step, progress=self.run.progress
        )
        if notify and self.listener is not None:
            self.listener(self.run.step, self.run.progress)
