"""CSV export of a whole list, streamed in address order with flat memory.

The rows are read a chunk at a time by keyset on the address key. The key
range of an address or CIDR filter bounds the walk, and a host-name filter
takes its keys from the same query as the pages. Each chunk is read with
indexed range queries (hosts, scanned addresses, Qualys hosts) whose SQL
already writes the CSV fields, quoted and joined: Python only splices the
inventory part and the Qualys part by key, because formatting a million
rows field by field in Python would cut the rate several times over. On
SQLite a chunk of a host list without a name filter is one query that
joins the Qualys side and writes whole lines.

On PostgreSQL a whole or address-filtered list is one ``COPY ... TO STDOUT``
in CSV format instead: the server writes every line, streamed without a
round trip per chunk, and this process only changes the line ends. All
paths write the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.db import connection

from integrations.models import ScannedAddress, ScannedHost, SubscribedRange
from inventory.exports import spreadsheet_text
from inventory.models import Host

from .lists import AddressFilter, CoverageSet, apply_state

# Rows per chunk. A chunk's Qualys hosts are read with one IN (...) of up to this many
# IDs, below SQLite's limit of 32,766 bound parameters.
CHUNK = 5000
LINE_END = "\r\n"

COLUMNS = [
    "Address",
    "Host name",
    "Host names",
    "MAC address",
    "MAC vendor",
    "OS guess",
    "First seen",
    "Last seen",
    "Source",
    "Tags",
    "Stale",
    "In subscription",
    "Qualys host ID",
    "Qualys DNS name",
    "Qualys NetBIOS name",
    "Qualys OS",
    "Tracking method",
    "Last scan",
    "Qualys network ID",
]
# The inventory columns a Qualys-only row leaves empty (Host name to Stale). Its In
# subscription field follows them.
EMPTY_INVENTORY = "," * 11
# The separators that join a host's names, and its tags, in one field.
NAME_SEPARATOR = " "
TAG_SEPARATOR = ", "

# For each set: the table its rows come from, and the flag column and value that select it.
SET_FLAGS = {
    "unmanaged-by-qualys": ("host", "subscribed", False),
    "managed-by-both": ("host", "scanned", True),
    "unmanaged-by-lumeta": ("scanned", "indexed", False),
}


# A text field that starts with a formula character (see spreadsheet_text) gets a
# leading apostrophe, which spreadsheets show as text and do not evaluate. An OS name
# or host name from a discovery file, or a DNS name from Qualys, must not run as a
# formula when a user opens the export.


def _formula_guard(value: str) -> str:
    """Return SQL for ``value`` with an apostrophe before a leading formula character."""
    tab, cr = ("char(9)", "char(13)") if connection.vendor == "sqlite" else ("chr(9)", "chr(13)")
    apostrophe = "''''"
    starts = f"'=', '+', '-', '@', {tab}, {cr}, {apostrophe}"
    return (
        f"CASE WHEN substr({value}, 1, 1) IN ({starts}) "
        f"THEN {apostrophe} || {value} ELSE {value} END"
    )


# --- CSV fields written by the database ---------------------------------------------


def _text(column: str) -> str:
    """Return SQL for a text column as a quoted CSV field (RFC 4180: quotes doubled)."""
    value = _formula_guard(f"coalesce({column}, '')")
    return f"""'"' || replace({value}, '"', '""') || '"'"""


def _number(column: str) -> str:
    return f"coalesce(CAST({column} AS TEXT), '')"


def _yes_no(column: str) -> str:
    return f"CASE WHEN {column} THEN 'yes' ELSE 'no' END"


def _time(column: str) -> str:
    """Return SQL for a time column as ISO 8601 in UTC to the second, or an empty field."""
    if connection.vendor == "sqlite":
        # Django stores times on SQLite as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]".
        value = f"substr({column}, 1, 10) || 'T' || substr({column}, 12, 8) || 'Z'"
    else:
        value = f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
    return f"coalesce({value}, '')"


def _joined(value, separator: str) -> str:
    """Return a JSON list of strings (host names, tags) as one quoted CSV field."""
    if not value or value == "[]":
        return '""'
    if isinstance(value, str):
        # Lists without escapes, as json.dumps writes them ('["a", "b"]'), split
        # as text, several times faster than json.loads. A backslash means escapes.
        if value.startswith('["') and value.endswith('"]') and "\\" not in value:
            items = value[2:-2].replace('","', '", "').split('", "')
        else:
            items = json.loads(value)
    else:
        items = value
    text = spreadsheet_text(separator.join(items))
    return '"' + text.replace('"', '""') + '"'


def _fields(*expressions: str) -> str:
    return " || ',' || ".join(expressions)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _host_sql(flag_column: str, lower: str = ">=", limit: bool = False) -> str:
    """Return SQL for one key range of a host set's rows.

    Each row is (key, the Address and Host name fields, the host names as
    JSON, the fields MAC address to Source, the tags as JSON, the Stale and
    In subscription fields). ``lower`` compares the key with the range
    start; with ``limit`` the last parameter caps the rows.
    """
    before = _fields(_text("address"), _text("hostname"))
    middle = _fields(
        _text("mac"), _text("mac_vendor"), _text("os_name"), _time("first_seen"),
        _time("last_seen"), _text("source"),
    )  # fmt: skip
    after = _fields(_yes_no("stale"), _yes_no("subscribed"))
    return (
        f"SELECT key, {before}, hostnames, {middle}, tags, {after} FROM {_table(Host)} "
        f"WHERE key {lower} %s AND key <= %s AND {flag_column} = %s ORDER BY key"
        + (" LIMIT %s" if limit else "")
    )


def _in_subscription(key: str) -> str:
    """Return SQL for "yes" when the address of ``key`` lies in a subscribed range, else "no".

    The stored ranges are merged and disjoint, so only the last range that
    starts at or before the key can contain it: one backward step in the
    ``start_key`` index per row. Keys begin with the IP version, so an IPv4
    range never contains an IPv6 key.
    """
    last_start = (
        f"(SELECT r.end_key FROM {_table(SubscribedRange)} r WHERE r.start_key <= {key} "
        "ORDER BY r.start_key DESC LIMIT 1)"
    )
    return f"CASE WHEN coalesce({last_start}, '') >= {key} THEN 'yes' ELSE 'no' END"


def _scanned_sql(with_address: bool, lower: str = ">=", limit: bool = False) -> str:
    """Return SQL for (key, Qualys host row ID, last scan field[, address, in subscription]).

    The rows are the scanned addresses of one key range.
    """
    address = f", {_text('a.address')}, {_in_subscription('a.key')}" if with_address else ""
    return (
        f"SELECT a.key, a.host_id, {_time('a.last_scan')}{address} "
        f"FROM {_table(ScannedAddress)} a "
        f"WHERE a.key {lower} %s AND a.key <= %s AND a.indexed = %s ORDER BY a.key"
        + (" LIMIT %s" if limit else "")
    )


def _qualys_sql() -> str:
    """Return SQL for (row ID, fields Qualys host ID to Tracking method, network ID field).

    The parameters select the Qualys hosts of one chunk. PostgreSQL gets their
    IDs as one array, which it plans in well under a millisecond (an IN list
    of 5,000 values costs it about 8 ms). SQLite takes them from the scanned
    addresses of the chunk's key range and indexed flag, which saves binding
    5,000 parameters.
    """
    fields = _fields(
        _number("qualys_id"), _text("dns"), _text("netbios"), _text("os"),
        _text("tracking_method"),
    )  # fmt: skip
    if connection.vendor == "postgresql":
        condition = "id = ANY(%s)"
    else:
        condition = (
            f"id IN (SELECT host_id FROM {_table(ScannedAddress)} "
            "WHERE key >= %s AND key <= %s AND indexed = %s)"
        )
    return (
        f"SELECT id, {fields}, {_number('network_id')} FROM {_table(ScannedHost)} WHERE {condition}"
    )


# --- Reading and writing -------------------------------------------------------------


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _qualys_parts(scans: list[tuple], indexed: bool) -> dict[int, tuple[str, str]]:
    """Return the Qualys host fields of ``scans`` (rows of one chunk), by Qualys host row ID."""
    if not scans:
        return {}
    if connection.vendor == "postgresql":
        params = [list({row[1] for row in scans})]
    else:
        params = [scans[0][0], scans[-1][0], indexed]
    return {
        host_id: (fields, network) for host_id, fields, network in _fetch(_qualys_sql(), params)
    }


def _scanned_lines(scans: list[tuple]) -> list[tuple[str, str]]:
    """Return (key, CSV line) of Qualys-only rows: address, In subscription, Qualys fields."""
    qualys = _qualys_parts(scans, indexed=False)
    lines = []
    for key, host_id, last_scan, address, subscribed in scans:
        fields, network = qualys[host_id]
        lines.append(
            (key, f"{address}{EMPTY_INVENTORY}{subscribed},{fields},{last_scan},{network}")
        )
    return lines


def _host_lines(hosts: list[tuple]) -> list[tuple[str, str]]:
    """Return (key, CSV line) of host rows, joined with their Qualys fields by key.

    Three simple indexed reads merged here rather than one SQL join, whose
    plan PostgreSQL sometimes turns into a full scan of the scanned hosts.
    """
    if not hosts:
        return []
    # The addresses of indexed hosts are the scanned addresses flagged indexed.
    scans = _fetch(_scanned_sql(with_address=False), [hosts[0][0], hosts[-1][0], True])
    qualys = _qualys_parts(scans, indexed=True)
    scan_fields = {}
    for key, host_id, last_scan in scans:
        fields, network = qualys[host_id]
        scan_fields[key] = f"{fields},{last_scan},{network}"
    no_scan = ",,,,,,"
    return [
        (
            key,
            f"{before},{_joined(names, NAME_SEPARATOR)},{middle},{_joined(tags, TAG_SEPARATOR)},"
            f"{after},{scan_fields.get(key, no_scan)}",
        )
        for key, before, names, middle, tags, after in hosts
    ]


def _lines_in_range(
    side: str, flag_column: str, flag_value: bool, start: str, end: str, stale: bool | None
):
    """Yield chunks of (key, CSV line) for the set's rows from key ``start`` to ``end``.

    Each chunk is read by keyset straight from the set's table. ``stale``
    keeps only stale or current hosts of a host set.
    """
    lower, operator = start, ">="
    while True:
        if side == "scanned":
            params = [lower, end, flag_value, CHUNK]
            rows = _fetch(_scanned_sql(True, operator, limit=True), params)
            lines = _scanned_lines(rows)
        else:
            params = [lower, end, flag_value, *([] if stale is None else [stale]), CHUNK]
            rows = _fetch(_joined_host_sql(flag_column, operator, stale is not None), params)
            lines = _joined_host_lines(rows, flag_column, flag_value)
        if not rows:
            return
        yield lines
        lower, operator = rows[-1][0], ">"


def _joined_sqlite(column: str, separator: str) -> str:
    """Return SQLite SQL for a JSON list of strings as one quoted CSV field, or NULL.

    The items are cut out of the JSON text as ``_joined`` does. Text without
    a backslash has no escapes, so it contains no double quote to double; other
    text gives NULL.
    """
    empty = f"({column} IS NULL OR {column} IN ('', '[]'))"
    plain = (
        f"(instr({column}, '\\') = 0 AND substr({column}, 1, 2) = '[\"' "
        f"AND substr({column}, -2) = '\"]')"
    )
    inner = _formula_guard(f"substr({column}, 3, length({column}) - 4)")
    joined = f"replace(replace({inner}, '\", \"', '{separator}'), '\",\"', '{separator}')"
    return f"CASE WHEN {empty} THEN '\"\"' WHEN {plain} THEN '\"' || {joined} || '\"' END"


def _joined_host_sql(flag_column: str, lower: str, by_state: bool = False) -> str:
    """Return SQL for (key, CSV line) of up to CHUNK rows of a host set, Qualys fields joined.

    One query per chunk, with the whole line built by the database, streams
    faster on SQLite than three queries spliced in Python. The host names
    and tags are cut out of their JSON text as ``_joined`` does. Where that
    cannot be done (escapes, or values that are no list of strings) the line
    is NULL and ``_joined_host_lines`` builds it the other way. With
    ``by_state`` a parameter before the row limit selects stale or current
    hosts.
    """
    line = _fields(
        _text("h.address"), _text("h.hostname"), _joined_sqlite("h.hostnames", NAME_SEPARATOR),
        _text("h.mac"), _text("h.mac_vendor"), _text("h.os_name"), _time("h.first_seen"),
        _time("h.last_seen"), _text("h.source"), _joined_sqlite("h.tags", TAG_SEPARATOR),
        _yes_no("h.stale"), _yes_no("h.subscribed"),
    )  # fmt: skip
    qualys = _fields(
        _number("q.qualys_id"), _text("q.dns"), _text("q.netbios"), _text("q.os"),
        _text("q.tracking_method"), _time("a.last_scan"), _number("q.network_id"),
    )  # fmt: skip
    return (
        f"SELECT h.key, {line} || ',' || CASE WHEN a.id IS NULL THEN ',,,,,,' ELSE {qualys} END "
        f"FROM {_table(Host)} h LEFT JOIN {_table(ScannedAddress)} a ON a.key = h.key "
        f"LEFT JOIN {_table(ScannedHost)} q ON q.id = a.host_id "
        f"WHERE h.key {lower} %s AND h.key <= %s AND h.{flag_column} = %s "
        + ("AND h.stale = %s " if by_state else "")
        + "ORDER BY h.key LIMIT %s"
    )


def _joined_host_lines(
    rows: list[tuple], flag_column: str, flag_value: bool
) -> list[tuple[str, str]]:
    """Return (key, CSV line) of rows read with ``_joined_host_sql``, filling NULL lines."""
    missing = [key for key, line in rows if line is None]
    if not missing:
        return rows
    built = dict(_lines_of_keys("host", flag_column, flag_value, missing))
    return [(key, built[key] if line is None else line) for key, line in rows]


def _lines_of_keys(side: str, flag_column: str, flag_value: bool, keys: list[str]):
    """Return (key, CSV line) for exactly ``keys`` (one chunk, in key order)."""
    bounds = [keys[0], keys[-1], flag_value]
    if side == "scanned":
        lines = _scanned_lines(_fetch(_scanned_sql(with_address=True), bounds))
    else:
        lines = _host_lines(_fetch(_host_sql(flag_column), bounds))
    # The key range also contains rows that the name filter left out.
    wanted = set(keys)
    return [(key, line) for key, line in lines if key in wanted]


# --- PostgreSQL: whole CSV lines from COPY --------------------------------------------


def _iso_time(column: str) -> str:
    """Return SQL for a time column as ISO 8601 in UTC to the second (NULL stays NULL)."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


