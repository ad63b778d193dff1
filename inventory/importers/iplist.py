"""Plain list parser: one address, CIDR block or ``a-b`` range per line.

A CIDR block or range adds every address in it, up to
:data:`MAX_ADDRESSES_PER_LINE`; a larger one is rejected with its size,
because a typo such as ``10.0.0.0/8`` for ``10.0.0.0/28`` would otherwise
index sixteen million hosts. ``#`` starts a comment; blank lines are skipped.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from lumeta_qualys.ipset import AddressError, parse_range

from .base import (
    HostRecord,
    ImportFileError,
    ParseState,
    clean_text,
    format_host_address,
    non_host_reason,
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
        try:
            for raw in text:
                line_number += 1
                if "\x00" in raw:
                    nul_lines += 1
                    raw = raw.replace("\x00", "")
                value = clean_text(raw.split("#", 1)[0])
                if not value:
                    continue
                yield from self._line(line_number, value)
        except UnicodeDecodeError:
            raise ImportFileError(
                f"{state.file_name} line {line_number + 1}: the file is not UTF-8 text. "
                "Save it as UTF-8 and import it again."
            ) from None
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
            if any(delimiter in value for delimiter in DELIMITERS):
                # A CSV file read as a list, through --format list or the
                # page's format choice: the reason would quote a fragment.
                remedy = (
                    "The line has cells like a CSV file: import the file as CSV (leave the "
                    "format to be detected), or fix the line and import again."
                )
            else:
                remedy = "Fix or remove the line and import again."
            state.reject(
                line_number,
                value,
                f'"{shown(value)}" is not a valid IP address, CIDR block or range: {error.reason}. '
                + remedy,
            )
            return
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
