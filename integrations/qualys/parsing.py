"""Streaming, hardened parsing of Qualys XML bodies.

Bodies are parsed from bytes as they arrive, never from ``response.text``
(lxml rejects a ``str`` that carries an encoding declaration) and never as
one tree: list records are converted and removed from the tree chunk by
chunk, so a 500,000-host page stays small in memory and the first hosts
reach the caller before the body has been read to the end.

Every parse goes through ``XmlStream`` with the one hardened option set
``PARSER_OPTIONS``: no DTD loading, no network, no entity expansion, and
bodies that declare entities are rejected outright. An lxml feed parser
holds the state of the document it is reading and is not thread-safe, so
``XmlStream`` makes one per body from these options rather than sharing a
single parser object between concurrent calls.
"""

from __future__ import annotations

import codecs
import operator
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from integrations.qualys.errors import RETRY_ADVICE, MalformedResponse
from integrations.qualys.records import IPv6Mapping, ScannedHostRecord, SimpleReturn
from lumeta_qualys.ipset import AddressError, IPSet, canonical_address, parse_range

PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": True,
    "remove_comments": True,
    "remove_pis": True,
    "strip_cdata": True,
    "remove_blank_text": True,
}

# Bytes that XML 1.0 forbids. In UTF-8 they never occur inside a multi-byte
# sequence, so deleting them cannot damage other characters. Qualys data has
# carried NUL characters in text fields.
_CONTROL_BYTES = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20))
_WHITESPACE = b" \t\r\n"

Warn = Callable[[str], None]


class NotXml(Exception):
    """The body ended or broke before an XML root element started."""

    def __init__(self, reason: str, preview: str):
        super().__init__(reason)
        self.reason = reason
        self.preview = preview