def _joined_text(column: str, separator: str) -> str:
    """Return PostgreSQL SQL for a JSON array of strings (host names, tags) as joined text.

    The items are cut out of the array's JSON text, as ``_joined`` does in
    Python, which took half the time of expanding the array in a test on a
    million hosts. Text with a backslash has escapes, so it goes through
    the array functions.
    """
    text = f"{column}::text"
    return (
        f"CASE WHEN jsonb_typeof({column}) <> 'array' OR {column} = '[]'::jsonb THEN '' "
        f"WHEN strpos({text}, '\\') = 0 AND left({text}, 2) = '[\"' "
        f"THEN replace(substr({text}, 3, length({text}) - 4), '\", \"', '{separator}') "
        f"ELSE array_to_string(ARRAY(SELECT jsonb_array_elements_text({column})), '{separator}') "
        "END"
    )


def _copy_sql(side: str, flag_column: str, by_state: bool = False) -> tuple[str, list[int]]:
    """Return the SELECT of one export's CSV columns and the positions of its text columns.

    Text columns are always quoted, as the other paths write them. NULL is
    written as an empty field: the Qualys columns of a host that Qualys
    never scanned, and the inventory columns of a Qualys-only row but In subscription.
    With ``by_state`` the parameter ``stale`` selects stale or current hosts of a host set.
    """
    host, scanned, qualys = _table(Host), _table(ScannedAddress), _table(ScannedHost)
    qualys_columns = [
        "q.qualys_id", "q.dns", "q.netbios", "q.os", "q.tracking_method",
        _iso_time("a.last_scan"), "q.network_id",
    ]  # fmt: skip
    if side == "scanned":
        columns = ["a.address"] + ["NULL::text"] * 10 + [_in_subscription("a.key")] + qualys_columns
        source = (
            f"FROM {scanned} a LEFT JOIN {qualys} q ON q.id = a.host_id "
            "WHERE a.key >= %(start)s AND a.key <= %(end)s AND a.indexed = %(flag)s "
            "ORDER BY a.key"
        )
    else:
        columns = [
            "h.address", "h.hostname", _joined_text("h.hostnames", NAME_SEPARATOR), "h.mac",
            "h.mac_vendor", "h.os_name", _iso_time("h.first_seen"), _iso_time("h.last_seen"),
            "h.source", _joined_text("h.tags", TAG_SEPARATOR),
            "CASE WHEN h.stale THEN 'yes' ELSE 'no' END",
            "CASE WHEN h.subscribed THEN 'yes' ELSE 'no' END",
        ] + qualys_columns  # fmt: skip
        source = (
            # The key range is repeated for the scanned addresses, so a small
            # range reads only its part of that table.
            f"FROM {host} h LEFT JOIN {scanned} a "
            "ON a.key = h.key AND a.key >= %(start)s AND a.key <= %(end)s "
            f"LEFT JOIN {qualys} q ON q.id = a.host_id "
            f"WHERE h.key >= %(start)s AND h.key <= %(end)s AND h.{flag_column} = %(flag)s "
            + ("AND h.stale = %(stale)s " if by_state else "")
            + "ORDER BY h.key"
        )
    text_columns = [0, 1, 2, 3, 4, 5, 8, 9, 13, 14, 15, 16]
    # Addresses (column 0) never start with a formula character.
    columns = [
        _formula_guard(column) if index in text_columns[1:] else column
        for index, column in enumerate(columns)
    ]
    select = ", ".join(f"{column} AS c{index}" for index, column in enumerate(columns))
    return f"SELECT {select} {source}", text_columns


