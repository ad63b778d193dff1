"""CSV parser: spreadsheet and tool exports with a header row.

The address column is found by its header name. The file is read as UTF-8
with or without a byte order mark. The delimiter (comma, semicolon, tab or
vertical bar) is the one that splits the header into a known address
column. Values are stripped of every kind of whitespace before they are
validated, and NUL bytes are removed with a warning.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from itertools import islice
from typing import BinaryIO

from lumeta_qualys.ipset import AddressError

from .base import (
    HostRecord,
    ImportFileError,
    ParseState,
    clean_text,
    non_host_reason,
    normalise_mac,
    not_utf8_message,
    parse_host_address,
    plural,
    shown,
    unguarded_text,
)

# The remedy for a bad address in a cell of several.
SHARED_CELL = (
    "The row's other addresses stay in the import; correct this one in the export and import again."
)
# Columns whose cell may contain several addresses, split as LIST_SEPARATORS split:
# asset-inventory exports list every address of an asset in one cell.
MULTI_ADDRESS_COLUMNS = (
    "addresses",
    "ip addresses",
    "ipaddresses",
    "ips",
    "ipv4 addresses",
    "ipv6 addresses",
)
# Known header names. Headers compare by header_key, so "IP Address",
# "ip_address", "ip.address" and "IPAddress" all match "ip address". The
# first name present wins, so a specific name goes before a general one.
ADDRESS_COLUMNS = (
    "ip",
    "ip address",
    "ip addr",
    "ipv4",
    "ipv4 address",
    # DHCP lease exports, arp -a, and asset exports.
    "client ip address",
    "internet address",
    "primary ip",
    "primary ip address",
    "management ip",
    "management ip address",
    # After the names above: a street address may sit beside an IP column.
    "address",
    "ipv6",
    "ipv6 address",
    *MULTI_ADDRESS_COLUMNS,
    # Last: a "host" column beside one of the above contains names.
    "host",
)
VERSIONED_ADDRESS_COLUMNS = (
    "ipv4",
    "ipv6",
    "ipv4 address",
    "ipv6 address",
    "ipv4 addresses",
    "ipv6 addresses",
)
IPV6_COLUMNS = ("ipv6", "ipv6 address", "ipv6 addresses")
HOSTNAME_COLUMNS = (
    # A column of every name goes before one of the primary name, as in this
    # product's own exports ("Host name", "Host names"), and a full DNS name
    # before a short one: Active Directory exports have DNSHostName and Name.
    "hostnames",
    "host names",
    "names",
    "hostname",
    "host name",
    "fqdn",
    "dns host name",
    "dns name",
    "dns",
    "computer name",
    "device name",
    "asset name",
    "netbios name",
    # Last: a general "name" column.
    "name",
)
MAC_COLUMNS = (
    "mac",
    "mac address",
    "mac addresses",
    "macs",
    "mac addr",
    "hw address",
    "hwaddr",
    "physical address",
    "hardware address",
    "ethernet address",
    "link layer address",
)
VENDOR_COLUMNS = ("vendor", "mac vendor", "mac vendors")
OS_COLUMNS = (
    "os",
    "os guess",
    "os name",
    "operating system",
    "operating system name",
    "operating system name and version",
)
# A "name" column beside one of these contains a finding's title, as in Nessus
# and Tenable vulnerability exports, not host names.
FINDING_COLUMNS = ("plugin id", "plugin name", "vulnerability", "qid")
TAG_COLUMNS = ("tags", "tag")
DELIMITERS = (",", ";", "\t", "|")
# Lines above the header that a report export may have: a title, a date, "#TYPE ...".
MAX_TITLE_ROWS = 10
# The first line of some spreadsheet exports, naming the delimiter: "sep=;".
SEPARATOR_LINE = re.compile(r"sep=(.)", re.IGNORECASE)
LIST_SEPARATORS = re.compile(r"[;,|\s]+")
TAG_SEPARATORS = re.compile(r"[;,|]")
# Everything but letters and digits, of any script: "IP-Adresse" matches "ipadresse".
HEADER_SEPARATORS = re.compile(r"[\W_]+")


def header_key(name: str) -> str:
    """Return the form in which header names compare: lower case, letters and digits only."""
    text = clean_text(name).strip("\"'").lower()
    return HEADER_SEPARATORS.sub("", text)


def _keys(names: tuple[str, ...]) -> tuple[str, ...]:
    """Return the header keys of ``names``, in order, each once."""
    return tuple(dict.fromkeys(header_key(name) for name in names))


ADDRESS_KEYS = _keys(ADDRESS_COLUMNS)
MULTI_ADDRESS_KEYS = _keys(MULTI_ADDRESS_COLUMNS)
VERSIONED_ADDRESS_KEYS = _keys(VERSIONED_ADDRESS_COLUMNS)
IPV4_KEYS = _keys(("ipv4", "ipv4 address", "ipv4 addresses"))
IPV6_KEYS = _keys(IPV6_COLUMNS)
HOSTNAME_KEYS = _keys(HOSTNAME_COLUMNS)
MAC_KEYS = _keys(MAC_COLUMNS)
VENDOR_KEYS = _keys(VENDOR_COLUMNS)
OS_KEYS = _keys(OS_COLUMNS)
TAG_KEYS = _keys(TAG_COLUMNS)
FINDING_KEYS = _keys(FINDING_COLUMNS)


def header_address_columns(cells: list[str]) -> list[int]:
    """Return the indexes of the address columns in a header row.

    ``ipv4`` and ``ipv6`` columns are read together. Otherwise the first
    known name in :data:`ADDRESS_COLUMNS` order wins, so that a ``host``
    column next to an ``ip`` column is not read as an address, with an
    ``ipv6`` column beside it.
    """
    names = [header_key(cell) for cell in cells]
    pair = [index for index, name in enumerate(names) if name in VERSIONED_ADDRESS_KEYS]
    if len(pair) > 1:
        return pair
    for candidate in ADDRESS_KEYS:
        if candidate in names:
            first = names.index(candidate)
            # A general column beside an IPv6 one, as in "IP Address" and "IPv6
            # Address" exports: the IPv6 column is read too.
            ipv6 = [
                index for index, name in enumerate(names) if name in IPV6_KEYS and index != first
            ]
            return [first, *ipv6[:1]]
    return []


def find_delimiter(header_line: str, named: str = "") -> str | None:
    """Return the delimiter that splits a header line into a known address column.

    With ``named``, the column that the user named as the address column.
    """
    for delimiter in DELIMITERS:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        if named_columns(cells, named) if named else header_address_columns(cells):
            return delimiter
    return None


def named_columns(cells: list[str], named: str) -> list[int]:
    """Return the index of the column called ``named`` (as headers compare), or no index."""
    column_name = header_key(named)
    names = [header_key(cell) for cell in cells]
    return [names.index(column_name)] if column_name in names else []


def separator_of(line: str) -> str | None:
    """Return the delimiter that a spreadsheet's ``sep=`` line names, or None for another line.

    The line may be quoted and in any case. Only line ends and spaces are
    stripped, because the delimiter itself may be a tab.
    """
    text = line.rstrip("\r\n").lstrip("\ufeff").strip(" ")
    if len(text) > 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    match = SEPARATOR_LINE.fullmatch(text)
    return match.group(1) if match else None


def _next_content_line(lines: Iterator[str], number: int) -> tuple[str | None, int]:
    """Return the next line that is not blank and its number, or None at the end."""
    for line in lines:
        number += 1
        if clean_text(line):
            return line, number
    return None, number


def _first_filled(row: list[str], columns: list[int]) -> str:
    """Return the first cell of ``columns`` in ``row`` that is not empty, cleaned, or ""."""
    for index in columns:
        if index < len(row):
            text = clean_text(row[index])
            if text:
                return text
    return ""


def _first_column(names: list[str], candidates: tuple[str, ...]) -> int | None:
    for candidate in candidates:
        if candidate in names:
            return names.index(candidate)
    return None


class CsvParser:
    """Streams host records out of a CSV file with a header row."""

    format = "csv"

    def __init__(self, stream: BinaryIO, state: ParseState):
        self.stream = stream
        self.state = state
        self.nul_lines = 0
        # Where the rows start and their reader, for the line of a decoding error.
        self.header_number = 0
        self.reader = None
        # The line, counted from the header, where the record being read starts.
        self.record_start = 1
        # Cells of the MAC column that are no MAC address: how many, and the first's value and line.
        self.bad_macs = 0
        self.first_bad_mac: tuple[str, int] | None = None

    def _lines(self, text: io.TextIOBase) -> Iterator[str]:
        for line in text:
            if "\x00" in line:
                self.nul_lines += 1
                line = line.replace("\x00", "")
            yield line

    def records(self) -> Iterator[HostRecord]:
        state = self.state
        text = io.TextIOWrapper(self.stream, encoding="utf-8-sig", errors="strict", newline="")
        lines = self._lines(text)
        try:
            yield from self._read(lines)
        except UnicodeDecodeError as error:
            lines_before = self.header_number + (self.reader.line_num if self.reader else 0)
            raise ImportFileError(not_utf8_message(state.file_name, error, lines_before)) from None
        except csv.Error as error:
            raise ImportFileError(self._csv_error_message(error)) from None
        if self.nul_lines:
            state.warn(
                f"{state.file_name}: NUL characters were removed from "
                f"{plural(self.nul_lines, 'line', 'lines')}."
            )

    def _csv_error_message(self, error: csv.Error) -> str:
        """Return the message of a row the csv module cannot read, with its lines."""
        name = self.state.file_name
        if self.reader is None:
            return f"{name}: the CSV file cannot be read ({error})."
        start = self.header_number + self.record_start
        end = self.header_number + self.reader.line_num
        if "unexpected end of data" in str(error):
            covered = f"line {start}" if start >= end else f"lines {start} to {end}"
            return (
                f"{name} line {start}: a quoted cell opens in this row and is not closed, so "
                f'{covered} would read as one cell. Add the closing quote (") or '
                "remove the opening one, and import again."
            )
        return (
            f"{name} line {end}: the row cannot be read as CSV ({error}). A cell that "
            'contains a quote must be quoted whole, with the quote doubled (""), as spreadsheet '
            "exports write it. Correct the row and import again."
        )

    def _header_below_titles(
        self, lines: Iterator[str], first_line: str, first_number: int
    ) -> tuple[str, int, str]:
        """Return the header line, its number and delimiter, found below title rows.

        Report exports put a title, a date or "#TYPE ..." above the header. Up
        to MAX_TITLE_ROWS such lines are skipped with a warning; otherwise the
        first line is taken for the header and the error names its columns.
        """
        number = first_number
        for _ in range(MAX_TITLE_ROWS):
            line, number = _next_content_line(lines, number)
            if line is None:
                break
            delimiter = find_delimiter(line, self.state.address_column)
            if delimiter is not None:
                titles = (
                    f"line {first_number} above the header (line {number}) was skipped as a "
                    "title row"
                    if number - first_number == 1
                    else f"lines {first_number} to {number - 1} above the header (line {number}) "
                    "were skipped as title rows"
                )
                self.state.warn(f"{self.state.file_name}: {titles}.")
                return line, number, delimiter
        raise ImportFileError(self._no_address_column(first_line, first_number))

    def _read(self, lines: Iterator[str]) -> Iterator[HostRecord]:
        state = self.state
        header_line, header_number = _next_content_line(lines, 0)
        if header_line is None:
            raise ImportFileError(f"{state.file_name}: the file is empty.")

        named = separator_of(header_line)
        if named:
            # Excel's "sep=;" line: the header is the next line that is not blank.
            header_line, header_number = _next_content_line(lines, header_number)
            if header_line is None:
                raise ImportFileError(f"{state.file_name}: the file has no header row.")
        chosen = state.address_column
        if named in DELIMITERS:
            cells = next(csv.reader([header_line], delimiter=named), [])
            found = named_columns(cells, chosen) if chosen else header_address_columns(cells)
            delimiter = named if found else None
        else:
            delimiter = find_delimiter(header_line, chosen)
        if delimiter is None:
            header_line, header_number, delimiter = self._header_below_titles(
                lines, header_line, header_number
            )
        header = next(csv.reader([header_line], delimiter=delimiter))
        names = [header_key(cell) for cell in header]
        if chosen:
            address_columns = named_columns(header, chosen)
        else:
            address_columns = header_address_columns(header)
        if state.name_column:
            hostname_column = self._chosen_name_column(
                header, header_line, header_number, address_columns
            )
            spare_name_columns: list[int] = []
        else:
            hostname_keys = HOSTNAME_KEYS
            if any(name in FINDING_KEYS for name in names):
                hostname_keys = tuple(key for key in HOSTNAME_KEYS if key != "name")
            hostname_column = _first_column(names, hostname_keys)
            # Further name columns, read in a row whose first one is empty: Active
            # Directory leaves DNSHostName empty for a computer without a DNS name.
            spare_name_columns = [
                names.index(key)
                for key in hostname_keys
                if key in names and names.index(key) != hostname_column
            ]
        if hostname_column is None and "host" in names:
            # A "host" column beside an "ip" column contains names, not addresses.
            host_column = names.index("host")
            if host_column not in address_columns:
                hostname_column = host_column
        mac_column = _first_column(names, MAC_KEYS)
        vendor_column = _first_column(names, VENDOR_KEYS)
        os_column = _first_column(names, OS_KEYS)
        tag_column = _first_column(names, TAG_KEYS)

        # A missing column reads as empty: its index lies past every row.
        absent = 1 << 30
        optional = [
            absent if column is None else column
            for column in (hostname_column, mac_column, vendor_column, os_column, tag_column)
        ]
        hostname_at, mac_at, vendor_at, os_at, tag_at = optional
        # The IP version that each address column's name promises ("ipv4",
        # "ipv6 address"), or None for a column such as "ip" that takes both.
        promised = [_promised_version(names[index]) for index in address_columns]
        if not any(promised):
            promised = []
        # Addresses of the other version met in such a column: how many, and
        # the first one's value, line and column header.
        crossed = 0
        first_crossed: tuple[str, int, str] | None = None
        # Address cells written as spreadsheet formulas (="192.0.2.1"): how
        # many, and the first one's value and line.
        formula_cells = 0
        first_formula: tuple[str, int] | None = None
        # Addresses in a cell of several that no host has (loopback, link-local):
        # how many, and the first one's value, line and block.
        skipped_shared = 0
        first_skipped: tuple[str, int, str] | None = None
        # Positions (in address_columns) of columns with several addresses per cell.
        multi = [
            position
            for position, index in enumerate(address_columns)
            if chosen or names[index] in MULTI_ADDRESS_KEYS
        ]

        # strict: a quoted cell that is never closed, or text after a closing
        # quote, is an error with its line. Without it the csv module would take
        # every line after an unclosed quote as one cell, and lose those rows.
        reader = self.reader = csv.reader(lines, delimiter=delimiter, strict=True)
        self.header_number = header_number
        for row in reader:
            # The next record starts after this one, which may span lines.
            self.record_start = reader.line_num + 1
            width = len(row)
            values = [clean_text(row[index]) if index < width else "" for index in address_columns]
            pairs = enumerate(values)
            shared = False
            if multi and any(LIST_SEPARATORS.search(values[position]) for position in multi):
                values, positions = _split_cells(values, multi)
                pairs = zip(positions, values, strict=True)
                # Several addresses of one asset: a bad one must not cost the others.
                shared = len(values) > 1
            if not any(values):
                if any(clean_text(cell) for cell in row):
                    state.reject(
                        header_number + reader.line_num,
                        "",
                        "the address is empty. Fill in the address or remove the row and "
                        "import again.",
                    )
                # A row of nothing but blank cells is skipped.
                continue
            line = header_number + reader.line_num
            names_text = clean_text(row[hostname_at]) if hostname_at < width else ""
            if not names_text and spare_name_columns:
                names_text = _first_filled(row, spare_name_columns)
            raw_mac = clean_text(row[mac_at]) if mac_at < width else ""
            mac_vendor = clean_text(row[vendor_at]) if vendor_at < width else ""
            os_name = clean_text(row[os_at]) if os_at < width else ""
            tags_text = clean_text(row[tag_at]) if tag_at < width else ""
            # An export puts an apostrophe before a text cell that starts like a
            # formula, and the value is the text after it.
            if names_text[:1] == "'":
                names_text = unguarded_text(names_text)
            if mac_vendor[:1] == "'":
                mac_vendor = unguarded_text(mac_vendor)
            if os_name[:1] == "'":
                os_name = unguarded_text(os_name)
            if tags_text[:1] == "'":
                tags_text = unguarded_text(tags_text)
            hostnames = split_names(names_text)
            tags = split_tags(tags_text)
            mac = None
            for position, value in pairs:
                if not value:
                    continue
                try:
                    version, number, canonical = parse_host_address(value)
                except AddressError as error:
                    inner = formula_text(value)
                    if inner is None:
                        state.reject_address(line, value, error, SHARED_CELL if shared else None)
                        continue
                    try:
                        version, number, canonical = parse_host_address(inner)
                    except AddressError as inner_error:
                        state.reject_address(line, value, inner_error)
                        continue
                    formula_cells += 1
                    if first_formula is None:
                        first_formula = (value, line)
                    if mac is None:
                        # The export wrote the row's other text cells as formulas too.
                        cells = [
                            unwrap_formula(clean_text(row[index])) if index < width else ""
                            for index in optional
                        ]
                        hostnames = split_names(cells[0])
                        raw_mac, mac_vendor, os_name = cells[1:4]
                        tags = split_tags(cells[4])
                # parse_host_address returns plain IPv4 text itself, so a new IPv4
                # text from a value with a colon comes from an IPv4-mapped address.
                if canonical is not value and version == 4 and ":" in value:
                    state.count_mapped(line, value, canonical)
                block = non_host_reason(version, number)
                if block is not None:
                    if shared:
                        # Asset exports list loopback and link-local addresses
                        # of every adapter: counted in one warning, not rejected.
                        skipped_shared += 1
                        if first_skipped is None:
                            first_skipped = (value, line, block)
                        continue
                    state.reject_non_host(
                        line, value, block, "Fix or remove the row and import again."
                    )
                    continue
                if promised and promised[position] not in (None, version):
                    crossed += 1
                    if first_crossed is None:
                        first_crossed = (value, line, header[address_columns[position]].strip())
                if mac is None:
                    # Checked once per row, when its first address is valid.
                    mac = self._mac(raw_mac, line) if raw_mac else ""
                    yield HostRecord(
                        version, number, canonical, line, hostnames, mac, mac_vendor, os_name, tags
                    )
                else:
                    # Further addresses of the row (ipv4 and ipv6 columns) get
                    # lists of their own.
                    yield HostRecord(
                        version,
                        number,
                        canonical,
                        line,
                        list(hostnames),
                        mac,
                        mac_vendor,
                        os_name,
                        list(tags),
                    )
        if reader.line_num == 0:
            state.warn(
                f"{state.file_name}: the file has a header row (line {header_number}) but no "
                "data rows."
            )
        state.warn_of_mapped()
        if first_skipped is not None:
            value, line, block = first_skipped
            state.warn(
                f"{state.file_name}: "
                + plural(skipped_shared, "address was", "addresses were")
                + " left out of cells that list several addresses, because no discovered host "
                f'has such an address: for example "{shown(value)}" on line {line}, {block}. '
                "The cells' other addresses stay in the import."
            )
        if self.first_bad_mac is not None:
            value, line = self.first_bad_mac
            state.warn(
                f"{state.file_name}: "
                + plural(self.bad_macs, "MAC cell is", "MAC cells are")
                + f' not a MAC address, for example "{shown(value)}" on line {line}. '
                + ("That row is" if self.bad_macs == 1 else "Those rows are")
                + " read without a MAC address."
            )
        if first_formula is not None:
            value, line = first_formula
            state.warn(
                f"{state.file_name}: "
                + plural(
                    formula_cells,
                    "address cell is written as a spreadsheet formula",
                    "address cells are written as spreadsheet formulas",
                )
                + f', for example "{shown(value)}" on line {line}. The text between the quotes '
                "was read as the address, and the other cells of those rows the same way."
            )
        if first_crossed is not None:
            value, line, column = first_crossed
            state.warn(
                f"{state.file_name}: {plural(crossed, 'address is', 'addresses are')} in a column "
                f'named for the other IP version, for example "{shown(value)}" on line {line} '
                f'in the column "{shown(column)}". Each is read as the address it is. '
                "Check the columns of the export."
            )

    def _mac(self, text: str, line: int) -> str:
        mac = normalise_mac(text)
        if mac is None and LIST_SEPARATORS.search(text):
            # Asset exports list every adapter's MAC address in one cell. A host
            # keeps one MAC address: the first valid one.
            mac = next(filter(None, map(normalise_mac, LIST_SEPARATORS.split(text))), None)
        if mac is None:
            # One warning after the parse counts them: a column of another
            # notation would otherwise give one warning per row.
            self.bad_macs += 1
            if self.first_bad_mac is None:
                self.first_bad_mac = (text, line)
            return ""
        return mac

    def _chosen_name_column(
        self, header: list[str], header_line: str, header_number: int, address_columns: list[int]
    ) -> int:
        """Return the index of the host-name column the user named; raise ImportFileError."""
        chosen = self.state.name_column
        where = f"{self.state.file_name} line {header_number}"
        found = named_columns(header, chosen)
        if not found:
            raise ImportFileError(
                f"{where}: no column named {chosen!r} in the header row "
                f"{clean_text(header_line)[:200]!r}. Give the host-name column's name as the "
                "header row writes it, or leave it empty to find the column by its name."
            )
        if found[0] in address_columns:
            raise ImportFileError(
                f"{where}: the column {chosen!r} is the address column. Name the column that "
                "holds the host names, or leave the host-name column empty."
            )
        return found[0]

    def _no_address_column(self, header_line: str, header_number: int) -> str:
        """Return the message for a header row without a known address column."""
        where = f"{self.state.file_name} line {header_number}"
        columns = (
            f"{', '.join(ADDRESS_COLUMNS)} (in any case, with or without spaces and punctuation)"
        )
        chosen = self.state.address_column
        # A named column makes the format CSV, so the advice is to leave it out.
        named = [
            label
            for label, column in (
                ("an address column", chosen),
                ("a host-name column", self.state.name_column),
            )
            if column
        ]
        if clean_text(header_line).startswith("<"):
            if named:
                return (
                    f"{where}: the file is XML, not CSV, and {' or '.join(named)} is read from "
                    f"CSV files only. Import it again without {' or '.join(named)}."
                )
            return (
                f"{where}: the file is XML, not CSV. If it is an nmap XML file, import it as "
                "nmap (leave the format to be detected)."
            )
        if chosen:
            return (
                f"{where}: no column named {chosen!r} in the header row "
                f"{clean_text(header_line)[:200]!r}. Give the address column's name as the "
                "header row writes it."
            )
        first_cell = ""
        for delimiter in DELIMITERS:
            cells = next(csv.reader([header_line], delimiter=delimiter), [])
            if len(cells) > 1:
                first_cell = clean_text(cells[0])
                break
        else:
            first_cell = clean_text(header_line)
        try:
            parse_host_address(first_cell)
        except AddressError:
            pass
        else:
            plain_list = "as a plain list" + (f", without {' or '.join(named)}" if named else "")
            return (
                f"{where}: the first row holds data ({first_cell!r}), not a header. Add a header "
                f"row that names the address column one of: {columns}, or import a file with "
                f"one address per line {plain_list}."
            )
        return (
            f"{where}: no address column in the header row {clean_text(header_line)[:200]!r}. "
            f"Name the column one of: {columns}, or give its name as the import's address "
            "column: the upload page's Address column field, the command's --address-column "
            "or the API's address_column."
        )


def _split_cells(values: list[str], multi: list[int]) -> tuple[list[str], list[int]]:
    """Return a row's address values, multi-address cells split, and each one's column position."""
    split_values: list[str] = []
    positions: list[int] = []
    for position, value in enumerate(values):
        parts = (
            [part for part in LIST_SEPARATORS.split(value) if part]
            if position in multi
            else [value]
        )
        split_values.extend(parts)
        positions.extend([position] * len(parts))
    return split_values, positions


def _promised_version(name: str) -> int | None:
    if name in IPV4_KEYS:
        return 4
    if name in IPV6_KEYS:
        return 6
    return None


def formula_text(text: str) -> str | None:
    """Return the text of a spreadsheet formula cell such as ``="192.0.2.1"``, or None.

    Some tools write ``="..."`` so that a spreadsheet shows the text as it is
    instead of reading it as a number or a date. The text is the part
    between the quotes, with doubled quotes made single.
    """
    if len(text) >= 3 and text.startswith('="') and text.endswith('"'):
        return clean_text(text[2:-1].replace('""', '"'))
    return None


def unwrap_formula(text: str) -> str:
    """Return the text of a formula cell, or ``text`` itself when it is no formula."""
    inner = formula_text(text)
    return text if inner is None else inner


def split_names(text: str) -> list[str]:
    """Return the lower-case host names in a cell, split at whitespace, commas, semicolons, bars."""
    if not text:
        return []
    if "," in text or ";" in text or "|" in text:
        return [name.lower() for name in LIST_SEPARATORS.split(text) if name]
    # str.split() splits at the same whitespace as the pattern's \s.
    return text.lower().split()


def split_tags(text: str) -> list[str]:
    """Return the tags in a cell, split at commas, semicolons and bars, once each in any case."""
    if not text:
        return []
    tags: dict[str, str] = {}
    for part in TAG_SEPARATORS.split(text):
        tag = clean_text(part)
        if tag:
            tags.setdefault(tag.casefold(), tag)
    return list(tags.values())


def starts_like_csv(sample: bytes) -> bool:
    """Return True if a header with an address column starts ``sample``.

    The header may follow up to MAX_TITLE_ROWS title rows, as the CSV parser
    reads it.
    """
    text = codecs.decode(sample, "utf-8-sig", errors="replace")
    content = (line for line in text.splitlines() if clean_text(line))
    return any(find_delimiter(line) is not None for line in islice(content, MAX_TITLE_ROWS + 1))


def looks_tabular(sample: bytes) -> bool:
    """Return True if the file starts with a ``sep=`` line or its first entry contains a delimiter.

    The first line that is not blank or a ``#`` comment counts, as a plain
    list reads it: a list entry never contains a comma, semicolon, tab or
    vertical bar.
    """
    text = codecs.decode(sample, "utf-8-sig", errors="replace")
    for line in text.splitlines():
        if separator_of(line):
            return True
        entry = line.split("#", 1)[0]
        if clean_text(entry):
            return any(delimiter in entry for delimiter in DELIMITERS)
    return False
