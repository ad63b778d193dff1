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
    "check_container",
    "detect_format",
    "parser_for",
]


# The first bytes of files that are no text at all, and what to do with each.
CONTAINERS = (
    (b"\x1f\x8b", "gzip-compressed", "Decompress it (gunzip) and import the file inside."),
    (b"BZh", "bzip2-compressed", "Decompress it (bunzip2) and import the file inside."),
    (b"\xfd7zXZ\x00", "xz-compressed", "Decompress it (unxz) and import the file inside."),
    (
        b"PK\x03\x04",
        "a ZIP archive, such as an Excel workbook (.xlsx)",
        "Export the sheet as CSV UTF-8, or extract the archive, and import that file.",
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an Excel 97-2003 workbook (.xls) or another Office file",
        "Export the sheet as CSV UTF-8 and import that file.",
    ),
    (
        b"\xff\xfe",
        "UTF-16 text, as Excel's Unicode Text export writes",
        "Save it as CSV UTF-8 and import it again.",
    ),
    (b"\xfe\xff", "UTF-16 text", "Save it as UTF-8 and import it again."),
)


# The byte order marks of UTF-16 and their codecs.
UTF16_MARKS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
XML_REMEDY = (
    "Let nmap write the file itself (-oX scan.xml writes UTF-8), or convert it to UTF-8, and "
    "import it again."
)


def check_container(sample: bytes, file_name: str) -> None:
    """Raise ImportFileError when the file starts like a compressed file, an archive or UTF-16.

    Each parser would otherwise report such a file as text that is not
    UTF-8, or a list parser would reject its bytes line by line.
    """
    for magic, kind, remedy in CONTAINERS:
        if not sample.startswith(magic):
            continue
        if magic in UTF16_MARKS:
            text = sample[2:].decode(UTF16_MARKS[magic], "ignore").lstrip()
            if text.startswith(("<?xml", "<nmaprun")):
                kind, remedy = "UTF-16 XML, as Windows PowerShell 5 writes with >", XML_REMEDY
        raise ImportFileError(f"{file_name}: the file is {kind}, not UTF-8 text. {remedy}")


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
