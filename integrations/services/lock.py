"""The sync lock: a Redis lease held by at most one sync at a time.

The holder sets a random token with ``SET NX PX`` and a heartbeat thread
renews the lease while the sync runs. Renewal and release only act when the
key still holds this holder's token, so a holder whose lease lapsed cannot
extend or delete the lease of the next one. A killed worker stops renewing
and its lease lapses after ``SYNC_LOCK_LEASE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading

import redis
from django.conf import settings
from django.db import connection as database

logger = logging.getLogger(__name__)

LOCK_KEY_PREFIX = "lumeta-qualys:sync-lock"

# Renew only while the key still contains this holder's token.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# Delete only while the key still contains this holder's token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def lock_key() -> str:
    """Return the lock's Redis key, which names the database that the syncs write.

    Deployments that share one Redis (staging and production, or two
    products on one host) then never turn away each other's syncs, and a
    skipped run names a run of its own database. Every process of one
    deployment reaches the same database, so they share the key.
    """
    settings_dict = database.settings_dict
    identity = "\n".join(
        str(settings_dict.get(part) or "") for part in ("ENGINE", "HOST", "PORT", "NAME")
    )
    return f"{LOCK_KEY_PREFIX}:{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


class LockError(Exception):
    """Redis, which holds the sync lock, cannot be reached."""


def redis_connection(url: str | None = None) -> redis.Redis:
    """Return a Redis client for ``url`` (default ``settings.REDIS_URL``)."""
    return redis.Redis.from_url(
        url or settings.REDIS_URL, socket_timeout=10, socket_connect_timeout=5
    )


def _unreachable(error: Exception) -> LockError:
    return LockError(
        f"Redis at {settings.REDIS_URL} is not reachable ({error}), so the sync lock cannot be "
        "taken. Start Redis or set REDIS_URL to a running server."
    )


class SyncLock:
    """A renewable lease on the sync, owned by one run.

    Use ``acquire()``/``release()`` or the context manager. ``lost`` turns
    true when a renewal finds the lease gone (Redis restarted, or the
    process stalled longer than the lease): the sync checks it before every
    write to Qualys and stops rather than risk running beside another sync.
    """

    def __init__(
        self,
        owner: str,
        *,
        connection: redis.Redis | None = None,
        lease_seconds: int | None = None,
        key: str | None = None,
    ):
        self.owner = owner
        self.key = key or lock_key()
        self.lease_ms = int((lease_seconds or settings.SYNC_LOCK_LEASE_SECONDS) * 1000)
        self.connection = connection or redis_connection()
        self.token = f"{owner}:{secrets.token_hex(16)}"
        self.lost = False
        self._held = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        """Acquire the lease if no other sync has it, and return whether it was acquired."""
        try:
            taken = bool(self.connection.set(self.key, self.token, nx=True, px=self.lease_ms))
        except redis.RedisError as error:
            raise _unreachable(error) from error
        if taken:
            self._held = True
            self._start_heartbeat()
        return taken

    def renew(self) -> bool:
        """Extend the lease; return False when it is no longer ours."""
        try:
            renewed = bool(self.connection.eval(_RENEW, 1, self.key, self.token, self.lease_ms))
        except redis.RedisError as error:
            # Keep the lease's remaining time: the next heartbeat tries again.
            logger.warning("Sync lock %s: renewal failed: %s", self.owner, error)
            return True
        if not renewed:
            self.lost = True
            logger.error("Sync lock %s: the lease lapsed while the sync was running", self.owner)
        return renewed

    def release(self) -> None:
        """Stop the heartbeat and delete the lease if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not self._held:
            return
        self._held = False
        try:
            self.connection.eval(_RELEASE, 1, self.key, self.token)
        except redis.RedisError as error:
            logger.warning(
                "Sync lock %s: release failed (%s); the lease lapses in %s s",
                self.owner,
                error,
                self.lease_ms // 1000,
            )

    def _start_heartbeat(self) -> None:
        interval = max(self.lease_ms / 1000 / 4, 0.5)

        def beat() -> None:
            while not self._stop.wait(interval):
                if not self.renew():
                    return

        self._thread = threading.Thread(target=beat, name=f"sync-lock-{self.owner}", daemon=True)
        self._thread.start()

    def __enter__(self) -> SyncLock:
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def current_holder(connection: redis.Redis | None = None) -> str | None:
    """Return the owner (a sync run id) of the lease, or None when no sync holds it."""
    try:
        value = (connection or redis_connection()).get(lock_key())
    except redis.RedisError as error:
        raise _unreachable(error) from error
    if value is None:
        return None
    return value.decode().rsplit(":", 1)[0]
