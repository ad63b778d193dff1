"""A Redis semaphore that caps the Qualys calls in flight across every process of the product.

Qualys counts concurrent calls per subscription (2 by default), so two
workers, or a sync beside a connection test, can each stay within their own
limit and still make Qualys reject calls with code 1960. The client enters
``QualysCallGuard()`` around every HTTP call; the guard takes a slot in a
Redis sorted set and gives it back afterwards. A slot is scored with its
expiry time, so a slot left by a killed process is freed after
``lease_seconds``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Iterator

import redis
from django.conf import settings

from ..qualys import ConcurrencyLimited
from .lock import LockError, redis_connection

logger = logging.getLogger(__name__)

SLOTS_KEY = "lumeta-qualys:qualys-calls"
# The concurrency limit Qualys last reported in X-Concurrency-Limit-Limit.
REPORTED_LIMIT_KEY = "lumeta-qualys:qualys-concurrency-limit"
# Seconds a reported limit is trusted without a newer reply to confirm it.
REPORTED_LIMIT_SECONDS = 24 * 3600

# Drop expired slots, then take one if fewer than the limit are held. The
# limit is the configured one, or the one Qualys reported when that is lower.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local limit = tonumber(ARGV[2])
local reported = redis.call('GET', KEYS[2])
if reported then
  reported = tonumber(reported)
  if reported and reported > 0 and reported < limit then
    limit = reported
  end
end
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  return 1
end
return 0
"""


class QualysCallGuard:
    """Allow at most ``limit`` Qualys calls at once across processes sharing one Redis.

    A call that finds every slot taken waits, checking every ``poll_seconds``,
    for at most ``wait_seconds``, then raises ConcurrencyLimited (which the
    client treats as transient). When Qualys reports a lower concurrency
    limit (X-Concurrency-Limit-Limit, passed to ``learn_limit``), every
    process uses that one instead of the configured one.
    """

    def __init__(
        self,
        *,
        limit: int | None = None,
        connection: redis.Redis | None = None,
        lease_seconds: float | None = None,
        wait_seconds: float = 600.0,
        poll_seconds: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.limit = limit or settings.QUALYS_MAX_CONCURRENT_CALLS
        self.connection = connection or redis_connection()
        # A call may last as long as the read timeout, plus the connect timeout.
        self.lease_seconds = lease_seconds or (
            settings.QUALYS_READ_TIMEOUT + settings.QUALYS_CONNECT_TIMEOUT + 60
        )
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        # The last limit this guard stored, so that each reply does not write it again.
        self.reported_limit: int | None = None

    def _take(self, token: str) -> bool:
        now = time.time()
        try:
            return bool(
                self.connection.eval(
                    _TAKE,
                    2,
                    SLOTS_KEY,
                    REPORTED_LIMIT_KEY,
                    now,
                    self.limit,
                    now + self.lease_seconds,
                    token,
                )
            )
        except redis.RedisError as error:
            raise LockError(
                f"Redis at {settings.REDIS_URL} is not reachable ({error}), so Qualys calls "
                "cannot be counted across processes. Start Redis or set REDIS_URL."
            ) from error

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        token = secrets.token_hex(8)
        deadline = time.monotonic() + self.wait_seconds
        waited = False
        while not self._take(token):
            if time.monotonic() >= deadline:
                raise ConcurrencyLimited(
                    f"{self.effective_limit()} Qualys calls of this product have been running "
                    f"for over {self.wait_seconds:.0f} s, so this call was not sent. Try again "
                    "later."
                )
            if not waited:
                logger.info("Waiting for one of %s Qualys call slots", self.effective_limit())
                waited = True
            self.sleep(self.poll_seconds)
        try:
            yield
        finally:
            try:
                self.connection.zrem(SLOTS_KEY, token)
            except redis.RedisError as error:
                logger.warning(
                    "Could not free a Qualys call slot (%s); it expires in %.0f s",
                    error,
                    self.lease_seconds,
                )

    def learn_limit(self, reported: int) -> None:
        """Store the concurrency limit that a Qualys reply reported, for every process."""
        if reported <= 0 or reported == self.reported_limit:
            return
        try:
            self.connection.set(REPORTED_LIMIT_KEY, reported, ex=REPORTED_LIMIT_SECONDS)
        except redis.RedisError as error:
            logger.warning("Could not store the Qualys concurrency limit %s: %s", reported, error)
            return
        if reported < self.limit and self.reported_limit is None:
            logger.info(
                "Qualys reports a concurrency limit of %s, below the configured %s: using %s",
                reported,
                self.limit,
                reported,
            )
        self.reported_limit = reported

    def effective_limit(self) -> int:
        """Return the number of calls allowed at once: the configured or a lower reported limit."""
        try:
            reported = self.connection.get(REPORTED_LIMIT_KEY)
        except redis.RedisError:
            return self.limit
        if reported is None or not reported.isdigit() or int(reported) <= 0:
            return self.limit
        return min(self.limit, int(reported))

    def in_flight(self) -> int:
        """Return the number of slots held now (expired ones excluded)."""
        return self.connection.zcount(SLOTS_KEY, time.time(), "+inf")
