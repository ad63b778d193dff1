"""The HTTP side: routing, authentication, limits, faults and writing the reply.

A call goes through these steps in order:

1. route the path, then read and merge the parameters;
2. apply ``bad_credentials`` faults, then check Basic auth or the session cookie;
3. check ``X-Requested-With``, then apply account faults;
4. check the concurrency and rate limits (forced ones first);
5. apply ``slow`` and reply faults, run the call, and apply body faults while writing.

Limit headers go on every reply except 401 replies, session calls, HTML pages
and control calls.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import calls, xmlout
from .calls import Call, Reply
from .faults import Fault, FaultBook, FaultError, parse_fault
from .limits import LimitStatus, LimitTracker, Refusal
from .params import ApiError, merge_parameters
from .state import EmulatorState, StateError, build_state

if TYPE_CHECKING:
    from .server import EmulatorServer

logger = logging.getLogger(__name__)

ROUTES = {
    "/api/2.0/fo/asset/ip": "asset/ip",
    "/api/2.0/fo/asset/ip/v4_v6": "asset/ip/v4_v6",
    "/api/2.0/fo/asset/group": "asset/group",
    "/api/2.0/fo/asset/host": "asset/host",
    "/api/3.0/fo/asset/host": "asset/host",
    "/api/2.0/fo/session": "session",
    "/msp/about.php": "msp/about",
}

# Apache's default limit on the request line; longer GET URLs get an HTML 414.
MAX_REQUEST_LINE = 8190
CHUNK_SIZE = 64 * 1024
XML_TEXT = "text/xml;charset=UTF-8"


class EmulatorApp:
    """The emulator's shared runtime: state, limits, faults and sessions."""

    def __init__(self, state: EmulatorState, base_url: str = "", quiet: bool = False):
        self.state = state
        self.base_url = base_url
        self.quiet = quiet
        self.limits = LimitTracker(state.limits)
        self.faults = FaultBook(state.faults)
        self.sessions: dict[str, str] = {}
        self._sessions_lock = threading.Lock()

    def open_session(self, user: str) -> str:
        token = secrets.token_hex(16)
        with self._sessions_lock:
            self.sessions[token] = user
        return token

    def close_session(self, token: str) -> bool:
        with self._sessions_lock:
            return self.sessions.pop(token, None) is not None

    def session_user(self, token: str) -> str | None:
        with self._sessions_lock:
            return self.sessions.get(token)

    def replace_state(self, state: EmulatorState) -> None:
        """Swap in a new state (same file), with fresh limit counters and no sessions."""
        with self.state.lock:
            state.path = self.state.path
            self.state = state
            self.limits = LimitTracker(state.limits)
            self.faults = FaultBook(state.faults)
            with self._sessions_lock:
                self.sessions.clear()
            state.save()

    def take_faults(self, stage: str, endpoint: str, action: str, page: int) -> list[Fault]:
        """Return the faults of a stage for this call and save the state if one was used up."""
        taken = self.faults.take(stage, endpoint, action, page)
        if any(fault.times is not None for fault in taken):
            self.state.save()
        return taken


