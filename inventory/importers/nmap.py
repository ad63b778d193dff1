"""nmap XML (``-oX``) parser, streaming with a hardened lxml pull parser.

Choices, each tested:

- Only hosts whose ``<status state="up">`` count; nmap lists every probed
  address, and down hosts are not discovered hosts.
- Every ``ipv4`` and ``ipv6`` address element of a host becomes its own
  record (one Host row per address), each carrying the host's names, MAC
  address and OS guess. A ``mac`` address element is a detail, never an
  address.
- The OS guess is the ``osmatch`` with the highest accuracy (the first one
  on a tie, which is nmap's own order).
- Several documents appended into one file (``nmap --append-output``) are
  split at each XML declaration and all imported.
- A document that ends early (an interrupted scan) keeps the hosts whose
  ``</host>`` was read. The parse is then marked incomplete, with the line
  where the file ends.
- No DTD is loaded, nothing is fetched from the network and entities are
  never expanded; a DTD that declares entities is rejected. A bare
  ``<!DOCTYPE nmaprun>``, which nmap writes, is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from lumeta_qualys.ipset import AddressError

from .base import (
    HostRecord,
    ImportFileError,
    ParseState,
    clean_text,
    normalise_mac,
    parse_host_address,
)

CHUNK_SIZE = 1 << 20
# The start of an XML declaration; ``<?xml-stylesheet`` does not match.
XML_DECLARATION = re.compile(rb"<\?xml[\s?]")
# Bytes kept back at the end of a chunk so that a declaration split across
# two chunks is still found.
DECLARATION_OVERLAP = 6
ENTITY_MESSAGE = "DTD entity declarations are not allowed"
# The first element start tag: a letter or underscore after "<".
ROOT_START = re.compile(rb"<[A-Za-z_]")
PROLOGUE_BYTES = 64 * 1024
ADDRESS_TYPES = {"ipv4": 4, "ipv6": 6}


def _new_pull_parser() -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=("end",),
        tag=("host", "runstats"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _declares_entities(element: etree._Element) -> bool:
    dtd = element.getroottree().docinfo.internalDTD
    return dtd is not None and any(True for _ in dtd.iterentities())


def _best_os_match(os_element: etree._Element) -> str:
    best_name = ""
    best_accuracy = -1
    for match in os_element.iterchildren("osmatch"):
        try:
            accuracy = int(match.get("accuracy", "0"))
        except ValueError:
            accuracy = 0
        if accuracy > best_accuracy:
            best_accuracy = accuracy
            best_name = clean_text(match.get("name", ""))
    return best_name


class _Document:
    """One XML document inside the file, fed chunk by chunk."""

    def __init__(self, parser: NmapParser, first_line: int):
        self.owner = parser
        self.first_line = first_line
        self.pull = _new_pull_parser()
        self.saw_root = False
        self.saw_runstats = False
        self.reported_up: int | None = None
        self.hosts_up = 0
        # The document's first bytes, kept until the root element starts, so
        # that entity declarations are rejected before lxml reads them.
        self.head: bytes | None = b""

    def _check_prologue(self, data: bytes) -> None:
        head = self.head + data[:PROLOGUE_BYTES]
        root_start = ROOT_START.search(head)
        prologue = head[: root_start.start()] if root_start else head
        if b"<!ENTITY" in prologue:
            raise ImportFileError(f"{self.owner.state.file_name}: {ENTITY_MESSAGE}.")
        self.head = None if root_start or len(head) >= PROLOGUE_BYTES else head

    def feed(self, data: bytes) -> Iterator[HostRecord]:
        if self.head is not None:
            self._check_prologue(data)
        try:
            self.pull.feed(data)
            yield from self._drain()
        except etree.XMLSyntaxError as error:
            line = self.first_line + (error.lineno or 1) - 1
            raise ImportFileError(
                f"{self.owner.state.file_name} line {line}: the file is not well-formed XML "
                f"({error.msg}). Check that it is nmap XML output (-oX) and import it again."
            ) from None

    def close(self, end_line: int) -> Iterator[HostRecord]:
        """Finish the document; an incomplete one marks the parse incomplete."""
        state = self.owner.state
        try:
            root = self.pull.close()
        except etree.XMLSyntaxError:
            # Events read after the failed close belong to the host the file
            # cuts short; they are dropped so that no half-written host lands.
            state.complete = False
            state.warn(
                f"{state.file_name}: no runstats; file ends early at line {end_line}. "
                f"The scan was probably interrupted: {self.hosts_up} complete hosts that are up "
                "were imported, hosts after that line are missing, and no host was marked stale."
            )
            return
        yield from self._drain()
        if _declares_entities(root):
            raise ImportFileError(f"{state.file_name}: {ENTITY_MESSAGE}.")
        if root.tag != "nmaprun":
            raise ImportFileError(
                f"{state.file_name} line {self.first_line}: the root element is <{root.tag}>, "
                "not <nmaprun>. Import nmap XML output (-oX), or choose another format."
            )
        if self.reported_up is not None and self.reported_up != self.hosts_up:
            state.warn(
                f"{state.file_name}: runstats reports {self.reported_up} hosts up, "
                f"but {self.hosts_up} hosts up were read."
            )

    def _drain(self) -> Iterator[HostRecord]:
        for _, element in self.pull.read_events():
            if not self.saw_root:
                # The DTD has been read by the time of the first event.
                self.saw_root = True
                if _declares_entities(element):
                    raise ImportFileError(f"{self.owner.state.file_name}: {ENTITY_MESSAGE}.")
            if element.tag == "host":
                yield from self._host(element)
                # Free the host and whatever came before it: memory stays flat.
                element.clear(keep_tail=False)
                parent = element.getparent()
                if parent is not None:
                    while element.getprevious() is not None:
                        del parent[0]
            else:
                self.saw_runstats = True
                hosts = element.find("hosts")
                if hosts is not None and (hosts.get("up") or "").isdigit():
                    self.reported_up = int(hosts.get("up"))

    def _host(self, host: etree._Element) -> list[HostRecord]:
        """Return the records of one ``<host>``: none unless it is up."""
        up = False
        address_elements = []
        names: list[str] = []
        os_name = ""
        for child in host:
            tag = child.tag
            if tag == "status":
                up = child.get("state") == "up"
            elif tag == "address":
                address_elements.append(child)
            elif tag == "hostnames":
                for element in child.iterchildren("hostname"):
                    name = element.get("name", "").strip().lower()
                    if name and name not in names:
                        names.append(name)
            elif tag == "os":
                os_name = _best_os_match(child)
        if not up:
            return []
        self.hosts_up += 1

        addresses, mac, mac_vendor = self._addresses(address_elements)
        if not addresses:
            line = self.first_line + (host.sourceline or 1) - 1
            state = self.owner.state
            state.warn(f"{state.file_name} line {line}: a host that is up has no IP address.")
            return []
        return [
            HostRecord(
                version=version,
                value=number,
                address=canonical,
                line=line,
                hostnames=list(names),
                mac=mac,
                mac_vendor=mac_vendor,
                os_name=os_name,
            )
            for version, number, canonical, line in addresses
        ]

    def _addresses(self, elements: list) -> tuple[list[tuple[int, int, str, int]], str, str]:
        """Split address elements into IP addresses (with their lines) and the MAC address."""
        state = self.owner.state
        addresses: list[tuple[int, int, str, int]] = []
        mac = ""
        mac_vendor = ""
        for element in elements:
            kind = element.get("addrtype", "ipv4")
            text = element.get("addr", "")
            line = self.first_line + (element.sourceline or 1) - 1
            if kind == "mac":
                normalised = normalise_mac(text)
                if normalised is None:
                    state.warn(
                        f'{state.file_name} line {line}: "{text}" is not a MAC address; '
                        "it was left out."
                    )
                else:
                    mac = normalised
                    mac_vendor = clean_text(element.get("vendor", ""))
                continue
            if kind not in ADDRESS_TYPES:
                state.warn(
                    f'{state.file_name} line {line}: address type "{kind}" is not '
                    "an IP address type; it was left out."
                )
                continue
            try:
                # nmap writes these attributes itself: str.strip(), which removes
                # every Unicode whitespace character, is enough here.
                version, number, canonical = parse_host_address(text.strip())
            except AddressError as error:
                state.reject_address(line, text, error)
                continue
            addresses.append((version, number, canonical, line))
        return addresses, mac, mac_vendor


class NmapParser:
    """Streams host records out of an nmap XML file, appended documents included."""

    format = "nmap"

    def __init__(self, stream: BinaryIO, state: ParseState):
        self.stream = stream
        self.state = state

    def records(self) -> Iterator[HostRecord]:
        document: _Document | None = None
        lines_before = 0  # newlines in the bytes before the current position
        pending = b""
        end_of_file = False
        documents = 0

        while not end_of_file:
            chunk = self.stream.read(CHUNK_SIZE)
            end_of_file = not chunk
            data = pending + chunk
            if end_of_file:
                usable, pending = data, b""
            else:
                usable = data[:-DECLARATION_OVERLAP]
                pending = data[-DECLARATION_OVERLAP:]

            position = 0
            for match in XML_DECLARATION.finditer(usable):
                before = usable[position : match.start()]
                if document is not None:
                    yield from document.feed(before)
                    lines_before += before.count(b"\n")
                    yield from document.close(lines_before + 1)
                else:
                    self._check_blank(before, lines_before)
                    lines_before += before.count(b"\n")
                document = _Document(self, lines_before + 1)
                documents += 1
                position = match.start()

            rest = usable[position:]
            if document is None and rest.strip():
                document = _Document(self, lines_before + 1)
                documents += 1
            if document is not None:
                yield from document.feed(rest)
            lines_before += rest.count(b"\n")

        if document is None:
            raise ImportFileError(
                f"{self.state.file_name}: the file is empty. Import nmap XML output (-oX)."
            )
        yield from document.close(lines_before + 1)
        if documents > 1:
            self.state.warn(
                f"{self.state.file_name}: {documents} nmap runs were read from one file."
            )

    def _check_blank(self, data: bytes, lines_before: int) -> None:
        if data.strip():
            raise ImportFileError(
                f"{self.state.file_name} line {lines_before + 1}: text before the XML declaration. "
                "Check that the file is nmap XML output (-oX)."
            )
