"""TLS trust, CA bundle against REQUESTS_CA_BUNDLE, proxies and streaming on a loopback server."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integrations.qualys import QualysClient, QualysTimeout, QualysUnreachable, TLSFailure
from tests.support.services import free_port

from .conftest import IP_URL, PASSWORD, USERNAME, fixture_bytes

SYSTEM_BUNDLE = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"


def write_self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and its key; return both paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / f"{name}.pem"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class LoopbackQualys:
    """A tiny HTTPS server on 127.0.0.1 that serves one host list, optionally in held-back parts."""

    def __init__(self, cert: Path, key: Path):
        self.requests: list[dict[str, str]] = []
        self.release_rest = threading.Event()
        self.hold_after_first_host = False
        self.tail_sent = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
                server.requests.append({"path": self.path, **dict(self.headers)})
                # The held part starts inside the second host.
                head = (
                    b'<?xml version="1.0" encoding="UTF-8" ?><HOST_LIST_OUTPUT><RESPONSE>'
                    b"<HOST_LIST><HOST><ID>1</ID><IP>192.0.2.1</IP></HOST><HOST><ID>2</ID>"
                )
                tail = b"<IP>192.0.2.2</IP></HOST></HOST_LIST></RESPONSE></HOST_LIST_OUTPUT>"
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self._chunk(head)
                if server.hold_after_first_host:
                    server.release_rest.wait(timeout=10)
                self._chunk(tail)
                server.tail_sent.set()
                self._chunk(b"")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"https://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.release_rest.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def certificates(tmp_path) -> dict[str, Path]:
    server_cert, server_key = write_self_signed(tmp_path, "loopback-qualys")
    other_cert, _ = write_self_signed(tmp_path, "unrelated-ca")
    return {"cert": server_cert, "key": server_key, "other": other_cert}


@pytest.fixture
def loopback(certificates, monkeypatch) -> Iterator[LoopbackQualys]:
    # The environment variable that requests lets override session.verify.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)
    monkeypatch.setenv("CURL_CA_BUNDLE", SYSTEM_BUNDLE)
    for name in (
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    server = LoopbackQualys(certificates["cert"], certificates["key"])
    yield server
    server.stop()


def make(url: str, **options) -> QualysClient:
    return QualysClient(
        url, USERNAME, PASSWORD, max_retries=0, connect_timeout=5, read_timeout=10, **options
    )


def test_ca_bundle_wins_over_requests_ca_bundle(loopback, certificates):
    client = make(loopback.url, ca_bundle=str(certificates["cert"]))

    hosts = list(client.iter_scanned_hosts())

    assert [host.ip for host in hosts] == ["192.0.2.1", "192.0.2.2"]
    request = loopback.requests[0]
    assert request["path"].startswith("/api/2.0/fo/asset/host/?")
    assert request["X-Requested-With"] == "lumeta-qualys"
    assert request["Authorization"].startswith("Basic ")


def test_without_ca_bundle_private_certificate_is_rejected(loopback):
    client = make(loopback.url)

    with pytest.raises(TLSFailure, match="could not be verified") as raised:
        list(client.iter_scanned_hosts())

    assert raised.value.message.startswith(
        f"The TLS certificate of 127.0.0.1:{loopback.port} could not be verified: "
        "self-signed certificate. If the server uses a certificate from a private or corporate "
        "certificate authority, set QUALYS_CA_BUNDLE"
    )
    assert loopback.requests == []


def test_unrelated_ca_bundle_is_rejected(loopback, certificates):
    client = make(loopback.url, ca_bundle=str(certificates["other"]))

    with pytest.raises(TLSFailure):
        client.check_credentials()


def test_combined_bundle_keeps_system_authorities(certificates):
    client = make("https://qualysapi.example.test", ca_bundle=str(certificates["cert"]))

    bundle = Path(client._transport.verify).read_bytes()

    assert certificates["cert"].read_bytes().strip() in bundle
    assert Path(SYSTEM_BUNDLE).read_bytes().strip()[:2000] in bundle
    assert bundle.count(b"BEGIN CERTIFICATE") > 10


def test_verify_passed_per_request_is_the_combined_bundle(mocked, certificates, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)
    client = QualysClient(
        "https://qualysapi.example.test", USERNAME, PASSWORD, ca_bundle=str(certificates["cert"])
    )
    mocked.get(IP_URL, body=fixture_bytes("ip_list_one_ip.xml"))

    client.list_subscription()

    verify = mocked.calls[0].request.req_kwargs["verify"]
    assert verify == client._transport.verify
    assert verify != SYSTEM_BUNDLE
    assert "lumeta-qualys-ca-" in verify


@pytest.mark.parametrize(
    ("content", "match"),
    [(None, "cannot be read"), (b"not a certificate\n", "no usable PEM certificate")],
)
def test_unusable_ca_bundle_is_reported(tmp_path, content, match):
    path = tmp_path / "bundle.pem"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(TLSFailure, match=match) as raised:
        make("https://qualysapi.example.test", ca_bundle=str(path))

    assert str(path) in raised.value.message


def test_proxy_variables_are_honoured(loopback, certificates, monkeypatch):
    closed_port = free_port()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port}")
    client = make(loopback.url, ca_bundle=str(certificates["cert"]))

    with pytest.raises(QualysUnreachable, match="proxy"):
        client.check_credentials()
    assert loopback.requests == []

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert [host.id for host in client.iter_scanned_hosts()] == [1, 2]


def test_first_host_arrives_while_server_holds_the_rest(loopback, certificates):
    loopback.hold_after_first_host = True
    client = make(loopback.url, ca_bundle=str(certificates["cert"]))

    hosts = client.iter_scanned_hosts()
    first = next(hosts)
    tail_sent_before_first_host = loopback.tail_sent.is_set()
    loopback.release_rest.set()
    rest = list(hosts)

    assert first.ip == "192.0.2.1"
    assert not tail_sent_before_first_host
    assert [host.ip for host in rest] == ["192.0.2.2"]


def test_plain_http_address_is_rejected():
    with pytest.raises(ValueError, match="not an https:// URL"):
        QualysClient("http://qualysapi.example.test", USERNAME, PASSWORD)


def test_tampered_bundle_file_is_rewritten(certificates):
    first = make("https://qualysapi.example.test", ca_bundle=str(certificates["cert"]))
    path = Path(first._transport.verify)
    path.write_bytes(certificates["other"].read_bytes())

    second = make("https://qualysapi.example.test", ca_bundle=str(certificates["cert"]))

    assert second._transport.verify == str(path)
    assert certificates["cert"].read_bytes().strip() in path.read_bytes()
    assert certificates["other"].read_bytes().strip() not in path.read_bytes()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_stalled_tls_handshake_is_named(silent_server):
    client = QualysClient(
        f"https://127.0.0.1:{silent_server}",
        USERNAME,
        PASSWORD,
        connect_timeout=1,
        read_timeout=30,
        max_retries=0,
    )

    with pytest.raises(QualysTimeout) as raised:
        client.check_credentials()

    assert raised.value.message.startswith(
        f"127.0.0.1:{silent_server} accepted the connection but did not complete the TLS "
        "handshake within 1 seconds"
    )


def test_plain_http_port_is_named(tmp_path):
    class Plain(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = make(f"https://127.0.0.1:{server.server_port}")
        with pytest.raises(TLSFailure) as raised:
            client.check_credentials()
    finally:
        server.shutdown()
        server.server_close()

    assert raised.value.message == (
        f"127.0.0.1:{server.server_port} did not answer the TLS handshake with TLS (wrong "
        "version number): the port probably serves plain HTTP. Enter the server's HTTPS "
        "address and port."
    )
