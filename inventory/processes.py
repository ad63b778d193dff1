"""Owner processes of imports: the process that runs each one, and whether it still runs.

An import's ImportRun stays "running" when the process running it ends
without reporting (a web server restarted during an upload, a command
killed). The run records its process as ``host:pid:start``, where
``start`` is the process's start time in clock ticks since boot, read
from /proc: a later process may get the same pid, but not the same start
time. Only processes on the same host can be checked.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _start_ticks(pid: int) -> str | None:
    """Return a process's start time from /proc/PID/stat, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may contain spaces: count fields after it.
    fields = stat.rsplit(")", 1)[1].split()
    # Field 22 of the whole line, starttime, is the 20th after the name.
    return fields[19]


def current_owner() -> str:
    """Return this process as ``host:pid:start``; empty where /proc is missing."""
    start = _start_ticks(os.getpid())
    if start is None:
        return ""
    return f"{socket.gethostname()}:{os.getpid()}:{start}"


def owner_gone(owner: str) -> bool:
    """Return True if ``owner`` names a process of this host that no longer runs.

    False when it runs, when it belongs to another host, or when this
    cannot be checked (no owner recorded, no /proc).
    """
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid, start = parts
    if host != socket.gethostname() or _start_ticks(os.getpid()) is None:
        return False
    return _start_ticks(int(pid)) != start