class XmlStream:
    """Pull-parse an XML body from an iterator of byte chunks.

    Leading whitespace (and a UTF-8 byte order mark) before ``<?xml`` is
    stripped, bytes that XML forbids are removed and counted in
    ``removed_control_bytes``, and a body whose DOCTYPE declares entities is
    rejected with MalformedResponse.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        source: str = "Qualys response",
        tags: Iterable[str] | None = None,
    ):
        self._chunks = iter(chunks)
        # With ``tags``, events come only for those elements (the expected
        # roots and the list containers), which keeps the Python work small.
        # The tree is still built in full until the caller deletes what it read.
        self._tags = frozenset(tags) if tags is not None else None
        options: dict[str, object] = dict(PARSER_OPTIONS)
        if self._tags is not None:
            options["tag"] = tuple(self._tags)
        # Only start events: with end events requested, lxml (6.x) wraps the
        # end of every element in a handler that takes the GIL, whatever the
        # tag filter, which added about a quarter to the parse of a long host list.
        self._parser = etree.XMLPullParser(events=("start",), **options)
        self._closed_root: etree._Element | None = None
        self._buffered: list[tuple[str, etree._Element]] = []
        self._started = False
        self._clean = True
        self._ended = False
        self._head = b""
        self.source = source
        self.root: etree._Element | None = None
        self.bytes_read = 0
        self.removed_control_bytes = 0

    # Feeding -------------------------------------------------------------

    def _prepare(self, chunk: bytes) -> bytes:
        if not self._started:
            if chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
            chunk = chunk.lstrip(_WHITESPACE)
            if not chunk:
                return b""
            self._started = True
            # A UTF-16 body (BOM or a NUL byte next to the first "<") must keep
            # its zero bytes. Every Qualys body seen so far is UTF-8.
            if chunk[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in chunk[:2]:
                self._clean = False
        if len(self._head) < 512:
            self._head += chunk[: 512 - len(self._head)]
        if self._clean:
            cleaned = chunk.translate(None, _CONTROL_BYTES)
            self.removed_control_bytes += len(chunk) - len(cleaned)
            chunk = cleaned
        return chunk

    def _feed_next(self) -> bool:
        """Feed one more chunk; return False once the body has ended."""
        if self._ended:
            return False
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._ended = True
            if not self._started:
                raise NotXml("the body is empty", "") from None
            try:
                self._closed_root = self._parser.close()
            except etree.XMLSyntaxError as error:
                self._syntax_error(error, at_end=True)
            return False
        self.bytes_read += len(chunk)
        data = self._prepare(chunk)
        if data:
            try:
                self._parser.feed(data)
            except etree.XMLSyntaxError as error:
                self._syntax_error(error)
        return True

    def _syntax_error(self, error: etree.XMLSyntaxError, *, at_end: bool = False) -> None:
        if self.root is None:
            # The root may have started in the same chunk as the error.
            try:
                pending = list(self._parser.read_events())
            except etree.XMLSyntaxError:
                pending = []
            for event, element in pending:
                if event == "start":
                    self.root = element.getroottree().getroot()
                    break
        if self.root is None:
            preview = self._head.decode("utf-8", "replace")[:200]
            raise NotXml(str(error), preview) from None
        line = getattr(error, "lineno", None)
        if at_end:
            raise MalformedResponse(
                f"The {self.source} ends before the XML document is complete "
                f"(after {self.bytes_read} bytes); the connection was probably cut. "
                f"Nothing from this response was used as complete data. {RETRY_ADVICE}"
            ) from None
        raise MalformedResponse(
            f"The {self.source} is not well-formed XML (line {line}: {error.msg}). "
            "Nothing from it was used as complete data. Start the sync or the connection test "
            "again, and report the problem to Qualys Support if it repeats."
        ) from None

    # Events --------------------------------------------------------------

    def _check_root(self, element: etree._Element) -> None:
        dtd = element.getroottree().docinfo.internalDTD
        if dtd is not None and any(True for _ in dtd.iterentities()):
            raise MalformedResponse(
                f"The {self.source} declares DTD entities, which are not allowed in "
                "Qualys responses and were not expanded. Check that the server address "
                "points at a Qualys API server."
            )
        self.root = element

    def events(self) -> Iterator[tuple[str, etree._Element]]:
        """Yield ``(event, element)`` pairs until the document ends."""
        while True:
            if self._buffered:
                yield from self._buffered
                self._buffered = []
            for event, element in self._parser.read_events():
                if self.root is None and event == "start":
                    self._check_root(element.getroottree().getroot())
                yield event, element
            if not self._feed_next():
                for event, element in self._parser.read_events():
                    yield event, element
                return

    def batches(self) -> Iterator[list[tuple[str, etree._Element]]]:
        """Yield the events of each chunk fed, as one list (empty when there were none).

        A caller can read the completed children of an open element between
        batches: every child but the last one of an element still being
        parsed is complete, because XML opens a sibling only after the
        previous one has closed.
        """
        while True:
            batch = self._buffered + list(self._parser.read_events())
            self._buffered = []
            if self.root is None:
                for event, element in batch:
                    if event == "start":
                        self._check_root(element.getroottree().getroot())
                        break
            yield batch
            if not self._feed_next():
                rest = list(self._parser.read_events())
                if rest:
                    yield rest
                return

    def read_root(self) -> etree._Element:
        """Read until the root element starts and return it (still empty)."""
        while self.root is None:
            for event, element in self._parser.read_events():
                self._buffered.append((event, element))
                if self.root is None and event == "start":
                    self._check_root(element.getroottree().getroot())
            if self.root is None and not self._feed_next():
                if self._closed_root is not None:
                    # A well-formed document whose root is not among the requested tags.
                    self._check_root(self._closed_root)
                    break
                raise NotXml(
                    "the body contains no XML element", self._head.decode("utf-8", "replace")
                )
        assert self.root is not None
        return self.root

    def read_all(self) -> etree._Element:
        """Read the rest of the document without discarding anything and return the root."""
        for _ in self.events():
            pass
        if self.root is None and self._closed_root is not None:
            self._check_root(self._closed_root)
        if self.root is None:
            raise NotXml("the body contains no XML element", self._head.decode("utf-8", "replace"))
        return self.root


def parse_document(data: bytes) -> etree._Element:
    """Parse a whole small body (leading whitespace allowed) with the shared parser."""
    stream = XmlStream([data])
    return stream.read_all()


# Field helpers -------------------------------------------------------------


def text_of(element: etree._Element | None) -> str:
    """Return the stripped text of an element, or "" when it is missing."""
    if element is None or element.text is None:
        return ""
    return element.text.strip()


def child_text(element: etree._Element, tag: str) -> str:
    return text_of(element.find(tag))


def parse_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_utc(text: str) -> datetime | None:
    """Parse a Qualys timestamp (``YYYY-MM-DDTHH:MM:SSZ``) into an aware UTC datetime."""
    if not text:
        return None
    try:
        # Python 3.11 reads the "Z" suffix as UTC.
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


# SIMPLE_RETURN and ServiceResponse --------------------------------------------


@dataclass(frozen=True)
class ErrorBody:
    """An error carried in a body: a SIMPLE_RETURN CODE or a ServiceResponse code."""

    kind: str  # "simple_return" or "service_response"
    code: str
    text: str
    items: dict[str, list[str]] = field(default_factory=dict)
    resolution: str = ""


def read_simple_return(root: etree._Element) -> tuple[ErrorBody | None, SimpleReturn]:
    """Read a whole SIMPLE_RETURN; the error part is ``None`` when it has no CODE."""
    response = root.find("RESPONSE")
    if response is None:
        response = root
    items: dict[str, list[str]] = {}
    for item in response.iterfind("ITEM_LIST/ITEM"):
        key = child_text(item, "KEY")
        items.setdefault(key, []).extend(text_of(value) for value in item.iterfind("VALUE"))
    text = " ".join(child_text(response, "TEXT").split())
    code = child_text(response, "CODE")
    if code:
        return ErrorBody("simple_return", code, text, items), SimpleReturn(text, items)
    return None, SimpleReturn(text, items)


def read_service_response(root: etree._Element) -> ErrorBody | None:
    """Read a ServiceResponse body; ``None`` when its responseCode is SUCCESS."""
    code = child_text(root, "responseCode")
    if code == "SUCCESS":
        return None
    return ErrorBody(
        "service_response",
        code or "UNKNOWN",
        " ".join(text_of(root.find("responseErrorDetails/errorMessage")).split()),
        resolution=" ".join(text_of(root.find("responseErrorDetails/errorResolution")).split()),
    )


# List records ----------------------------------------------------------------------


@dataclass
class Warning1980:
    """The paging WARNING at the end of a truncated list."""

    code: str
    text: str
    url: str

    def next_id_min(self) -> str | None:
        """Return the ``id_min`` of the next page's URL, or None if it has none.

        Inside CDATA an ampersand is literal, so a URL escaped as well,
        ``...&amp;id_min=3``, is read as the URL it stands for.
        """
        query = urlsplit(self.url).query.replace("&amp;", "&")
        values = parse_qs(query).get("id_min")
        return values[-1] if values else None


def read_warning(element: etree._Element) -> Warning1980:
    return Warning1980(
        code=child_text(element, "CODE"),
        text=" ".join(child_text(element, "TEXT").split()),
        url=child_text(element, "URL"),
    )


def parse_ip_token(element: etree._Element) -> tuple[int, int, int]:
    """Parse an IP or IP_RANGE element into ``(version, start, end)``; AddressError if invalid."""
    return parse_range(text_of(element))


def ip_set_ranges(
    ip_set: etree._Element | None, reject: Callable[[str, AddressError], None]
) -> list[tuple[int, int, int]]:
    """Return the ranges of an IP_SET element, passing invalid entries to ``reject``."""
    ranges: list[tuple[int, int, int]] = []
    if ip_set is None:
        return ranges
    for element in ip_set:
        if element.tag == "RANGE":
            # Reports write ranges as <RANGE><START/><END/></RANGE>.
            start, end = child_text(element, "START"), child_text(element, "END")
            token = f"{start}-{end}"
            try:
                ranges.append(parse_range(token))
            except AddressError as error:
                reject(token, error)
            continue
        if element.tag not in ("IP", "IP_RANGE"):
            continue
        try:
            ranges.append(parse_ip_token(element))
        except AddressError as error:
            reject(text_of(element), error)
    return ranges


def read_ip_list(data: bytes, path: str) -> tuple[IPSet, list[str]]:
    """Read the IP list element at ``path`` (an ElementPath from the root) of a whole body.

    IP, IP_RANGE and RANGE with START/END children are read, as in asset
    data reports (``HEADER/TARGET/COMBINED_IP_LIST``,
    ``APPENDICES/NO_RESULTS/IP_LIST``). Returns the set and the rejected texts;
    a missing element gives the empty set.
    """
    root = parse_document(data)
    rejected: list[str] = []
    ranges = ip_set_ranges(root.find(path), lambda text, error: rejected.append(text))
    return IPSet.from_ranges(ranges), rejected


def canonical_ip(text: str) -> str:
    """Return the canonical text of an address; AddressError if invalid.

    Dotted-quad IPv4 addresses, the common case, take a fast path through
    inet_pton, which accepts exactly four decimal parts without leading
    zeros, the same rule the ipset module applies.
    """
    if ":" not in text:
        try:
            return _inet_ntop(_AF_INET, _inet_pton(_AF_INET, text))
        except (OSError, ValueError):
            pass
    return canonical_address(text)


_inet_pton = socket.inet_pton
_inet_ntop = socket.inet_ntop
_AF_INET = socket.AF_INET
_get = dict.get
_tzinfo = operator.attrgetter("tzinfo")

# HOST children whose text becomes a stripped string field, "" when missing.
_HOST_TEXT_FIELDS = ("DNS", "NETBIOS", "OS", "TRACKING_METHOD")


def _address_or_none(text: str | None, what: str, host_id: int, warn: Warn) -> str | None:
    if not text:
        return None
    if ":" not in text:
        try:
            return _inet_ntop(_AF_INET, _inet_pton(_AF_INET, text))
        except (OSError, ValueError):
            pass
    text = text.strip()
    if not text:
        return None
    try:
        return canonical_ip(text)
    except AddressError as error:
        warn(
            f"Host {host_id}: {what} {text!r} was skipped because it is not a valid "
            f"address ({error.reason})."
        )
        return None


def _scan_time_or_none(text: str | None, host_id: int, warn: Warn) -> datetime | None:
    if not text:
        return None
    text = text.strip()
    value = parse_utc(text)
    if value is None and text:
        warn(f"Host {host_id}: scan time {text!r} was ignored because it is not a valid time.")
    return value


def _network_id_or_none(text: str | None) -> int | None:
    return parse_int(text.strip()) if text else None


def host_record(element: etree._Element, warn: Warn) -> ScannedHostRecord | None:
    """Convert a HOST element; ``None`` (with a warning) when it has no valid ID."""
    return _record_from_fields({child.tag: child.text for child in element}, warn)


def _record_from_fields(fields: dict[str, str | None], warn: Warn) -> ScannedHostRecord | None:
    get = fields.get
    id_text = (get("ID") or "").strip()
    try:
        host_id = int(id_text)
    except ValueError:
        warn(f"A host with ID {id_text!r} was skipped because the ID is not a whole number.")
        return None
    last_scan = _scan_time_or_none(get("LAST_VULN_SCAN_DATETIME"), host_id, warn)
    return ScannedHostRecord(
        host_id,
        _address_or_none(get("IP"), "IP address", host_id, warn),
        _address_or_none(get("IPV6"), "IPv6 address", host_id, warn),
        (get("DNS") or "").strip(),
        (get("NETBIOS") or "").strip(),
        (get("OS") or "").strip(),
        (get("TRACKING_METHOD") or "").strip(),
        last_scan,
        _network_id_or_none(get("NETWORK_ID")),
    )


def host_records(elements: Iterable[etree._Element], warn: Warn) -> list[ScannedHostRecord]:
    """Convert a batch of HOST elements; hosts without a valid ID are skipped with a warning.

    Returns the same records and warnings, in the same order, as
    :func:`host_record` on each element. Host lists run to hundreds of
    thousands of hosts, so the fields are converted column by column with
    C-level ``map`` calls where every value of a column has the common form
    (a whole-number ID, a dotted-quad IP, a UTC timestamp). A batch that
    contains a value that needs a warning goes through ``host_record``
    host by host, which emits the warnings in host order.
    """
    rows = [{child.tag: child.text for child in element} for element in elements]
    try:
        return _records_by_column(rows)
    except _ValueNeedsWarning:
        pass
    records = map(_record_from_fields, rows, repeat(warn))
    return [record for record in records if record is not None]


class _ValueNeedsWarning(Exception):
    """Raised inside the column conversion when a value would be skipped with a warning."""


def _raise_instead_of_warning(message: str) -> None:
    raise _ValueNeedsWarning(message)


def _records_by_column(rows: list[dict[str, str | None]]) -> list[ScannedHostRecord]:
    """Convert field dicts column by column; raise _ValueNeedsWarning if any value is invalid."""
    count = len(rows)
    try:
        ids = list(map(int, map(_get, rows, repeat("ID"))))
    except (TypeError, ValueError):
        raise _ValueNeedsWarning("invalid host ID") from None

    ip_texts = list(map(_get, rows, repeat("IP")))
    try:
        ips = list(map(_inet_ntop, repeat(_AF_INET), map(_inet_pton, repeat(_AF_INET), ip_texts)))
    except (TypeError, OSError, ValueError):
        # Missing, IPv6 or padded values take host_record's rules, value by value.
        ips = [
            _address_or_none(text, "IP address", 0, _raise_instead_of_warning) for text in ip_texts
        ]

    ipv6_texts = list(map(_get, rows, repeat("IPV6")))
    ipv6s: list[str | None] = [None] * count
    if any(ipv6_texts):
        ipv6s = [
            _address_or_none(text, "IPv6 address", 0, _raise_instead_of_warning)
            for text in ipv6_texts
        ]

    text_columns = []
    for tag in _HOST_TEXT_FIELDS:
        texts = list(map(_get, rows, repeat(tag), repeat("")))
        try:
            text_columns.append(list(map(str.strip, texts)))
        except TypeError:
            # An empty element such as <DNS/> gives None.
            text_columns.append([(text or "").strip() for text in texts])
    dns, netbios, os, tracking_method = text_columns

    time_texts = list(map(_get, rows, repeat("LAST_VULN_SCAN_DATETIME")))
    try:
        scan_times = list(map(datetime.fromisoformat, time_texts))
        all_utc = all(map(operator.is_, map(_tzinfo, scan_times), repeat(UTC)))
    except (TypeError, ValueError):
        all_utc = False
    if not all_utc:
        scan_times = [_scan_time_or_none(text, 0, _raise_instead_of_warning) for text in time_texts]

    network_texts = list(map(_get, rows, repeat("NETWORK_ID")))
    network_ids: list[int | None] = [None] * count
    if any(network_texts):
        network_ids = list(map(_network_id_or_none, network_texts))

    columns = (ids, ips, ipv6s, dns, netbios, os, tracking_method, scan_times, network_ids)
    return list(map(ScannedHostRecord, *columns))


def ipv6_mapping(element: etree._Element, warn: Warn) -> IPv6Mapping | None:
    """Convert an IP_MAP element; ``None`` (with a warning) when a value is invalid."""
    id_text = child_text(element, "ID")
    v4_text = child_text(element, "V4")
    v6_text = child_text(element, "V6")
    mapping_id = parse_int(id_text)
    try:
        v4 = canonical_address(v4_text)
        v6 = canonical_address(v6_text)
    except AddressError as error:
        warn(f"IPv6 mapping {id_text or '?'} was skipped: {error}.")
        return None
    if mapping_id is None or ":" in v4 or ":" not in v6:
        warn(
            f"IPv6 mapping {id_text!r} ({v4_text} to {v6_text}) was skipped because it does "
            "not map an IPv4 address to an IPv6 address with a numeric ID."
        )
        return None
    return IPv6Mapping(id=mapping_id, v4=v4, v6=v6)
