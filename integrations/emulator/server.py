"""The emulator's server: a threading HTTP server on loopback, with TLS per connection.

The TLS handshake runs in the connection's own thread rather than in the
accept loop, so a client that connects and stalls (or speaks plain HTTP to
the HTTPS port) cannot block other clients.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
import ssl
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from .certificate import write_self_signed
from .handler import EmulatorApp, EmulatorHandler

logger = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 30


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, host: str, port: int, app: EmulatorApp, ssl_context: ssl.SSLContext | None):
        address = ipaddress.ip_address(host)
        if not address.is_loopback:
            raise ValueError(f"the emulator binds to loopback only, not {host}")
        self.address_family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        self.app = app
        self.ssl_context = ssl_context
        super().__init__((host, port), EmulatorHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        scheme = "https" if self.ssl_context is not None else "http"
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{port}"

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            secure = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            # Plain HTTP on the HTTPS port ends here: the connection is closed.
            logger.info("TLS handshake with %s failed: %s", client_address[0], error)
            return
        try:
            super().finish_request(secure, client_address)
        finally:
            try:
                secure.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            secure.close()


def tls_context(cert_path: Path) -> ssl.SSLContext:
    """Write a fresh self-signed certificate to ``cert_path`` and return a server context."""
    key_path = write_self_signed(cert_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context


def serve_until_signal(server: EmulatorServer) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting and close the socket."""
    stop = threading.Event()

    def request_stop(signum, frame) -> None:
        logger.info("received signal %s, stopping", signum)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name="emulator-accept",
        daemon=True,
    )
    thread.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
