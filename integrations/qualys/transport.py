"""HTTP transport for the Qualys API: auth, TLS, timeouts, limits, retries and error mapping.

A call is sent with Basic auth and ``X-Requested-With`` and its body is read
as a stream. The body decides first: a SIMPLE_RETURN with a CODE or a
ServiceResponse with a responseCode other than SUCCESS is an error whatever
the HTTP status (Qualys reports an expired account with HTTP 200); only then
does the status count. Transient failures are retried with exponential
backoff and a cap; a rate-limit wait is slept only when it is short.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from math import ceil
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

import requests
import urllib3.exceptions
from lxml import etree

from integrations.qualys.errors import (
    RETRY_ADVICE,
    AccountUnavailable,
    AuthenticationFailed,
    ConcurrencyLimited,
    GatewayError,
    InvalidRequest,
    MessageInsteadOfData,
    QualysError,
    QualysTimeout,
    QualysUnreachable,
    RateLimited,
    RegistrationIncomplete,
    ReplyTimeout,
    ServerError,
    TLSFailure,
    UnexpectedResponse,
)
from integrations.qualys.parsing import (
    ErrorBody,
    NotXml,
    XmlStream,
    read_service_response,
    read_simple_return,
)
from integrations.qualys.records import ApiBudget, SimpleReturn

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
# Roots of bodies that carry an error whatever the HTTP status.
BODY_ERROR_ROOTS = ("SIMPLE_RETURN", "ServiceResponse")
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 60.0
# Used when a rate-limit reply gives no wait: no X-RateLimit-ToWait-Sec header,
# no SECONDS_TO_WAIT item and no Retry-After header.
FALLBACK_RATE_WAIT_SECONDS = 3600

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Characters that form encoding leaves alone ("_.-~" and ASCII letters and
# digits), plus the comma and colon that join IP tokens and write IPv6.
_IP_LIST_TEXT = re.compile(r"[0-9A-Za-z_.~,:-]*")


def form_body(params: Mapping[str, str]) -> bytes:
    """Return ``params`` encoded as ``urllib.parse.urlencode`` does, as ASCII bytes.

    Long IP lists, megabytes per asset-group edit, are encoded by replacing
    their only two special characters, where ``quote_plus`` looks up every
    character: 0.14 s per 4 MB body.
    """
    return "&".join(
        f"{quote_plus(name)}={_form_value(value)}" for name, value in params.items()
    ).encode("ascii")


def _form_value(value: str) -> str:
    if _IP_LIST_TEXT.fullmatch(value):
        return value.replace(",", "%2C").replace(":", "%3A")
    return quote_plus(value)


BAD_CREDENTIALS = (
    "Qualys rejected the user name or password ({where}). Qualys gives the same reply to a "
    "user without API access and to credentials used on the wrong platform: check the user, "
    "its API access and the server."
)

CallGuard = Callable[[], AbstractContextManager[Any]]


# TLS trust ------------------------------------------------------------------


def _system_ca_files() -> list[Path]:
    files: list[Path] = []
    try:
        import certifi

        files.append(Path(certifi.where()))
    except ImportError:  # pragma: no cover - certifi ships with requests
        pass
    system = ssl.get_default_verify_paths().cafile
    if system and Path(system).is_file():
        files.append(Path(system))
    return files


def build_ca_bundle(extra: str) -> str:
    """Write the system trust store plus the certificates in ``extra`` to one file; return its path.

    The path is passed as ``verify=`` on every request, which requests
    prefers over REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE (those only replace
    ``verify=True``). The file name carries a hash of its contents, so clients
    with the same bundle share one file and a changed bundle gets a new one.
    """
    path = Path(extra)
    try:
        extra_pem = path.read_bytes()
    except OSError as error:
        raise TLSFailure(
            f"The CA bundle {extra} cannot be read ({error.strerror}). Point QUALYS_CA_BUNDLE "
            "at a readable PEM file, or remove it to use the system trust store."
        ) from None
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError) as error:
        raise TLSFailure(
            f"The CA bundle {extra} contains no usable PEM certificate ({error}). Give a file "
            "with one or more '-----BEGIN CERTIFICATE-----' blocks."
        ) from None
    if b"-----BEGIN CERTIFICATE-----" not in extra_pem:
        raise TLSFailure(
            f"The CA bundle {extra} contains no PEM certificate. Give a file with one or more "
            "'-----BEGIN CERTIFICATE-----' blocks."
        )

    parts = [source.read_bytes() for source in _system_ca_files()]
    parts.append(extra_pem)
    combined = b"\n".join(part.rstrip(b"\n") for part in parts) + b"\n"
    digest = hashlib.sha256(combined).hexdigest()[:20]
    target = Path(tempfile.gettempdir()) / f"lumeta-qualys-ca-{digest}.pem"
    # An existing file is reused only when its contents are exactly ours.
    if not target.is_file() or target.read_bytes() != combined:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".lumeta-qualys-ca-")
        with os.fdopen(handle, "wb") as output:
            output.write(combined)
        os.replace(temporary, target)
    return str(target)


# Responses -----------------------------------------------------------------------


class OpenResponse:
    """A response whose root element has been checked; the body is read from ``stream``.

    For SIMPLE_RETURN bodies the whole body has already been read into
    ``simple``. Close the response (or use it as a context manager) to release
    the connection and the call guard.
    """

    def __init__(
        self,
        *,
        status: int,
        root_tag: str,
        stream: XmlStream,
        simple: SimpleReturn | None,
        resources: ExitStack,
    ):
        self.status = status
        self.root_tag = root_tag
        self.stream = stream
        self.simple = simple
        self._resources = resources

    def close(self) -> None:
        self._resources.close()

    def __enter__(self) -> OpenResponse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _looks_like_html(preview: str) -> bool:
    head = preview.lstrip().lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<html" in head[:300]


class Transport:
    """Send Qualys API calls and turn every failure into a QualysError."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        ca_bundle: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        max_wait_seconds: int = 300,
        max_retries: int = 3,
        user_agent: str = "lumeta-qualys",
        call_guard: CallGuard | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
    ):
        parts = urlsplit(base_url.strip())
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(
                f"The Qualys API address {base_url!r} is not an https:// URL with a host name. "
                "Use the platform's API server, for example https://qualysapi.qualys.com."
            )
        if not username or not password:
            raise ValueError("The Qualys user name and password are both required.")
        if max_retries < 0 or max_wait_seconds < 0:
            raise ValueError("max_retries and max_wait_seconds must not be negative.")

        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        # The host as messages name it: with its port when the address gives one.
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        self.host = f"{host}:{parts.port}" if parts.port else host
        self.timeout = (connect_timeout, read_timeout)
        self.max_wait_seconds = max_wait_seconds
        self.max_retries = max_retries
        self.call_guard = call_guard
        self.sleep = sleep
        # Called as on_retry(message, retry, retries, delay) before each retry,
        # so that a caller can show that Qualys is being waited for.
        self.on_retry: Callable[[str, int, int, float], None] | None = None
        self.clock = clock or (lambda: datetime.now(UTC))
        self.budget = ApiBudget()

        # ``verify`` goes on every request: a string path there wins over the
        # REQUESTS_CA_BUNDLE variable, while trust_env stays on for the
        # standard proxy variables.
        self.verify: str | bool = build_ca_bundle(ca_bundle) if ca_bundle else True

        self.session = requests.Session()
        self.session.auth = requests.auth.HTTPBasicAuth(username, password)
        self.session.headers.update(
            {
                "X-Requested-With": user_agent,
                "User-Agent": user_agent,
                "Accept": "application/xml, text/xml, */*",
            }
        )

    def close(self) -> None:
        self.session.close()

    # Public entry point ----------------------------------------------------

    def open(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        *,
        expect: tuple[str, ...],
        tags: tuple[str, ...] = (),
        retries: int | None = None,
        idempotent: bool = True,
    ) -> OpenResponse:
        """Send a call, retrying transient failures, and return the checked response.

        ``expect`` names the root elements that count as data for this call:
        any other root, a SIMPLE_RETURN without a CODE included, raises
        UnexpectedResponse. The body's stream
        reports events only for the roots and for ``tags``. With
        ``idempotent=False`` only failures where Qualys did not run the call
        (rate and concurrency limits, no connection) are retried.
        """
        limit = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            try:
                return self._attempt(method, path, params, expect, tags)
            except QualysError as error:
                delay = self.retry_delay(error, attempt, limit, idempotent=idempotent)
                if delay is None:
                    raise
                logger.warning(
                    "Qualys call %s %s failed (%s); retry %d of %d in %.0f s",
                    method,
                    path,
                    error.message,
                    attempt + 1,
                    limit,
                    delay,
                )
                if self.on_retry is not None:
                    self.on_retry(error.message, attempt + 1, limit, delay)
                self.sleep(delay)
                attempt += 1

    def retry_delay(
        self, error: QualysError, attempt: int, limit: int, *, idempotent: bool = True
    ) -> float | None:
        """Return the seconds to wait before retrying ``error``, or ``None`` to give up."""
        if attempt >= limit or not error.transient:
            return None
        if isinstance(error, RateLimited):
            return float(max(error.retry_after, 1))
        if not idempotent and not isinstance(error, ConcurrencyLimited | QualysUnreachable):
            return None
        return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (2**attempt))

    # One attempt ------------------------------------------------------------

    def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        expect: tuple[str, ...],
        tags: tuple[str, ...],
    ) -> OpenResponse:
        resources = ExitStack()
        try:
            if self.call_guard is not None:
                resources.enter_context(self.call_guard())
            response = self._send(method, path, params)
            resources.callback(response.close)
            self._record_budget(response.headers, path)
            self._share_concurrency_limit()
            return self._check(response, path, expect, tags, resources)
        except BaseException:
            resources.close()
            raise

    def _send(self, method: str, path: str, params: Mapping[str, str]) -> requests.Response:
        url = self.base_url + path
        started = time.monotonic()
        send_params = params if method == "GET" else None
        send_data = form_body(params) if method != "GET" else None
        headers = {"Content-Type": FORM_CONTENT_TYPE} if method != "GET" else None
        try:
            response = self.session.request(
                method,
                url,
                params=send_params,
                data=send_data,
                headers=headers,
                timeout=self.timeout,
                verify=self.verify,
                stream=True,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            # Only a call that reached Qualys counts. One that timed out waiting
            # for the reply reached it, and one that found no connection did not.
            if isinstance(error, requests.ReadTimeout):
                self.budget.calls += 1
            raise self._connection_error(error, path) from None
        self.budget.calls += 1
        # Parameter values are not logged: IP lists can be megabytes long.
        logger.info(
            "Qualys %s %s action=%s -> HTTP %d in %.2f s",
            method,
            path,
            params.get("action", ""),
            response.status_code,
            time.monotonic() - started,
        )
        return response

    def _chunks(self, response: requests.Response, path: str) -> Iterator[bytes]:
        try:
            yield from response.iter_content(CHUNK_BYTES)
        except requests.RequestException as error:
            raise self._connection_error(error, path, reading=True) from None
        except urllib3.exceptions.HTTPError as error:
            raise QualysUnreachable(
                f"The connection to {self.host} broke while reading the reply to {path} "
                f"({error}). {RETRY_ADVICE}"
            ) from None

    def _check(
        self,
        response: requests.Response,
        path: str,
        expect: tuple[str, ...],
        tags: tuple[str, ...],
        resources: ExitStack,
    ) -> OpenResponse:
        status = response.status_code
        stream = XmlStream(
            self._chunks(response, path),
            source=f"Qualys reply to {path}",
            tags=(*expect, *tags, *BODY_ERROR_ROOTS),
        )
        try:
            root = stream.read_root()
        except NotXml as error:
            raise self._not_xml_error(status, response.headers, path, error) from None
        tag = root.tag if isinstance(root.tag, str) else ""
        local = etree.QName(root).localname if tag else ""

        if local == "SIMPLE_RETURN":
            body_error, simple = read_simple_return(stream.read_all())
            if body_error is not None:
                raise self._body_error(body_error, status, response.headers, path)
            if status >= 400:
                raise self._status_error(status, response.headers, path)
            if local not in expect:
                # A list call returns its own document. A SIMPLE_RETURN without
                # a CODE there carries no data, and reading it as an empty
                # list would empty the stored subscription or scanned hosts.
                quoted = f': "{simple.text}"' if simple.text else ""
                raise MessageInsteadOfData(
                    f"Qualys returned a message without an error code for {path} instead of "
                    f"<{expect[0]}> (HTTP {status}){quoted}. No data was read from it. Try again "
                    "later; if it persists, ask Qualys support what the message means.",
                    status=status,
                )
            return OpenResponse(
                status=status, root_tag=local, stream=stream, simple=simple, resources=resources
            )
        if local == "ServiceResponse":
            service_error = read_service_response(stream.read_all())
            if service_error is not None:
                raise self._body_error(service_error, status, response.headers, path)
        if status >= 400:
            raise self._status_error(status, response.headers, path)
        if local not in expect:
            raise UnexpectedResponse(
                f"Qualys returned a <{local}> document for {path} instead of "
                f"<{expect[0]}> (HTTP {status}). Check that the server address is the "
                "platform's API server (qualysapi...), not the web interface.",
                status=status,
            )
        return OpenResponse(
            status=status, root_tag=local, stream=stream, simple=None, resources=resources
        )

    # Limits ---------------------------------------------------------------

    def _share_concurrency_limit(self) -> None:
        """Pass the concurrency limit Qualys reported to a call guard that can use it."""
        learn = getattr(self.call_guard, "learn_limit", None)
        if learn is not None and self.budget.concurrency_limit:
            learn(self.budget.concurrency_limit)

    def _record_budget(self, headers: Mapping[str, str], path: str) -> None:
        budget = self.budget
        budget.updated_at = self.clock()
        limit = _header_int(headers, "X-RateLimit-Limit")
        concurrency = _header_int(headers, "X-Concurrency-Limit-Limit")
        if "X-RateLimit-Limit" in headers or concurrency is not None:
            # Qualys sends "0" (or no figure) when the concurrency limit, not
            # the rate limit, decided the call: that is no usable rate figure.
            budget.rate_limit = limit if limit else None
        for attribute, name in (
            ("rate_remaining", "X-RateLimit-Remaining"),
            ("rate_window_seconds", "X-RateLimit-Window-Sec"),
            ("rate_to_wait_seconds", "X-RateLimit-ToWait-Sec"),
            ("concurrency_limit", "X-Concurrency-Limit-Limit"),
            ("concurrency_running", "X-Concurrency-Limit-Running"),
        ):
            value = _header_int(headers, name)
            if value is not None:
                setattr(budget, attribute, value)
        remaining = _header_int(headers, "X-RateLimit-Remaining")
        if remaining is not None:
            budget.by_api[path] = (remaining, limit if limit else None)

    # Error mapping -------------------------------------------------------

    def _connection_error(
        self, error: requests.RequestException, path: str, *, reading: bool = False
    ) -> QualysError:
        connect, read = self.timeout
        if isinstance(error, requests.exceptions.SSLError):
            reason = _tls_reason(error)
            if "wrong version number" in reason:
                # OpenSSL's words for a plain-HTTP reply to the TLS handshake.
                return TLSFailure(
                    f"{self.host} did not answer the TLS handshake with TLS ({reason}): the "
                    "port probably serves plain HTTP. Enter the server's HTTPS address and port."
                )
            return TLSFailure(
                f"The TLS certificate of {self.host} could not be verified: "
                f"{reason}. If the server uses a certificate from a private or "
                "corporate certificate authority, set QUALYS_CA_BUNDLE to a file with that "
                "authority's certificate; otherwise check that the address is right."
            )
        if isinstance(error, requests.exceptions.ConnectTimeout):
            return QualysTimeout(
                f"No connection to {self.host} within {connect:g} seconds for {path}. Check the "
                "server address, the firewall and the proxy settings, then try again."
            )
        timed_out = isinstance(error, requests.exceptions.ReadTimeout) or any(
            isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in error.args
        )
        if timed_out and _handshake_timed_out(error):
            # urllib3 2 reports a TLS handshake that outlasts the connect
            # timeout as a read timeout, though no request was sent yet.
            return QualysTimeout(
                f"{self.host} accepted the connection but did not complete the TLS handshake "
                f"within {connect:g} seconds for {path}. Check that the address and port "
                "belong to the Qualys API server, then try again."
            )
        if timed_out:
            return ReplyTimeout(
                f"{self.host} sent nothing for {read:g} seconds while answering {path}. Qualys "
                "may be busy: try again later, or raise the read timeout, "
                "QUALYS_READ_TIMEOUT in the environment."
            )
        if isinstance(error, requests.exceptions.ProxyError):
            return QualysUnreachable(
                f"The proxy refused or failed the connection to {self.host} "
                f"({error.args[0]!s:.200}). "
                "Check the HTTPS_PROXY and NO_PROXY settings."
            )
        if reading:
            return QualysUnreachable(
                f"The connection to {self.host} broke while reading the reply to {path}. "
                + RETRY_ADVICE
            )
        return QualysUnreachable(
            f"Could not connect to {self.host} for {path} ({type(error).__name__}). Check the "
            "server address, DNS, the firewall and the proxy settings, then try again."
        )

    def _not_xml_error(
        self, status: int, headers: Mapping[str, str], path: str, error: NotXml
    ) -> QualysError:
        kind = "HTML page" if _looks_like_html(error.preview) else "not XML"
        if status == 401:
            return AuthenticationFailed(BAD_CREDENTIALS.format(where="HTTP 401"), status=status)
        if status in (409, 429):
            # The status and the limit headers tell a rate limit from a concurrency
            # limit when a proxy replaced or dropped the body. NOTE: no Qualys reply
            # of this kind has been seen; the case is handled from the headers alone.
            return self._status_error(status, headers, path)
        if status >= 500:
            return GatewayError(
                f"Qualys returned HTTP {status} ({kind}) for {path}. The Qualys service or a "
                "gateway in front of it is failing: try again later.",
                status=status,
            )
        advice = "Check that the server address is the platform's API server, then try again."
        if status == 414:
            advice = (
                "The request address was too long; this client sends long values as form "
                "bodies, so report this as a bug."
            )
        # An HTML page's parse error means nothing to a user; other text keeps
        # it, because it shows what the reply began with.
        reason = "" if kind == "HTML page" else f" ({error.reason})"
        return UnexpectedResponse(
            f"Qualys returned HTTP {status} ({kind}) for {path} instead of an XML reply"
            f"{reason}. {advice}",
            status=status,
        )

    def _rate_wait(self, headers: Mapping[str, str], items: Mapping[str, list[str]]) -> int:
        waits = [_header_int(headers, "X-RateLimit-ToWait-Sec")]
        for value in items.get("SECONDS_TO_WAIT", []):
            try:
                waits.append(int(value))
            except ValueError:
                continue
        known = [wait for wait in waits if wait is not None]
        if known:
            return max(known)
        # A proxy or gateway in front of Qualys gives its wait as Retry-After.
        retry_after = self._retry_after(headers.get("Retry-After"))
        return FALLBACK_RATE_WAIT_SECONDS if retry_after is None else retry_after

    def _retry_after(self, value: str | None) -> int | None:
        """Return the wait in seconds that a Retry-After header gives, or None.

        The header gives seconds or an HTTP date (RFC 9110, section 10.2.3).
        """
        if not value:
            return None
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0, ceil((when - self.clock()).total_seconds()))

    def rate_limited(self, wait: int, path: str, *, code: int | None, status: int) -> RateLimited:
        # Qualys's sentence is left out on purpose: its wait can disagree
        # with the header and the SECONDS_TO_WAIT item, which are used instead.
        retry_at = (self.clock() + timedelta(seconds=wait)).replace(microsecond=0)
        short = wait <= self.max_wait_seconds
        if code is None:
            # Without Qualys's error code the reply may come from a proxy in front of it.
            summary = f"Rate limit reached for {path} (HTTP {status}, from Qualys or a proxy)"
            ask = "check the proxy's limits, or ask Qualys Support to raise the API limit"
        else:
            summary = f"Qualys rate limit reached for {path} (code {code}, HTTP {status})"
            ask = "ask Qualys Support to raise the API limit"
        return RateLimited(
            f"{summary}: the next call is allowed in {wait} seconds, at "
            f"{retry_at:%Y-%m-%d %H:%M:%S} UTC. Try again after that time, or {ask}.",
            retry_after=wait,
            retry_at=retry_at,
            transient=short,
            code=code,
            status=status,
        )

    def _body_error(
        self, body: ErrorBody, status: int, headers: Mapping[str, str], path: str
    ) -> QualysError:
        if body.kind == "service_response":
            if body.code == "INVALID_CREDENTIALS":
                return AuthenticationFailed(
                    BAD_CREDENTIALS.format(where=f"{body.code}: {body.text}"), status=status
                )
            resolution = f" {body.resolution}" if body.resolution else ""
            return UnexpectedResponse(
                f"Qualys returned {body.code} for {path}: {body.text}.{resolution} "
                "Check the request and the user's permissions.",
                status=status,
            )

        text = body.text or "(no text)"
        try:
            code = int(body.code)
        except ValueError:
            return UnexpectedResponse(
                f"Qualys returned error code {body.code!r} for {path}: {text} Report this "
                "reply to Qualys Support.",
                status=status,
            )
        quoted = f"Qualys: {text.rstrip('. ')} (code {code})."
        if code == 2000:
            return AuthenticationFailed(
                BAD_CREDENTIALS.format(where="code 2000"), code=code, status=status
            )
        if code in (2001, 2002, 2011, 2012):
            advice = {
                2001: "Renew the account with Qualys or use another account.",
                2002: "Ask a Qualys manager to activate the user.",
                2011: "This user needs a SecureID login; use a user allowed to call the API.",
                2012: "Ask a Qualys manager to enable API access for this user's licence.",
            }[code]
            return AccountUnavailable(f"{quoted} {advice}", code=code, status=status)
        if code == 2003:
            return RegistrationIncomplete(
                f"{quoted} Log in to the Qualys web interface and complete the registration, "
                "then try again.",
                code=code,
                status=status,
            )
        if code == 1965:
            wait = self._rate_wait(headers, body.items)
            return self.rate_limited(wait, path, code=code, status=status)
        if code in (1960, 1920, 1981):
            running = _header_int(headers, "X-Concurrency-Limit-Limit")
            limit = f" (limit {running} at a time)" if running else ""
            return ConcurrencyLimited(
                f"{quoted} Other calls of this Qualys API are running{limit}; wait for them "
                "to finish and try again.",
                code=code,
                status=status,
            )
        if code in (999, 1999):
            return ServerError(
                f"{quoted} Qualys has an internal error or scheduled maintenance: try again later.",
                code=code,
                status=status,
            )
        if 1900 <= code <= 1999:
            return InvalidRequest(
                f"{quoted} Qualys rejected the request to {path}: correct what its message names, "
                "or ask your Qualys account manager when it names a licence limit.",
                code=code,
                status=status,
            )
        return QualysError(
            f"{quoted} The call to {path} failed; check the message and try again.",
            code=code,
            status=status,
        )

    def _status_error(self, status: int, headers: Mapping[str, str], path: str) -> QualysError:
        if status == 401:
            return AuthenticationFailed(BAD_CREDENTIALS.format(where="HTTP 401"), status=status)
        if status == 403:
            return AccountUnavailable(
                f"Qualys refused {path} with HTTP 403. The user may be inactive or not allowed "
                "to use the API: check the user's API access.",
                status=status,
            )
        if status == 429:
            wait = self._rate_wait(headers, {})
            return self.rate_limited(wait, path, code=None, status=status)
        if status == 409:
            if (_header_int(headers, "X-RateLimit-ToWait-Sec") or 0) > 0:
                return self.rate_limited(
                    self._rate_wait(headers, {}), path, code=None, status=status
                )
            allowed = _header_int(headers, "X-Concurrency-Limit-Limit")
            limit = f" (limit {allowed} at a time)" if allowed else ""
            return ConcurrencyLimited(
                f"Qualys refused {path} with HTTP 409 (conflict with other running calls"
                f"{limit}). Wait for other Qualys jobs to finish and try again.",
                status=status,
            )
        if status >= 500:
            return ServerError(
                f"Qualys returned HTTP {status} for {path}: the service is failing. "
                "Try again later.",
                status=status,
            )
        return InvalidRequest(
            f"Qualys returned HTTP {status} for {path}. Check the server address and the request.",
            status=status,
        )


def _linked_errors(error: BaseException) -> Iterator[BaseException]:
    """Yield ``error`` and every exception that it wraps, each once.

    requests wraps the ssl and socket errors in two or three other
    exceptions, through their arguments, causes and ``reason`` attributes.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _handshake_timed_out(error: BaseException) -> bool:
    """Return whether ``error`` comes from a TLS handshake that timed out.

    The ssl module raises TimeoutError("_ssl.c:989: The handshake operation
    timed out") (CPython 3.11).
    """
    return any(
        isinstance(linked, TimeoutError) and "handshake" in str(linked)
        for linked in _linked_errors(error)
    )


def _tls_reason(error: BaseException) -> str:
    """Return why a TLS handshake failed, in OpenSSL's words ("self-signed certificate")."""
    for current in _linked_errors(error):
        if isinstance(current, ssl.SSLCertVerificationError) and current.verify_message:
            return current.verify_message
        if isinstance(current, ssl.SSLError) and current.reason:
            return current.reason.replace("_", " ").lower()
    return "the TLS handshake failed"
