"""What every parser shares: the host record, rejected rows and the parse state.

A parser reads a binary stream and yields :class:`HostRecord` objects with
canonical addresses. Rows it cannot use go to :class:`ParseState` with the
file, line and value; a file it cannot read at all raises
:class:`ImportFileError`, and the import then writes nothing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from socket import AF_INET, inet_pton
from typing import BinaryIO

from lumeta_qualys.ipset import AddressError, address_key, format_address, parse_address

# Stored rejections per import; a file of a million bad rows still reports
# its total count, but only the first ones are kept with their reasons.
MAX_STORED_REJECTIONS = 1000
MAX_STORED_WARNINGS = 200
# C0 and C1 control characters and DEL, which a message shows as escapes.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# MAC addresses as tools write them: six groups of one or two hexadecimal
# digits with colons or hyphens (arp on macOS and BSD leaves out leading
# zeros), Cisco's three dotted groups of four, or twelve digits alone.
MAC_PATTERN = re.compile(
    r"[0-9A-Fa-f]{1,2}([:-])(?:[0-9A-Fa-f]{1,2}\1){4}[0-9A-Fa-f]{1,2}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"
    r"|[0-9A-Fa-f]{12}"
)
# The canonical form, which nmap writes: upper case, colons, nothing around it.
CANONICAL_MAC = re.compile(r"[0-9A-F]{2}(?::[0-9A-F]{2}){5}")
# Characters removed around every text value besides str.strip()'s Unicode
# whitespace (which covers space, tab, CR, LF and NBSP): the byte order mark
# and zero-width spaces that spreadsheets leave behind.
EXTRA_STRIP = "\ufeff\u200b\u2060"


class ImportFileError(Exception):
    """A file that cannot be parsed at all; the import writes nothing."""


@dataclass(slots=True)
class HostRecord:
    """One address read from a file, with the details the file gives for it.

    ``address`` is the canonical text of ``(version, value)``.
    """

    version: int
    value: int
    address: str
    line: int
    hostnames: list[str] = field(default_factory=list)
    mac: str = ""
    mac_vendor: str = ""
    os_name: str = ""
    tags: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return address_key(self.version, self.value)


@dataclass(slots=True)
class Rejection:
    """A row that was not imported, and why."""

    file: str
    line: int
    value: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.file} line {self.line}: {self.reason}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "value": self.value, "message": self.message}


@dataclass
class ParseState:
    """Rejections, warnings and the completeness of one parse."""

    file_name: str
    # The CSV column that contains the addresses, as the user named it. When
    # empty, the parser finds the column by its name among ADDRESS_COLUMNS.
    address_column: str = ""
    # The CSV column that contains the host names, as the user named it. When
    # empty, the parser finds it by its name among HOSTNAME_COLUMNS.
    name_column: str = ""
    rejections: list[Rejection] = field(default_factory=list)
    rejected_count: int = 0
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0
    # False when the file ends early (an interrupted scan): its complete
    # hosts are imported but nothing is marked stale.
    complete: bool = True
    # IPv4-mapped IPv6 addresses read as IPv4: how many, and the first one's
    # value, line and IPv4 address.
    mapped_count: int = 0
    first_mapped: tuple[str, int, str] | None = None

    def reject(self, line: int, value: str, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejections) < MAX_STORED_REJECTIONS:
            self.rejections.append(Rejection(self.file_name, line, value, reason))

    def reject_non_host(self, line: int, value: str, block: str, remedy: str) -> None:
        """Reject an address (or range) that no discovered host has, saying which block it is."""
        self.reject(
            line,
            value,
            f'"{shown(value)}" is {block}, not the address of a discovered host. {remedy}',
        )

    def reject_address(
        self,
        line: int,
        value: str,
        error: AddressError,
        remedy: str | None = None,
    ) -> None:
        remedy = remedy or "Fix or remove the row and import again."
        self.reject(
            line, value, f'"{shown(value)}" is not a valid IP address: {error.reason}. {remedy}'
        )

    def count_mapped(self, line: int, value: str, address: str) -> None:
        """Count an IPv4-mapped IPv6 address that was imported as its IPv4 address."""
        self.mapped_count += 1
        if self.first_mapped is None:
            self.first_mapped = (value, line, address)

    def warn_of_mapped(self) -> None:
        """Warn once, after the parse, of the IPv4-mapped addresses read as IPv4."""
        if self.first_mapped is None:
            return
        value, line, address = self.first_mapped
        self.warn(
            f"{self.file_name}: "
            + plural(
                self.mapped_count,
                "IPv4-mapped IPv6 value is read as the IPv4 address it names",
                "IPv4-mapped IPv6 values are read as the IPv4 addresses they name",
            )
            + f', for example "{shown(value)}" on line {line} as {address}.'
        )

    def warn(self, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_STORED_WARNINGS:
            self.warnings.append(message)


def shown(value: str) -> str:
    """Return ``value`` as a message quotes it: control characters written as ``\\x03``.

    A binary file read as text would otherwise put raw control bytes, which
    a terminal may act on, into the report.
    """
    return CONTROL_CHARACTERS.sub(lambda match: f"\\x{ord(match.group()):02x}", value)


def plural(count: int, one: str, many: str) -> str:
    """Return ``count`` with the singular or plural wording: "1 line", "2 lines"."""
    return f"{count:,} {one if count == 1 else many}"


def not_utf8_message(file_name: str, error: UnicodeDecodeError, lines_before: int) -> str:
    """Return the message for a file that is not UTF-8, naming the line and the byte.

    ``lines_before`` is the number of lines the parser had read. A text
    stream decodes the file a chunk at a time, and reads the next chunk
    only when its buffer has no whole line left, so the failing chunk
    (``error.object``) starts on line ``lines_before + 1``.
    """
    data = bytes(error.object)
    line = lines_before + 1 + data.count(b"\n", 0, error.start)
    before = data[: error.start].rsplit(b"\n", 1)[-1][-20:].decode("utf-8", "replace")
    where = f'after "{shown(before)}"' if before else "at the start of the line"
    return (
        f"{file_name} line {line}: the file is not UTF-8 text. The byte 0x{data[error.start]:02X} "
        f"{where} is not UTF-8 ({error.reason}); the file was probably saved in another "
        "encoding, such as Windows-1252. Save it as UTF-8 (in Excel: CSV UTF-8) and import it "
        "again."
    )


# Characters with which a spreadsheet starts a formula. The exports put an
# apostrophe before a text field that begins with one, which spreadsheets show as
# text and do not evaluate: names and OS guesses come from discovery files. The
# constant lives here, not in the exports, because the parser's child process
# imports this module and must not load Django's ORM. A text that starts with an
# apostrophe gets one too, so that reading the export back drops only the guard.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def unguarded_text(value: str) -> str:
    """Return ``value`` without the apostrophe that an export put before a formula character.

    A spreadsheet reads a leading apostrophe as a mark that the cell is text,
    not as part of the text, so an export read back keeps the original value.
    """
    if value[:1] == "'" and value[1:2] and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


def clean_text(value: str) -> str:
    """Strip every kind of whitespace and invisible mark from both ends of a value."""
    text = value.strip()
    if text and (text[0] in EXTRA_STRIP or text[-1] in EXTRA_STRIP):
        return text.strip(EXTRA_STRIP).strip()
    return text


# Blocks whose addresses no discovered host has: (version, first, last, what the block is).
# An import rejects them, so that Auto-Subscribe never sends one to Qualys.
NON_HOST_BLOCKS = (
    (4, 0x00000000, 0x00FFFFFF, 'in 0.0.0.0/8 ("this network")'),
    (4, 0x7F000000, 0x7FFFFFFF, "a loopback address (127.0.0.0/8)"),
    # Link-local addresses name a host only on its own link, and hosts on
    # different links often share one (169.254.0.1, fe80::1).
    (4, 0xA9FE0000, 0xA9FEFFFF, "a link-local address (169.254.0.0/16)"),
    (4, 0xE0000000, 0xEFFFFFFF, "a multicast group address (224.0.0.0/4)"),
    (4, 0xF0000000, 0xFFFFFFFE, "in the reserved block 240.0.0.0/4"),
    (4, 0xFFFFFFFF, 0xFFFFFFFF, "the limited broadcast address"),
    (6, 0, 0, "the unspecified address"),
    (6, 1, 1, "the loopback address"),
    (6, 0xFE80 << 112, (0xFEC0 << 112) - 1, "a link-local address (fe80::/10)"),
    (6, 0xFF << 120, (1 << 128) - 1, "a multicast group address (ff00::/8)"),
)


# The IPv4-mapped IPv6 block ::ffff:0:0/96.
MAPPED_FIRST = 0xFFFF << 32
MAPPED_LAST = MAPPED_FIRST | 0xFFFFFFFF


def non_host_reason(version: int, first: int, last: int | None = None) -> str | None:
    """Return the NON_HOST_BLOCKS block that the address (or range to ``last``) meets, or None."""
    if last is None:
        last = first
    if version == 4 and (
        (0x01000000 <= first and last < 0x7F000000)
        or (0x80000000 <= first and last < 0xA9FE0000)
        or (0xA9FF0000 <= first and last < 0xE0000000)
    ):
        # Most addresses: between 0.0.0.0/8 and loopback, or from loopback to
        # multicast but outside 169.254.0.0/16.
        return None
    if version == 6 and first <= MAPPED_LAST and last >= MAPPED_FIRST:
        # ::ffff:0:0/96 contains the IPv4-mapped form of every IPv4 address.
        low, high = max(first, MAPPED_FIRST), min(last, MAPPED_LAST)
        mapped = non_host_reason(4, low & 0xFFFFFFFF, high & 0xFFFFFFFF)
        if mapped is not None:
            return f"IPv4-mapped, and its IPv4 address is {mapped}"
    for block_version, low, high, block in NON_HOST_BLOCKS:
        if block_version == version and first <= high and last >= low:
            return block
    return None


def ipv4_of_mapped(version: int, first: int, last: int) -> tuple[int, int] | None:
    """Return the IPv4 addresses that an IPv4-mapped IPv6 address or range names, or None.

    ``::ffff:192.0.2.1`` is how IPv6 software writes the IPv4 host 192.0.2.1
    (RFC 4291, section 2.5.5.2). The inventory keeps that host once, by its
    IPv4 address, so that it neither counts twice nor waits in I − S as an
    IPv6 address that Qualys cannot take. None for anything else, a range
    that reaches outside ``::ffff:0:0/96`` included.
    """
    if version == 6 and MAPPED_FIRST <= first and last <= MAPPED_LAST:
        return first & 0xFFFFFFFF, last & 0xFFFFFFFF
    return None


def parse_host_address(text: str) -> tuple[int, int, str]:
    """Parse one address (never a range) into ``(version, int, canonical text)``.

    Raises AddressError. Plain dotted-quad IPv4, by far the most common
    input, is checked with ``socket.inet_pton``, which takes exactly four
    decimal parts up to 255 without leading zeros, so an accepted text is
    already canonical. Anything else (IPv6, surrounding whitespace, leading
    zeros, non-ASCII digits) goes through ``lumeta_qualys.ipset.parse_address``,
    so both paths accept exactly the same texts. An IPv4-mapped IPv6 address
    comes back as its IPv4 address (see :func:`ipv4_of_mapped`).
    """
    if ":" not in text:
        try:
            packed = inet_pton(AF_INET, text)
        except (OSError, ValueError):
            # ValueError: an embedded NUL character.
            pass
        else:
            return 4, int.from_bytes(packed, "big"), text
    version, value = parse_address(text)
    mapped = ipv4_of_mapped(version, value, value)
    if mapped is not None:
        return 4, mapped[0], format_host_address(4, mapped[0])
    return version, value, format_address(version, value)


def format_host_address(version: int, value: int) -> str:
    """Return the canonical text of an address, quickly for IPv4."""
    if version == 4:
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
    return format_address(version, value)


def normalise_mac(text: str) -> str | None:
    """Return a MAC address as upper-case colon-separated text, or None if it is not one.

    Every notation of MAC_PATTERN is read: ``0:0:5e:0:53:1``, ``0000.5e00.5301``
    and ``00005E005301`` all give ``00:00:5E:00:53:01``.
    """
    if CANONICAL_MAC.fullmatch(text):
        return text
    value = clean_text(text)
    match = MAC_PATTERN.fullmatch(value)
    if match is None:
        return None
    if match[1]:
        digits = "".join(group.zfill(2) for group in value.split(match[1]))
    else:
        digits = value.replace(".", "")
    digits = digits.upper()
    return ":".join(digits[start : start + 2] for start in range(0, 12, 2))


class CountingReader(io.RawIOBase):
    """A binary stream wrapper that counts the bytes read and reports progress."""

    def __init__(
        self,
        stream: BinaryIO,
        total: int | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ):
        super().__init__()
        self.stream = stream
        self.total = total
        self.bytes_read = 0
        self.progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.stream.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.bytes_read += size
        if self.progress is not None and size:
            self.progress(self.bytes_read, self.total)
        return size
