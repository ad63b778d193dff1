"""Per-endpoint rate and concurrency limits, as Qualys applies them to each API.

Each endpoint has its own rolling window of accepted calls and its own count
of calls running now. Concurrency is checked first, so when both limits are
exceeded the concurrency error wins. A call refused with 409 neither runs
nor counts against the window. The counters live in memory only and start
empty when the emulator starts.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LimitStatus:
    """The values for the limit headers of one response."""

    limit: int
    window: int
    remaining: int
    to_wait: int
    concurrency_limit: int
    running: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Window-Sec": str(self.window),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-ToWait-Sec": str(self.to_wait),
            "X-Concurrency-Limit-Limit": str(self.concurrency_limit),
            "X-Concurrency-Limit-Running": str(self.running),
        }


@dataclass(frozen=True)
class Refusal:
    """A call refused by a limit: ``code`` 1960 (concurrency) or 1965 (rate)."""

    code: int
    status: LimitStatus


class EndpointCounter:
    def __init__(self) -> None:
        self.calls: deque[float] = deque()
        self.running = 0


class LimitTracker:
    """Counts calls per endpoint against the limits of the state's ``limits`` key."""

    def __init__(self, limits: dict[str, Any], clock=time.monotonic):
        self.limits = limits
        self.clock = clock
        self._counters: dict[str, EndpointCounter] = {}
        self._lock = threading.Lock()

    def _settings(self, endpoint: str) -> tuple[int, int, int]:
        merged = {**self.limits, **self.limits.get("per_endpoint", {}).get(endpoint, {})}
        return merged["calls_per_window"], merged["window_seconds"], merged["concurrency"]

    def _expire(self, counter: EndpointCounter, window: int, now: float) -> None:
        while counter.calls and counter.calls[0] <= now - window:
            counter.calls.popleft()

    def _status(self, counter: EndpointCounter, endpoint: str, now: float) -> LimitStatus:
        limit, window, concurrency = self._settings(endpoint)
        remaining = max(limit - len(counter.calls), 0)
        to_wait = 0
        if remaining == 0 and counter.calls:
            # The oldest call leaves the window first and frees one slot.
            to_wait = max(math.ceil(counter.calls[0] + window - now), 1)
        return LimitStatus(limit, window, remaining, to_wait, concurrency, counter.running)

    def acquire(self, endpoint: str) -> LimitStatus | Refusal:
        """Count a call as started, or return why the limits refuse it."""
        with self._lock:
            counter = self._counters.setdefault(endpoint, EndpointCounter())
            limit, window, concurrency = self._settings(endpoint)
            now = self.clock()
            self._expire(counter, window, now)
            if counter.running >= concurrency:
                return Refusal(1960, self._status(counter, endpoint, now))
            if len(counter.calls) >= limit:
                return Refusal(1965, self._status(counter, endpoint, now))
            counter.calls.append(now)
            counter.running += 1
            return self._status(counter, endpoint, now)

    def release(self, endpoint: str) -> None:
        with self._lock:
            counter = self._counters[endpoint]
            counter.running = max(counter.running - 1, 0)

    def peek(self, endpoint: str) -> LimitStatus:
        """Return the header values without counting a call."""
        with self._lock:
            counter = self._counters.setdefault(endpoint, EndpointCounter())
            now = self.clock()
            self._expire(counter, self._settings(endpoint)[1], now)
            return self._status(counter, endpoint, now)

    def running(self) -> dict[str, int]:
        with self._lock:
            return {name: counter.running for name, counter in self._counters.items()}
