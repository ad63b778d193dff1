"""Exceptions raised by the Qualys client.

Every message is a plain English sentence that states what failed and what to
do next, so callers can show ``str(error)`` to a user as it is.
"""

from __future__ import annotations

from datetime import datetime

# The advice that ends the messages of a broken connection and of a reply cut short.
RETRY_ADVICE = "Start the sync or the connection test again."


class QualysError(Exception):
    """A Qualys call failed.

    ``code`` is the Qualys error code from the body (``None`` when the body
    had none) and ``status`` the HTTP status (``None`` when no response came).
    ``transient`` is true when the same call may succeed later without any
    change on the caller's side.
    """

    transient = False

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return self.message


class AuthenticationFailed(QualysError):
    """The user name or password was rejected (code 2000, HTTP 401). Never retried."""


class AccountUnavailable(QualysError):
    """The account is expired, inactive or not licensed for the API (2001, 2002, 2011, 2012)."""


class RegistrationIncomplete(QualysError):
    """The subscription's registration is not complete (HTTP 409, code 2003)."""


class RateLimited(QualysError):
    """Too many calls of this API in the rate-limit window (HTTP 409, code 1965).

    ``retry_after`` is the wait in seconds that Qualys gave and ``retry_at``
    the aware UTC time when the next call is allowed. ``transient`` is true
    when the wait is short enough for the client's ``max_wait_seconds``.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: int,
        retry_at: datetime,
        transient: bool = False,
        code: int | None = None,
        status: int | None = None,
    ):
        super().__init__(message, code=code, status=status)
        self.retry_after = retry_after
        self.retry_at = retry_at
        self.transient = transient


class ConcurrencyLimited(QualysError):
    """Too many calls of this API are running now (HTTP 409, code 1960)."""

    transient = True


class InvalidRequest(QualysError):
    """Qualys rejected a parameter of the call (codes 19xx, HTTP 400)."""


class UnexpectedResponse(QualysError):
    """The body is not the XML document the call returns.

    Examples: an HTML page, another root element, a ServiceResponse error.
    """


class MessageInsteadOfData(UnexpectedResponse):
    """A SIMPLE_RETURN without an error code where the call returns data.

    Qualys replies to write calls in this form. Read as a list, it would be an empty one.
    """


class MalformedResponse(QualysError):
    """The XML body is not well-formed, is cut short, or breaks the paging rules."""


class QualysTimeout(QualysError):
    """Qualys did not respond within the connect or read timeout."""

    transient = True


class ReplyTimeout(QualysTimeout):
    """Qualys took the request but sent nothing within the read timeout."""


class QualysUnreachable(QualysError):
    """No connection could be made (connection refused, DNS failure, proxy error)."""

    transient = True


class TLSFailure(QualysError):
    """The server certificate could not be verified, or the CA bundle is unusable."""


class ServerError(QualysError):
    """Qualys returned an HTTP 5xx status or an internal error code."""

    transient = True


class GatewayError(ServerError, UnexpectedResponse):
    """An HTML page from a gateway (502, 503, 504) instead of a Qualys XML body.

    It is both a server error, so it is retried, and an unexpected response.
    """


# Errors that the client retries itself and that callers may retry later.
# A RateLimited error is transient only when its wait is short: check it
# with is_transient().
TRANSIENT: tuple[type[QualysError], ...] = (
    ConcurrencyLimited,
    QualysTimeout,
    QualysUnreachable,
    ServerError,
)


def is_transient(error: BaseException) -> bool:
    """Return whether retrying the same call later may succeed."""
    return isinstance(error, QualysError) and error.transient