def _copy_chunks(
    side: str, flag_column: str, flag_value: bool, start: str, end: str, stale: bool | None
) -> Iterator[bytes]:
    """Yield the CSV lines of the set's rows from key ``start`` to ``end``, CHUNK rows at a time.

    One ``COPY ... TO STDOUT`` streams every line, written by PostgreSQL's
    CSV writer: the server formats rows while this process forwards the
    previous ones, and no round trip is made per chunk. COPY ends each
    line with a line feed, which is swapped for CRLF; a line feed inside a
    quoted field is kept, because only the last byte of a line is swapped.
    """
    by_state = side != "scanned" and stale is not None
    select, text_columns = _copy_sql(side, flag_column, by_state)
    quoted = ", ".join(f"c{index}" for index in text_columns)
    statement = f"COPY ({select}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE ({quoted}))"
    line_end = LINE_END.encode()
    with connection.cursor() as cursor:
        params = {"start": start, "end": end, "flag": flag_value, "stale": stale}
        with cursor.cursor.copy(statement, params) as copy:
            lines: list[bytes] = []
            # psycopg hands over one COPY row per item.
            for row in copy:
                lines.append(bytes(row[:-1]))
                if len(lines) >= CHUNK:
                    yield line_end.join(lines) + line_end
                    lines = []
            if lines:
                yield line_end.join(lines) + line_end


