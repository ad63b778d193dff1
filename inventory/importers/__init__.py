"""Streaming parsers for discovery files: nmap XML, CSV and plain address lists.

Each parser turns a binary stream into :class:`HostRecord` objects that one
writer (``inventory.writer``) stores. Parsers import nothing of the
integrations: the inventory knows nothing of Qualys.
"""

from __future__ import annotations

from typing import BinaryIO

from .base import HostRecord, ImportFileError, ParseState, Rejection
from .csvfile import CsvParser, looks_tabular, starts_like_csv
from .iplist import MAX_ADDRESSES_PER_LINE, ListParser
from .nmap import NmapParser

FORMATS = ("nmap", "csv", "list")
PARSERS = {"nmap": NmapParser, "csv": CsvParser, "list": ListParser}
SNIFF_BYTES = 64 * 1024

__all__ = [
    "FORMATS",
    "MAX_ADDRESSES_PER_LINE",
    "HostRecord",
    "ImportFileError",
    "ParseState",
    "Rejection",
    "detect_format",
    "parser_for",
]


def detect_format(sample: bytes) -> str:
    """Return the format the start of a file shows: ``nmap``, ``csv`` or ``list``.

    XML that starts with a declaration or an ``<nmaprun`` element is nmap.
    A first line that is a header with a known address column is CSV. So is
    a first line split into cells by a CSV delimiter, which no plain list
    line can contain. The CSV parser then explains what its header lacks,
    where a list parser would reject every row. Anything else is read as a
    plain list. The file name is not consulted here: an extension shows
    less of the format than the content does.
    """
    head = sample.lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<?xml") or head.startswith(b"<nmaprun") or head.startswith(b"<!DOCTYPE"):
        return "nmap"
    if head.startswith(b"<") and b"<nmaprun" in head:
        return "nmap"
    if starts_like_csv(sample) or looks_tabular(sample):
        return "csv"
    return "list"


def parser_for(fmt: str, stream: BinaryIO, state: ParseState):
    """Return the parser for format ``fmt`` reading ``stream``."""
    try:
        parser_class = PARSERS[fmt]
    except KeyError:
        raise ImportFileError(
            f"Unknown format {fmt!r}. Choose one of: {', '.join(FORMATS)}."
        ) from None
    return parser_class(stream, state)
