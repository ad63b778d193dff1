"""nmap XML (``-oX``) parser, streaming with the standard library's expat.

expat calls back on each start and end tag and builds no tree. On a
million-host ping scan this parser used about 15 s of CPU time where the
lxml pull parser it replaced used about 17 s (docs/benchmarks.md).
Choices, each tested:

- Only hosts whose ``<status state="up">`` count; nmap lists every probed
  address, and down hosts are not discovered hosts. masscan writes nmap's
  format without status elements: such a host counts when a port replied.
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
- No DTD is loaded, nothing is fetched and entities are never expanded: a
  DTD that declares any entity, general or parameter, is rejected. A bare
  ``<!DOCTYPE nmaprun>``, which nmap writes, is accepted.
- nmap copies control characters from what hosts send into attributes as
  character references such as ``&#x1b;``, which XML 1.0 does not allow and
  expat rejects. Such references are removed before the parse, with a
  warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO
from xml.parsers import expat

from lumeta_qualys.ipset import AddressError

from .base import (
    HostRecord,
    ImportFileError,
    ParseState,
    clean_text,
    non_host_reason,
    normalise_mac,
    parse_host_address,
    plural,
    shown,
)

CHUNK_SIZE = 1 << 20
# A scan that started more than this many days before its import gets a warning.
OLD_SCAN_DAYS = 30
# The start of an XML declaration; ``<?xml-stylesheet`` does not match.
XML_DECLARATION = re.compile(rb"<\?xml[\s?]")
# A character reference to a control character that XML 1.0 does not allow:
# U+0000 to U+0008, U+000B, U+000C and U+000E to U+001F, in hexadecimal or
# decimal, with up to four leading zeros.
CONTROL_REFERENCE = re.compile(
    rb"&#(?:[xX]0{0,4}(?:[0-8bBcCeEfF]|1[0-9a-fA-F])|0{0,4}(?:[0-8]|1[124-9]|2[0-9]|3[01]));"
)
# Bytes kept back at the end of a chunk so that a declaration or a control
# character reference split across two chunks is still found.
CHUNK_OVERLAP = 16
ENTITY_MESSAGE = (
    "DTD entity declarations are not allowed, and nmap writes none. Import the XML file that "
    "nmap wrote (-oX), unchanged"
)
# The remedy in the message of a rejected nmap address element.
ADDRESS_LEFT_OUT = (
    "The address was left out. nmap writes only valid addresses here, so the file was probably "
    "edited: correct the address element and import the file again."
)


ADDRESS_NOT_HOST = "The address was left out."
# expat's error codes for "reference to invalid character number" and "not
# well-formed (invalid token)".
BAD_CHARACTER_REFERENCE = expat.errors.codes[expat.errors.XML_ERROR_BAD_CHAR_REF]
INVALID_TOKEN = expat.errors.codes[expat.errors.XML_ERROR_INVALID_TOKEN]
# Port states that need a reply from the host: it exists.
ANSWERING_PORT_STATES = {"open", "closed", "unfiltered"}


class _EntityDeclared(Exception):
    """Raised by the expat callback for an entity declaration, with its line in the document."""

    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


# A complete host that is up, as the expat stage hands it on. It contains the
# line offset of its document, its own line within the document, its address
# elements as (addrtype, addr, vendor, line within the document), its names
# as the file gives them and its best OS match. It is a plain tuple, which the parser process
# pickles quickly.
RawHost = tuple[int, int, list[tuple[str, str, str, int]], list[str], str]


def _accuracy(text: str | None) -> int:
    try:
        return int(text or "0")
    except ValueError:
        return 0


class _Document:
    """One XML document inside the file, fed chunk by chunk.

    expat calls back once per start and end tag, a million times per
    hundred thousand hosts, so the callbacks are closures over local
    variables: attribute look-ups on ``self`` there cost a measurable share
    of the parse.
    """

    def __init__(self, parser: NmapParser, first_line: int):
        self.owner = parser
        self.first_line = first_line
        self.expat = expat.ParserCreate()
        # Never read an external DTD or parameter entity.
        self.expat.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.expat.EntityDeclHandler = self._entity_declared
        # Bytes parsed before the current feed, to find the byte of an error.
        self.bytes_fed = 0
        self.reported_up: int | None = None
        # masscan writes nmap's format, but the figure in its runstats does
        # not count hosts.
        self.masscan = False
        self.hosts_up = 0
        # Complete hosts whose status is not up; counted, never imported.
        self.hosts_not_up = 0
        # Complete hosts without a status element (masscan's) and without a reply.
        self.hosts_silent = 0
        # Hosts marked up only by -Pn without any reply; counted, never imported.
        self.hosts_assumed_up = 0
        # Complete hosts that are up, collected by the callbacks during one
        # feed and taken after it.
        self.finished: list[RawHost] = []
        self._install_callbacks()

    def feed(self, data: bytes) -> list[RawHost]:
        """Parse the next bytes and return the hosts they completed."""
        self._parse(data, final=False)
        return self._take()

    def close(self, end_line: int, last: bool = True) -> Iterator[list[RawHost]]:
        """Finish the document; an incomplete one marks the parse incomplete.

        ``end_line`` is the line where the document ends: the file's end, or
        for a document that is not the ``last`` one, the next run's XML
        declaration. Yields the hosts the end completed, then warns. A
        consumer that turns each batch into records before it resumes this
        generator gets the warnings in file order.
        """
        state = self.owner.state
        try:
            self.expat.Parse(b"", True)
        except expat.ExpatError:
            # Every host taken has had its end tag read; the host the file
            # cuts short never reaches the finished list.
            hosts = self._take()
            if hosts:
                yield hosts
            state.complete = False
            complete = plural(
                self.hosts_up, "complete host that is up was", "complete hosts that are up were"
            )
            if last:
                state.warn(
                    f"{state.file_name}: no runstats; file ends early at line {end_line}. "
                    f"The scan was probably interrupted: {complete} read, hosts after that "
                    "line are missing, and no host was marked stale."
                )
            else:
                state.warn(
                    f"{state.file_name}: the nmap run that starts at line {self.first_line} ends "
                    f"early, at line {end_line} where the next run starts. That scan was probably "
                    f"interrupted: {complete} read from it, and no host was marked stale."
                )
            return
        except _EntityDeclared as declared:
            raise self._entity_error(declared) from None
        hosts = self._take()
        if hosts:
            yield hosts
        # Hosts skipped as up only by -Pn count as read here: nmap counts them up.
        read_up = self.hosts_up + self.hosts_assumed_up
        if self.reported_up is not None and self.reported_up != read_up and not self.masscan:
            state.warn(
                f"{state.file_name}: runstats reports {plural(self.reported_up, 'host', 'hosts')} "
                f"up, but {plural(read_up, 'host up was', 'hosts up were')} read."
            )

    def _take(self) -> list[RawHost]:
        hosts = self.finished[:]
        self.finished.clear()
        self.hosts_up += len(hosts)
        return hosts

    def _parse(self, data: bytes, final: bool) -> None:
        state = self.owner.state
        try:
            self.expat.Parse(data, final)
            self.bytes_fed += len(data)
        except _EntityDeclared as declared:
            raise self._entity_error(declared) from None
        except expat.ExpatError as error:
            line = self.first_line + (error.lineno or 1) - 1
            character = self._control_character(data, error.code)
            if character is not None:
                raise ImportFileError(
                    f"{state.file_name} line {line}: the file contains {character}. nmap does not "
                    "write it so, which suggests that the file was changed after the scan: remove "
                    "that character and import the file again."
                ) from None
            if self.bytes_fed == 0 and not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
                # The import chose the nmap format: detection would not have.
                raise ImportFileError(
                    f"{state.file_name} line {line}: the file is not XML, so not nmap output. "
                    "If it is a CSV file or a list of addresses, import it with the format left "
                    "on detect or set to csv or list."
                ) from None
            reason = expat.ErrorString(error.code)
            raise ImportFileError(
                f"{state.file_name} line {line}: the file is not well-formed XML "
                f"({reason}). Check that it is nmap XML output (-oX) and import it again."
            ) from None

    def _control_character(self, data: bytes, code: int | None) -> str | None:
        """Return the control character that failed the parse, as a message names it, or None.

        ``data`` is the text just fed, ``code`` the expat error's code.
        """
        if code == BAD_CHARACTER_REFERENCE:
            return "a reference to a character that XML does not allow"
        if code != INVALID_TOKEN:
            return None
        index = self.expat.ErrorByteIndex - self.bytes_fed
        if 0 <= index < len(data) and data[index] < 0x20 and data[index] not in b"\t\n\r":
            return f"the control character U+{data[index]:04X}, which XML does not allow"
        return None

    # expat callbacks ----------------------------------------------------------

    def _entity_declared(self, *args) -> None:
        raise _EntityDeclared(self.expat.CurrentLineNumber)

    def _entity_error(self, declared: _EntityDeclared) -> ImportFileError:
        line = self.first_line + declared.line - 1
        return ImportFileError(f"{self.owner.state.file_name} line {line}: {ENTITY_MESSAGE}.")

    def _install_callbacks(self) -> None:
        """Install the expat callbacks: one pair outside hosts, another inside a host.

        The pair is swapped at each host's start and end tag, so that each
        callback tests only what can happen where it runs.
        """
        parser = self.expat
        owner = self.owner
        finished = self.finished
        file_name = self.owner.state.file_name
        first_line = self.first_line
        offset = first_line - 1
        # Outside hosts: the current element's depth (the root is 1) and
        # whether it is inside <runstats>. Inside a host: the depth below
        # the host element (its children are at level 1), the tag of the
        # child being read, and what has been read of the host so far.
        depth = 0
        in_runstats = False
        level = 0
        section = ""
        host_line = 0
        up = False
        addresses: list[tuple[str, str, str, int]] = []
        names: list[str] = []
        os_name = ""
        os_accuracy = -1
        # Whether the host has a <status> element. masscan writes none: its
        # hosts are the ones that replied on a port.
        has_status = False
        # "Up" only because the scan skipped host discovery (-Pn): nmap then
        # marks every target up, with the reason "user-set", whether or not
        # anything replied. Such a host counts once a port replies.
        assumed_up = False
        replied = False

        def start_outside(tag: str, attributes: dict[str, str]) -> None:
            nonlocal depth, in_runstats, level, host_line, up, addresses, names
            nonlocal os_name, os_accuracy, assumed_up, replied, has_status
            depth += 1
            if tag == "host":
                level = 0
                host_line = parser.CurrentLineNumber
                up = False
                has_status = False
                assumed_up = False
                replied = False
                addresses = []
                names = []
                os_name = ""
                os_accuracy = -1
                parser.StartElementHandler = start_inside
                parser.EndElementHandler = end_inside
            elif depth == 1 and tag != "nmaprun":
                raise ImportFileError(
                    f"{file_name} line {first_line}: the root element is <{tag}>, "
                    "not <nmaprun>. Import nmap XML output (-oX), or choose another format."
                )
            elif depth == 1:
                self.masscan = attributes.get("scanner") == "masscan"
                started = attributes.get("start") or ""
                if started.isdigit():
                    owner.latest_start = max(owner.latest_start or 0, int(started))
            elif tag == "runstats":
                in_runstats = True
            elif tag == "hosts" and in_runstats:
                reported = attributes.get("up") or ""
                if reported.isdigit():
                    self.reported_up = int(reported)

        def end_outside(tag: str) -> None:
            nonlocal depth, in_runstats
            if tag == "runstats":
                in_runstats = False
            depth -= 1

        def start_inside(tag: str, attributes: dict[str, str]) -> None:
            nonlocal level, section, up, os_name, os_accuracy, assumed_up, replied, has_status
            level += 1
            if level == 1:
                section = tag
                if tag == "address":
                    kind = attributes.get("addrtype", "ipv4")
                    addresses.append(
                        (
                            kind,
                            attributes.get("addr", ""),
                            attributes.get("vendor", ""),
                            parser.CurrentLineNumber,
                        )
                    )
                    if kind == "mac":
                        # A MAC address comes from the host's own reply on the link.
                        replied = True
                elif tag == "status":
                    has_status = True
                    up = attributes.get("state") == "up"
                    assumed_up = up and attributes.get("reason") == "user-set"
            elif level == 2:
                if tag == "hostname":
                    if section == "hostnames":
                        # Cleaned in host_records, which the importing process
                        # runs when a parser process runs this stage.
                        names.append(attributes.get("name", ""))
                elif tag == "osmatch" and section == "os":
                    accuracy = _accuracy(attributes.get("accuracy"))
                    if accuracy > os_accuracy:
                        os_accuracy = accuracy
                        os_name = clean_text(attributes.get("name", ""))
            elif level == 3 and tag == "state" and section == "ports":
                # <ports><port><state state="open"/>: a port that replied. A
                # filtered one is no sign of a host.
                if attributes.get("state") in ANSWERING_PORT_STATES:
                    replied = True

        def end_inside(tag: str) -> None:
            nonlocal level, depth
            if level:
                level -= 1
                return
            # The host's own end tag.
            if assumed_up and not replied and not os_name:
                self.hosts_assumed_up += 1
            elif up or (replied and not has_status):
                finished.append((offset, host_line, addresses, names, os_name))
            elif not has_status:
                self.hosts_silent += 1
            else:
                self.hosts_not_up += 1
            depth -= 1
            parser.StartElementHandler = start_outside
            parser.EndElementHandler = end_outside

        parser.StartElementHandler = start_outside
        parser.EndElementHandler = end_outside


def host_records(host: RawHost, state: ParseState) -> list[HostRecord]:
    """Return the records of one complete host that is up, rejecting what is not an address."""
    offset, host_line, host_addresses, listed_names, os_name = host
    names: list[str] = []
    for listed in listed_names:
        name = listed.strip().lower()
        if name and name not in names:
            names.append(name)
    mac = ""
    mac_vendor = ""
    addresses: list[tuple[int, int, str, int]] = []
    rejected = False
    for kind, text, vendor, relative_line in host_addresses:
        if kind == "ipv4" or kind == "ipv6":
            try:
                # str.strip() removes every Unicode whitespace character. A value
                # it does not mend is stripped as CSV cells are (zero-width spaces,
                # byte order marks), which only an edited file has.
                version, number, canonical = parse_host_address(text.strip())
            except AddressError as error:
                try:
                    version, number, canonical = parse_host_address(clean_text(text))
                except AddressError:
                    state.reject_address(offset + relative_line, text, error, ADDRESS_LEFT_OUT)
                    rejected = True
                    continue
            # The common IPv4 case is checked here, without a call.
            if not (
                version == 4
                and (0x01000000 <= number < 0x7F000000 or 0x80000000 <= number < 0xE0000000)
            ):
                block = non_host_reason(version, number)
                if block is not None:
                    state.reject_non_host(offset + relative_line, text, block, ADDRESS_NOT_HOST)
                    rejected = True
                    continue
            addresses.append((version, number, canonical, offset + relative_line))
        elif kind == "mac":
            normalised = normalise_mac(text)
            if normalised is None:
                state.warn(
                    f'{state.file_name} line {offset + relative_line}: "{shown(text)}" is not a '
                    "MAC address; it was left out."
                )
            else:
                mac = normalised
                mac_vendor = clean_text(vendor)
        else:
            state.warn(
                f'{state.file_name} line {offset + relative_line}: address type "{shown(kind)}" '
                "is not an IP address type; it was left out."
            )

    if not addresses:
        if not rejected:
            state.warn(
                f"{state.file_name} line {offset + host_line}: a host that is up has no IP address."
            )
        return []
    if len(addresses) == 1:
        version, number, canonical, line = addresses[0]
        return [HostRecord(version, number, canonical, line, names, mac, mac_vendor, os_name)]
    return [
        HostRecord(version, number, canonical, line, list(names), mac, mac_vendor, os_name)
        for version, number, canonical, line in addresses
    ]


class NmapParser:
    """Streams host records out of an nmap XML file, appended documents included."""

    format = "nmap"

    def __init__(self, stream: BinaryIO, state: ParseState):
        self.stream = stream
        self.state = state
        # Control character references removed, and the line and text of the first.
        self.removed_references = 0
        self.first_reference: tuple[int, str] = (0, "")
        # The latest start time of the file's nmap runs (the root's ``start``,
        # seconds since the epoch), if any run gives one.
        self.latest_start: int | None = None

    # The second stage, for the parser process's reader: see raw_batches().
    records_from_raw = staticmethod(host_records)

    def records(self) -> Iterator[HostRecord]:
        state = self.state
        for hosts in self.raw_batches():
            for host in hosts:
                yield from host_records(host, state)

    def raw_batches(self) -> Iterator[list[RawHost]]:
        """Yield the complete hosts that are up, in batches, before any record is made.

        This is the expat stage alone; :func:`host_records` turns each host
        into records. A large file's parser process runs this stage and
        sends the hosts, so that the importing process shares the rest.
        """
        document: _Document | None = None
        lines_before = 0  # newlines in the bytes before the current position
        pending = b""
        end_of_file = False
        documents = 0
        # Complete hosts that are up and that are not, over every document, and
        # those marked up only by -Pn.
        up = not_up = assumed = silent = 0

        start_of_file = True
        while not end_of_file:
            chunk = self.stream.read(CHUNK_SIZE)
            end_of_file = not chunk
            data = pending + chunk
            if start_of_file:
                # A UTF-8 byte order mark, as PowerShell and Notepad write it, is
                # no text before the XML declaration.
                start_of_file = False
                data = data.removeprefix(b"\xef\xbb\xbf")
            if CONTROL_REFERENCE.search(data) is not None:
                data = self._remove_control_references(data, lines_before)
            if end_of_file:
                usable, pending = data, b""
            else:
                usable = data[:-CHUNK_OVERLAP]
                pending = data[-CHUNK_OVERLAP:]

            position = 0
            for match in XML_DECLARATION.finditer(usable):
                before = usable[position : match.start()]
                if document is not None:
                    hosts = document.feed(before)
                    if hosts:
                        yield hosts
                    lines_before += before.count(b"\n")
                    yield from document.close(lines_before + 1, last=False)
                    up += document.hosts_up
                    not_up += document.hosts_not_up
                    silent += document.hosts_silent
                    assumed += document.hosts_assumed_up
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
                hosts = document.feed(rest)
                if hosts:
                    yield hosts
            lines_before += rest.count(b"\n")

        if document is None:
            raise ImportFileError(
                f"{self.state.file_name}: the file is empty. Import nmap XML output (-oX)."
            )
        yield from document.close(lines_before + 1)
        up += document.hosts_up
        not_up += document.hosts_not_up
        silent += document.hosts_silent
        assumed += document.hosts_assumed_up
        if assumed:
            self.state.warn(
                f"{self.state.file_name}: "
                f"{plural(assumed, 'host was', 'hosts were')} skipped: nmap marked "
                f"{'it' if assumed == 1 else 'them'} up only because host discovery was off "
                "(-Pn, reason user-set), and no port answered. "
                "Hosts with an open or closed port, a MAC address or an OS match are imported."
            )
        if silent:
            self.state.warn(
                f"{self.state.file_name}: "
                f"{plural(silent, 'host was', 'hosts were')} skipped: without a status element, "
                "as masscan writes hosts, a host counts when a port replied or it has a MAC "
                "address."
            )
        if up and not_up:
            self.state.warn(
                f"{self.state.file_name}: "
                f"{plural(not_up, 'host that is not up was', 'hosts that are not up were')} "
                "skipped; only hosts that are up are imported."
            )
        if not up and not_up:
            self.state.warn(
                f"{self.state.file_name}: the scan lists "
                f"{plural(not_up, 'host, and it is not up', 'hosts, and none of them is up')}. "
                "Only hosts that are up are imported: check the scan's targets and options, "
                "or import a scan that found hosts."
            )
        if documents > 1:
            self.state.warn(
                f"{self.state.file_name}: {documents} nmap runs were read from one file."
            )
        self._warn_if_old()
        if self.removed_references:
            line, reference = self.first_reference
            count = self.removed_references
            self.state.warn(
                f"{self.state.file_name} line {line}: "
                f"{plural(count, 'reference', 'references')} to a control character, such as "
                f"{reference}, {'was' if count == 1 else 'were'} removed. XML does not allow "
                "control characters, and nmap copies them from what hosts send. The hosts that "
                "had them are imported."
            )

    def _warn_if_old(self) -> None:
        """Warn when the file's latest nmap run started more than OLD_SCAN_DAYS ago.

        Its hosts are marked as seen at the import, so an old file would make
        hosts that were retired since current again.
        """
        if self.latest_start is None:
            return
        try:
            started = datetime.fromtimestamp(self.latest_start, UTC)
        except (OverflowError, OSError, ValueError):
            # No time a scan can have: the warning is left out, the hosts stay.
            return
        age = datetime.now(UTC) - started
        if age.days <= OLD_SCAN_DAYS:
            return
        self.state.warn(
            f"{self.state.file_name}: the scan started on {started:%Y-%m-%d %H:%M} UTC, "
            f"{age.days:,} days ago. An import marks its hosts as seen now, so a host retired "
            "since then is current again. Import recent scans, or delete such hosts in the admin."
        )

    def _remove_control_references(self, data: bytes, lines_before: int) -> bytes:
        """Return ``data`` without its control character references, and count them."""
        found = list(CONTROL_REFERENCE.finditer(data))
        if not self.removed_references:
            first = found[0]
            line = lines_before + data.count(b"\n", 0, first.start()) + 1
            self.first_reference = (line, first[0].decode("ascii"))
        self.removed_references += len(found)
        return CONTROL_REFERENCE.sub(b"", data)

    def _check_blank(self, data: bytes, lines_before: int) -> None:
        if data.strip():
            raise ImportFileError(
                f"{self.state.file_name} line {lines_before + 1}: text before the XML declaration. "
                "Check that the file is nmap XML output (-oX)."
            )