def _chunk_keys(
    coverage_set: CoverageSet, address_filter: AddressFilter | None, stale: bool | None
) -> Iterator[list[str]]:
    """Yield the filtered set's keys in address order, CHUNK at a time, by keyset."""
    queryset = coverage_set.queryset()
    if address_filter is not None:
        queryset = address_filter.apply(
            queryset, coverage_set.side, qualys_names=coverage_set.qualys_names
        )
    queryset = apply_state(queryset, coverage_set.side, stale)
    last_key = None
    while True:
        page = queryset.order_by("key")
        if last_key is not None:
            page = page.filter(key__gt=last_key)
        keys = list(page.values_list("key", flat=True)[:CHUNK])
        if not keys:
            return
        yield keys
        last_key = keys[-1]


def csv_lines(
    coverage_set: CoverageSet, address_filter: AddressFilter | None, stale: bool | None = None
) -> Iterator[bytes]:
    """Yield the CSV text of the whole filtered set as UTF-8, one chunk of lines at a time.

    ``stale`` keeps only stale (True) or current (False) inventory hosts of
    a host set.
    """
    side, flag_column, flag_value = SET_FLAGS[coverage_set.slug]
    header = io.StringIO()
    csv.writer(header, lineterminator=LINE_END).writerow(COLUMNS)
    yield header.getvalue().encode()
    if address_filter is not None and (address_filter.is_name or address_filter.field):
        chunks = (
            _lines_of_keys(side, flag_column, flag_value, keys)
            for keys in _chunk_keys(coverage_set, address_filter, stale)
        )
    else:
        # Every key starts with "4" or "6", so "" to "7" spans them all.
        start, end = (
            ("", "7")
            if address_filter is None
            else (address_filter.start_key, address_filter.end_key)
        )
        if connection.vendor == "postgresql":
            yield from _copy_chunks(side, flag_column, flag_value, start, end, stale)
            return
        chunks = _lines_in_range(side, flag_column, flag_value, start, end, stale)
    for lines in chunks:
        yield "".join(line + LINE_END for _, line in lines).encode()
