"""The "Test connection" action: one credential check against Qualys, reported in plain words."""

import contextlib
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta

from django.conf import settings as django_settings
from django.utils import timezone

from . import qualys
from .services.call_guard import QualysCallGuard
from .services.lock import LockError

logger = logging.getLogger(__name__)

# A web request waits for the reply, so the check uses short timeouts.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 20.0
# Seconds the check waits for a free Qualys call slot before it reports Qualys as busy.
SLOT_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class ConnectionResult:
    """The outcome of a connection test: a short ``outcome`` name and a message for the user."""

    ok: bool
    outcome: str
    message: str


def test_connection(
    server: str, username: str, password: str, *, call_guard: QualysCallGuard | None = None
) -> ConnectionResult:
    """Check ``username`` and ``password`` against ``server`` with one Qualys call.

    The client is built with ``max_retries=0`` and ``max_wait_seconds=0``: a
    failed login is never repeated, so the check cannot lock the account, and
    a rate limit is reported with its retry time instead of waited out.
    With ``call_guard`` the call takes one of the Qualys call slots that the
    syncs share, so a check beside a running sync stays within Qualys's
    concurrency limit.
    """
    client = qualys.QualysClient(
        server,
        username,
        password,
        ca_bundle=django_settings.QUALYS_CA_BUNDLE,
        connect_timeout=min(CONNECT_TIMEOUT, django_settings.QUALYS_CONNECT_TIMEOUT),
        read_timeout=min(READ_TIMEOUT, django_settings.QUALYS_READ_TIMEOUT),
        max_wait_seconds=0,
        max_retries=0,
        call_guard=_slot_or_unguarded(call_guard) if call_guard is not None else None,
    )
    try:
        client.check_credentials()
    except qualys.QualysError as error:
        result = describe_error(error, server=server, username=username)
        logger.warning(
            "Connection test to %s as %s failed (%s): %s",
            server,
            username,
            type(error).__name__,
            error.message,
        )
        return result
    logger.info("Connection test to %s as %s succeeded", server, username)
    return ConnectionResult(
        ok=True,
        outcome="success",
        message=(
            f"Connected to {server} as {username}: Qualys accepted the user name and password "
            "and the account can use the API."
        ),
    )


def _slot_or_unguarded(guard: QualysCallGuard) -> Callable[[], contextlib.AbstractContextManager]:
    """Return a call guard that takes a slot of ``guard``, or takes none when Redis is down.

    The check is one call that is never retried, so without Redis it still
    runs, and a concurrency error from Qualys (code 1960) is reported to the
    user like any other error.
    """

    @contextlib.contextmanager
    def slot() -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(guard())
            except LockError as error:
                logger.warning(
                    "Redis is not reachable, so the connection test runs without a Qualys "
                    "call slot: %s",
                    error,
                )
            yield

    # The check's reply reports Qualys's concurrency limit like any other.
    slot.learn_limit = guard.learn_limit
    return slot


def describe_error(error: Exception, *, server: str, username: str) -> ConnectionResult:
    """Map a client exception to a plain-English result that names the next step."""
    detail = f" (Qualys client: {error})"
    if isinstance(error, qualys.AuthenticationFailed):
        return ConnectionResult(
            False,
            "bad_credentials",
            f"Qualys rejected the user name or password for {username} on {server}. Qualys gives "
            "the same reply when the user has no API access and when the account belongs to "
            "another platform: check the password, that the user's role allows API access, and "
            "that the server is your account's platform.",
        )
    if isinstance(error, qualys.AccountUnavailable):
        # The client's message quotes Qualys's reason and the next step.
        return ConnectionResult(
            False, "account_unavailable", f"Qualys refused the account {username}. {error}"
        )
    if isinstance(error, qualys.RegistrationIncomplete):
        return ConnectionResult(
            False,
            "registration_incomplete",
            "Qualys serves no API requests for this account until its registration is "
            "complete. Log in to the Qualys web interface once and complete the registration.",
        )
    if isinstance(error, qualys.RateLimited):
        return ConnectionResult(False, "rate_limited", _rate_limit_message(error))
    if isinstance(error, qualys.ConcurrencyLimited):
        return ConnectionResult(
            False,
            "rate_limited",
            "Qualys is already running the maximum number of API calls this account may run at "
            "once (a sync may be running). Try again in a minute.",
        )
    # The client's messages for these name the host with its port, the reason and
    # what to check, so they are shown as they are.
    if isinstance(error, qualys.TLSFailure):
        return ConnectionResult(False, "tls_failure", str(error))
    if isinstance(error, qualys.ReplyTimeout):
        waited = min(READ_TIMEOUT, django_settings.QUALYS_READ_TIMEOUT)
        return ConnectionResult(
            False,
            "unreachable",
            f"{server} took the request but sent no reply within {waited:g} seconds, as long as "
            "Test connection waits. Qualys may be busy: try again later. A sync waits "
            f"{django_settings.QUALYS_READ_TIMEOUT:g} seconds for each reply "
            "(QUALYS_READ_TIMEOUT in the environment).",
        )
    if isinstance(error, (qualys.QualysTimeout, qualys.QualysUnreachable)):
        return ConnectionResult(False, "unreachable", str(error))
    if isinstance(error, qualys.ServerError):
        return ConnectionResult(
            False,
            "server_error",
            f"{server} answered with a server error. Qualys may be under maintenance: try "
            f"again later{detail}.",
        )
    if isinstance(error, qualys.MessageInsteadOfData):
        # Qualys's own message, which names no error: shown as the client words it.
        return ConnectionResult(False, "error", str(error))
    if isinstance(error, (qualys.UnexpectedResponse, qualys.MalformedResponse)):
        return ConnectionResult(
            False,
            "not_qualys",
            f"{server} did not answer like a Qualys API server. Check that the server is your "
            f"platform's API server (qualysapi…), not the web interface{detail}.",
        )
    return ConnectionResult(False, "error", f"The connection test failed: {error}")


def _rate_limit_message(error) -> str:
    retry_at = getattr(error, "retry_at", None)
    retry_after = getattr(error, "retry_after", None)
    if retry_at is None and retry_after is not None:
        retry_at = timezone.now() + timedelta(seconds=retry_after)
    if retry_at is None:
        return "Qualys is limiting this account's API calls. Try again later."
    minutes = max(1, math.ceil((retry_at - timezone.now()).total_seconds() / 60))
    return (
        "Qualys is limiting this account's API calls (rate limit reached). Try again after "
        f"{retry_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC, in about {minutes} "
        f"minute{'s' if minutes != 1 else ''}."
    )
