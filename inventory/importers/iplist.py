"""Plain list parser: one address, CIDR block or ``a-b`` range per line.

A CIDR block or range adds every address in it, up to
:data:`MAX_ADDRESSES_PER_LINE`; a larger one is rejected with its size,
because a typo such as ``10.0.0.0/8`` for ``10.0.0.0/28`` would otherwise
index sixteen million hosts. ``#`` starts a comment; blank lines are skipped.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import BinaryIO

from lumeta_qualys.ipset import AddressError, parse_range

from .base import (
    HostRecord,
    ImportFileError,
    ParseState,
    clean_text,
    format_host_address,
    ipv4_of_mapped,
    non_host_reason,
    not_utf8_message,
    plural,
    shown,
)
from .csvfile import DELIMITERS

MAX_ADDRESSES_PER_LINE = 65_536


class ListParser:
    """Streams host records out of a plain list of addresses, CIDR blocks and ranges."""

    format = "list"

    def __init__(self, stream: BinaryIO, state: ParseState):
        self.stream = stream
        self.state = state

    def records(self) -> Iterator[HostRecord]:
        state = self.state
        text = io.TextIOWrapper(self.stream, encoding="utf-8-sig", errors="strict", newline=None)
        nul_lines = 0
        line_number = 0
        entries = 0
        try:
            for raw in text:
                line_number += 1
                if "\x00" in raw:
                    nul_lines += 1
                    raw = raw.replace("\x00", "")
                value = clean_text(raw.split("#", 1)[0])
                if not value:
                    continue
                entries += 1
                yield from self._line(line_number, value)
        except UnicodeDecodeError as error:
            raise ImportFileError(not_utf8_message(state.file_name, error, line_number)) from None
        if not entries:
            state.warn(
                f"{state.file_name}: the file lists no address: it is empty, or has only blank "
                "lines and # comments."
            )
        state.warn_of_mapped()
        if nul_lines:
            state.warn(
                f"{state.file_name}: NUL characters were removed from "
                f"{plural(nul_lines, 'line', 'lines')}."
            )

    def _line(self, line_number: int, value: str) -> Iterator[HostRecord]:
        state = self.state
        try:
            version, start, end = parse_range(value)
        except AddressError as error:
            state.reject(line_number, value, _rejection(value, error))
            return
        mapped = ipv4_of_mapped(version, start, end)
        if mapped is not None:
            version, (start, end) = 4, mapped
            named = format_host_address(4, start)
            if end != start:
                named += f"-{format_host_address(4, end)}"
            state.count_mapped(line_number, value, named)
        block = non_host_reason(version, start, end)
        if block is not None:
            if start != end:
                block = f"a range that contains addresses no host has: one of them is {block}"
            state.reject_non_host(
                line_number, value, block, "Fix or remove the line and import again."
            )
            return
        size = end - start + 1
        if size > MAX_ADDRESSES_PER_LINE:
            state.reject(
                line_number,
                value,
                f'"{shown(value)}" holds {size:,} addresses, more than the limit of '
                f"{MAX_ADDRESSES_PER_LINE:,} per line. Split it into smaller blocks "
                "and import again.",
            )
            return
        for number in range(start, end + 1):
            yield HostRecord(
                version=version,
                value=number,
                address=format_host_address(version, number),
                line=line_number,
            )


# Separators between the values of a line with several: delimiters and spaces.
LIST_SPLIT = re.compile(r"[,;|\s]+")
# Text made of the characters of IP addresses, blocks and ranges.
ADDRESS_LIKE = re.compile(r"[0-9A-Fa-f.:/-]+")
# A DNS host name: labels of letters, digits and hyphens separated by dots.
HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")


def _rejection(value: str, error: AddressError) -> str:
    """Return the message for a line that is no address, CIDR block or range.

    Lines that are something else a user may have exported (a host name,
    several addresses, XML or CSV) get a message that names what the line
    is, because the parser's reason would quote a fragment of it.
    """
    invalid = f'"{shown(value)}" is not a valid IP address, CIDR block or range'
    if value.startswith("<"):
        return (
            f"{invalid}: the line is XML. If the file is an nmap XML file, import it as nmap "
            "(leave the format to be detected)."
        )
    cells = [cell.strip() for cell in LIST_SPLIT.split(value) if cell.strip()]
    if len(cells) > 1 and all(ADDRESS_LIKE.fullmatch(cell) for cell in cells):
        # Several addresses on one line, such as "192.0.2.2, 192.0.2.3".
        return (
            f"{invalid}: the line contains {len(cells)} addresses. Put one address, CIDR block "
            "or range on each line and import again."
        )
    if any(delimiter in value for delimiter in DELIMITERS):
        # A CSV file read as a list, through --format list or the page's format choice.
        return (
            f"{invalid}: the line has cells like a CSV file. Import the file as CSV (leave the "
            "format to be detected), or fix the line and import again."
        )
    words = value.split()
    if "\u2013" in value or "\u2014" in value:
        return (
            f"{invalid}: it has a dash (– or —) where a range takes a hyphen (-). Write it as "
            f'"{shown(value.replace(chr(0x2013), "-").replace(chr(0x2014), "-"))}" and import '
            "again."
        )
    if len(words) > 1:
        return (
            f"{invalid}: the line holds {len(words)} values separated by spaces. Put one "
            "address, CIDR block or range on each line and import again."
        )
    if ":" not in value and HOST_NAME.fullmatch(value) and any(c.isalpha() for c in value):
        return (
            f"{invalid}: it is a host name, and a list takes only IP addresses, CIDR blocks "
            "and a-b ranges. Give the host's address, or import names in a CSV file with an "
            "address column."
        )
    return f"{invalid}: {error.reason}. Fix or remove the line and import again."