class EmulatorHandler(BaseHTTPRequestHandler):
    """Handles one HTTP connection; keep-alive is supported (HTTP/1.1)."""

    protocol_version = "HTTP/1.1"
    server_version = "Qualys"
    sys_version = ""
    timeout = 300
    server: EmulatorServer

    # Entry points ------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (name fixed by BaseHTTPRequestHandler)
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def version_string(self) -> str:
        return "Qualys"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if not self.server.app.quiet:
            logger.info("%s %s", self.address_string(), format % args)

    @property
    def app(self) -> EmulatorApp:
        return self.server.app

    # Steps ---------------------------------------------------------------------------

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            return
        if parts.path.startswith("/_emulator/"):
            self._control(parts.path, body)
            return
        content_type = self.headers.get("Content-Type", "application/x-www-form-urlencoded")
        if "form-urlencoded" not in content_type:
            # Qualys reads form fields only; other bodies carry no parameters.
            body = ""
        endpoint = ROUTES.get(parts.path.rstrip("/") or "/")
        if endpoint is None:
            page = xmlout.html_error_page(404, "Not Found", f"{parts.path} was not found.")
            self._send_plain(404, page, "text/html; charset=iso-8859-1")
            return
        if len(self.requestline) > MAX_REQUEST_LINE:
            detail = "The requested URL's length exceeds the capacity limit for this server."
            self._send_plain(
                414,
                xmlout.html_error_page(414, "Request-URI Too Long", detail),
                "text/html; charset=iso-8859-1",
            )
            return
        params = merge_parameters(parts.query, body)
        action = params.get("action", "")
        page = self._page(endpoint, params)
        call = Call(endpoint, action, parts.path, params, "", self.app.base_url, self.command)

        if endpoint == "session":
            self._session(call)
            return
        user = self._authenticate(call)
        if user is None:
            return
        call.user = user
        if not self.headers.get("X-Requested-With"):
            # NOTE: the real error for a missing X-Requested-With header is not known.
            self._send_error_reply(
                ApiError(400, 1903, "Missing required header: X-Requested-With"),
                self.app.limits.peek(endpoint),
            )
            return
        if self._account_faults(endpoint, action, page):
            return
        status = self._acquire(endpoint, action, page)
        if status is None:
            return
        try:
            self._run(call, page, status)
        finally:
            self.app.limits.release(endpoint)

    def _read_body(self) -> str | None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            raw = bytes(data)
        elif length:
            try:
                raw = self.rfile.read(int(length))
            except ValueError:
                self._send_plain(400, "Invalid Content-Length\n", "text/plain")
                return None
        else:
            raw = b""
        return raw.decode("utf-8", errors="replace")

    def _page(self, endpoint: str, params: dict[str, str]) -> int:
        if endpoint == "asset/host":
            return calls.page_number(self.app.state.host_ids, params, calls.HOST_PAGE_DEFAULT)
        if endpoint == "asset/group":
            with self.app.state.lock:
                ids = sorted(self.app.state.asset_groups)
            return calls.page_number(ids, params, calls.GROUP_PAGE_DEFAULT)
        return 1

    def _basic_user(self) -> str | None:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        name, separator, password = decoded.partition(":")
        users = self.app.state.users
        if separator and name in users and secrets.compare_digest(users[name], password):
            return name
        return None

    def _session_token(self) -> str | None:
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "QualysSession" and value:
                return value
        return None

    def _authenticate(self, call: Call) -> str | None:
        """Return the user, or send 401 with CODE 2000 and return None."""
        if self.app.take_faults("auth", call.endpoint, call.action, 1):
            user = None
        else:
            user = self._basic_user()
            token = self._session_token()
            if user is None and token and "/2.0/" in call.path:
                user = self.app.session_user(token)
        if user is None:
            body = xmlout.simple_return("Bad Login/Password", code=2000)
            self._send_plain(401, body, XML_TEXT, {"WWW-Authenticate": 'Basic realm="MSP Portal"'})
        return user

    def _account_faults(self, endpoint: str, action: str, page: int) -> bool:
        for fault in self.app.take_faults("account", endpoint, action, page):
            status = self.app.limits.peek(endpoint)
            if fault.kind == "expired":
                body = xmlout.simple_return("This account has expired.", code=2001)
                self._send_plain(200, body, XML_TEXT, status.headers())
            else:
                self._send_error_reply(
                    ApiError(
                        409,
                        2003,
                        "Registration must be completed before API requests will be served "
                        "for this account",
                    ),
                    status,
                )
            return True
        return False

    def _acquire(self, endpoint: str, action: str, page: int) -> LimitStatus | None:
        """Count the call against the limits, or send 409 and return None."""
        forced = self.app.take_faults("limit", endpoint, action, page)
        result: LimitStatus | Refusal
        if forced:
            base = self.app.limits.peek(endpoint)
            fault = forced[0]
            if fault.kind == "concurrency_limit":
                status = LimitStatus(
                    base.limit,
                    base.window,
                    base.remaining,
                    0,
                    base.concurrency_limit,
                    base.concurrency_limit,
                )
                result = Refusal(1960, status)
            else:
                wait = int(fault.option("seconds_to_wait"))
                status = LimitStatus(
                    base.limit, base.window, 0, wait, base.concurrency_limit, base.running
                )
                result = Refusal(1965, status)
        else:
            result = self.app.limits.acquire(endpoint)
        if isinstance(result, LimitStatus):
            return result
        self._send_refusal(result)
        return None

    def _send_refusal(self, refusal: Refusal) -> None:
        status = refusal.status
        if refusal.code == 1960:
            running = max(status.running, 1)
            error = ApiError(
                409,
                1960,
                f"This API cannot be run again until {running} currently running "
                f"instance{'s have' if running > 1 else ' has'} finished.",
            )
            items = [("CALLS_TO_FINISH", [running])]
        else:
            wait = status.to_wait
            hours, rest = divmod(wait, 3600)
            minutes, seconds = divmod(rest, 60)
            error = ApiError(
                409,
                1965,
                f"This API cannot be run again for another {hours} hours, {minutes} minutes "
                f"and {seconds} seconds.",
            )
            items = [("SECONDS_TO_WAIT", [wait])]
        self._send_error_reply(error, status, items)

    def _run(self, call: Call, page: int, status: LimitStatus) -> None:
        for fault in self.app.take_faults("delay", call.endpoint, call.action, page):
            time.sleep(float(fault.option("delay")))
        for fault in self.app.take_faults("reply", call.endpoint, call.action, page):
            self._send_fault_reply(fault, status)
            return
        try:
            reply = calls.dispatch(self.app.state, call)
        except ApiError as error:
            self._send_error_reply(error, status)
            return
        body_faults = self.app.take_faults("body", call.endpoint, call.action, page)
        headers = {**status.headers(), **reply.headers}
        if body_faults:
            self._send_faulty_body(reply, body_faults, headers)
        elif isinstance(reply.body, str):
            self._send_plain(reply.status, reply.body, reply.content_type, headers)
        else:
            self._send_chunked(reply.status, reply.body, reply.content_type, headers)

    # Session login and logout ------------------------------------------------------

    def _session(self, call: Call) -> None:
        if call.method != "POST":
            self._send_plain(
                400,
                xmlout.simple_return(
                    "HTTP method GET is not allowed for session calls. Use POST.", code=1908
                ),
                XML_TEXT,
            )
            return
        if not self.headers.get("X-Requested-With"):
            self._send_plain(
                400,
                xmlout.simple_return("Missing required header: X-Requested-With", code=1903),
                XML_TEXT,
            )
            return
        if call.action == "login":
            name = call.params.get("username", "")
            password = call.params.get("password", "")
            known = self.app.state.users.get(name)
            if known is None or not secrets.compare_digest(known, password):
                self._send_plain(
                    401, xmlout.simple_return("Bad Login/Password", code=2000), XML_TEXT
                )
                return
            token = self.app.open_session(name)
            secure = "; secure" if self.server.ssl_context is not None else ""
            cookie = f"QualysSession={token}; path=/api{secure}"
            self._send_plain(
                200, xmlout.simple_return("Logged in"), XML_TEXT, {"Set-Cookie": cookie}
            )
        elif call.action == "logout":
            token = self._session_token()
            if token is None or not self.app.close_session(token):
                self._send_plain(
                    401, xmlout.simple_return("Bad Login/Password", code=2000), XML_TEXT
                )
                return
            self._send_plain(200, xmlout.simple_return("Logged out"), XML_TEXT)
        else:
            self._send_plain(
                400,
                xmlout.simple_return(
                    f"parameter action has invalid value: {call.action} (use login or logout)",
                    code=1905,
                ),
                XML_TEXT,
            )

    # Control endpoints (emulator only) --------------------------------------------

    def _control(self, path: str, body: str) -> None:
        """Serve the ``/_emulator/`` control calls (status, faults, state); see docs/emulator.md."""
        state = self.app.state
        if path == "/_emulator/status" and self.command == "GET":
            with state.lock:
                data = {
                    "running": self.app.limits.running(),
                    "faults": [fault.to_json() for fault in state.faults],
                    "hosts": len(state.hosts),
                    "asset_groups": len(state.asset_groups),
                    "subscription_size": state.subscription.size,
                    "write_log_length": len(state.write_log),
                }
            self._send_plain(200, json.dumps(data), "application/json")
            return
        if path == "/_emulator/faults" and self.command == "POST":
            try:
                items = json.loads(body or "[]")
                if not isinstance(items, list):
                    raise FaultError("the body must be a JSON list of faults")
                faults = [parse_fault(item) for item in items]
            except (json.JSONDecodeError, FaultError) as error:
                self._send_plain(400, json.dumps({"error": str(error)}), "application/json")
                return
            with state.lock:
                self.app.faults.replace(faults)
                state.save()
            self._send_plain(200, json.dumps({"faults": len(faults)}), "application/json")
            return
        if path == "/_emulator/state" and self.command == "POST":
            try:
                raw = json.loads(body or "{}")
                if not isinstance(raw, dict):
                    raise StateError("the body must be a JSON object in the state-file format")
                self.app.replace_state(build_state(raw))
            except (json.JSONDecodeError, StateError) as error:
                self._send_plain(400, json.dumps({"error": str(error)}), "application/json")
                return
            self._send_plain(
                200, json.dumps({"hosts": len(self.app.state.hosts)}), "application/json"
            )
            return
        self._send_plain(
            404, json.dumps({"error": f"no control call {self.command} {path}"}), "application/json"
        )

    # Writing replies ---------------------------------------------------------------

    def _send_error_reply(
        self,
        error: ApiError,
        status: LimitStatus,
        items: list[tuple[str, list[object]]] | None = None,
    ) -> None:
        headers = status.headers()
        if error.code == 1965:
            headers["X-RateLimit-ToWait-Sec"] = str(status.to_wait)
        # A recorded HTTP 400 body and the known 409 bodies have no XML
        # declaration, unlike 200 and 401 bodies.
        body = xmlout.simple_return(
            error.message,
            code=error.code,
            items=items or (),
            declaration=error.status not in (400, 409),
        )
        self._send_plain(error.status, body, "application/xml", headers)

    def _send_fault_reply(self, fault: Fault, status: LimitStatus) -> None:
        code = int(fault.option("status"))
        if fault.kind == "html":
            reasons = {
                414: "Request-URI Too Long",
                502: "Bad Gateway",
                503: "Service Unavailable",
                504: "Gateway Timeout",
            }
            reason = reasons.get(code, "Error")
            page = xmlout.html_error_page(code, reason, "The server returned an error page.")
            self._send_plain(code, page, "text/html; charset=iso-8859-1")
            return
        body = xmlout.simple_return(
            "Internal error. Please contact customer support.", code=int(fault.option("code"))
        )
        self._send_plain(code, body, "application/xml", status.headers())

    def _send_faulty_body(self, reply: Reply, faults: list[Fault], headers: dict[str, str]) -> None:
        text = reply.body if isinstance(reply.body, str) else "".join(reply.body)
        drop = False
        for fault in faults:
            if fault.kind == "comments":
                text = _add_comments(text)
            elif fault.kind == "no_declaration":
                text = text.removeprefix(xmlout.DECLARATION)
            elif fault.kind == "malformed":
                text = text.replace("</DATETIME>", "</DATETIM>", 1)
            elif fault.kind == "truncated":
                text = _cut_mid_element(text)
                drop = bool(fault.option("drop_connection"))
        if drop:
            data = text.encode("utf-8")
            self.send_response(reply.status)
            self._write_headers(reply.content_type, headers, {"Content-Length": str(len(data) * 2)})
            self.wfile.write(data)
            self.wfile.flush()
            self.close_connection = True
            return
        self._send_plain(reply.status, text, reply.content_type, headers)

    def _write_headers(self, content_type: str, *groups: dict[str, str]) -> None:
        self.send_header("Content-Type", content_type)
        for group in groups:
            for name, value in group.items():
                self.send_header(name, value)
        self.end_headers()

    def _send_plain(
        self, status: int, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self._write_headers(content_type, headers or {}, {"Content-Length": str(len(data))})
        self.wfile.write(data)

    def _send_chunked(
        self, status: int, pieces: Iterator[str], content_type: str, headers: dict[str, str]
    ) -> None:
        self.send_response(status)
        self._write_headers(content_type, headers, {"Transfer-Encoding": "chunked"})
        buffer: list[str] = []
        size = 0
        for piece in pieces:
            buffer.append(piece)
            size += len(piece)
            if size >= CHUNK_SIZE:
                self._write_chunk("".join(buffer).encode("utf-8"))
                buffer, size = [], 0
        if buffer:
            self._write_chunk("".join(buffer).encode("utf-8"))
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _add_comments(text: str) -> str:
    """Put the evaluation banner before the root element and the copyright after it."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("<") and not line.startswith(("<?", "<!")):
            lines.insert(index, xmlout.BANNER_COMMENT.rstrip("\n"))
            break
    return "\n".join(lines) + xmlout.BANNER_COMMENT + xmlout.COPYRIGHT_COMMENT


def _cut_mid_element(text: str) -> str:
    """Cut a body in the middle, a few characters into an element's start tag."""
    start = text.find("<", len(text) // 2)
    if start == -1:
        start = text.rfind("<")
    return text[: start + 4]
