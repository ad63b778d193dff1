"""Import discovery files into the inventory, and expire stale hosts.

``import_file`` is the one entry point that the upload page, the
``import_hosts`` command, the HTTP endpoint and other apps (demo data)
share. It runs one import in one database transaction:

1. the format is taken from ``fmt`` or detected from the content;
2. the parser streams host records into :class:`~inventory.writer.HostWriter`;
3. rejected rows are collected with file, line, value and reason;
4. after a complete, non-dry import the hosts of the same source that the
   file no longer lists are marked stale;
5. ``hosts_imported`` is sent inside the transaction;
6. a dry run rolls everything back but reports the same counts;
7. a file that cannot be parsed at all writes nothing and reports why.

The :class:`~inventory.models.ImportRun` row is written outside that
transaction, so the report survives a rolled-back import.
"""

from __future__ import annotations

import gc
import io
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .importers import (
    FORMATS,
    SNIFF_BYTES,
    ImportFileError,
    ParseState,
    check_container,
    detect_format,
)
from .importers.base import CountingReader, plural
from .importers.nmap import CHUNK_SIZE
from .importers.parallel import parse_records
from .models import Host, ImportRun
from .processes import current_owner, owner_gone
from .signals import hosts_deleted, hosts_imported
from .writer import HeldCheckpoint, HostWriter, WriteCounts

logger = logging.getLogger(__name__)

# Called with (bytes_read, total_bytes or None, hosts_written).
ProgressCallback = Callable[[int, "int | None", int], None]


# Host.source, ImportRun.source and ImportRun.file_name hold up to this many characters.
NAME_MAX_LENGTH = 255
# Hosts deleted per statement: well under SQLite's limit of bound parameters.
DELETE_CHUNK = 500


def name_problem(label: str, value: str, typed: bool = True) -> str | None:
    """Return why ``value`` cannot be a source or file name, or None when it can.

    ``label`` is how the message names the value, such as "source" or
    "--source". PostgreSQL refuses text with a NUL character and text longer
    than the column, so such a value would fail the import only after the
    whole file was parsed; SQLite would store it as given. A ``typed`` name
    (a source or name given to the command, the page or the API) may hold no
    other control character either. A newline or tab from a script's variable
    is a mistake, and a later import could hardly give the same name again.
    A file's own name is not typed and may hold any character but NUL.
    """
    if len(value) > NAME_MAX_LENGTH:
        return (
            f"The {label} is {len(value):,} characters long; the limit is {NAME_MAX_LENGTH}. "
            "Give a shorter name."
        )
    if typed:
        control = next((char for char in value if ord(char) < 32 or 127 <= ord(char) < 160), None)
    else:
        control = "\x00" if "\x00" in value else None
    if control is not None:
        return (
            f"The {label} {value!r} contains the control character U+{ord(control):04X}. "
            "Give a name without control characters."
        )
    return None


@dataclass
class ImportReport:
    """The outcome of one import, in the shape that every way in reports it."""

    run_id: int | None
    source: str
    file_name: str
    format: str
    status: str
    dry_run: bool
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    marked_stale: int = 0
    repeated: int = 0
    rejected_count: int = 0
    rejected: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str = ""
    # The CSV columns that the import named, empty when found by their names.
    address_column: str = ""
    name_column: str = ""

    @property
    def imported(self) -> int:
        """Hosts the file listed that are now in the inventory (or would be, in a dry run)."""
        return self.added + self.updated + self.unchanged

    @property
    def ok(self) -> bool:
        return self.status != ImportRun.Status.FAILED

    def as_dict(self) -> dict:
        data = asdict(self)
        data["imported"] = self.imported
        return data

    def summary_lines(self) -> list[str]:
        """Return the report as plain text lines, as the command prints it."""
        outcome = self.status
        if self.dry_run and self.status == ImportRun.Status.PREVIEW:
            outcome = "preview, nothing written"
        elif self.status == ImportRun.Status.EMPTY:
            outcome = "nothing imported"
        columns = "".join(
            f", {label} {column!r}"
            for label, column in (
                ("address column", self.address_column),
                ("host-name column", self.name_column),
            )
            if column
        )
        lines = [
            f"{self.file_name} ({self.format or 'unknown format'}, source {self.source!r}"
            f"{columns}): {outcome}",
        ]
        if self.error:
            lines.append(f"  error: {self.error}")
        lines.append(
            f"  added {self.added:,}, updated {self.updated:,}, unchanged {self.unchanged:,}, "
            f"marked stale {self.marked_stale:,}, rejected {self.rejected_count:,}"
        )
        for rejection in self.rejected:
            lines.append(f"  rejected: {rejection['message']}")
        if self.rejected_count > len(self.rejected):
            lines.append(f"  … and {self.rejected_count - len(self.rejected):,} more rejected rows")
        for warning in self.warnings:
            lines.append(f"  warning: {warning}")
        return lines


class _DryRunRollback(Exception):
    """Raised inside the transaction to undo a dry run."""


def import_file(
    path: str | os.PathLike,
    *,
    fmt: str | None = None,
    source: str | None = None,
    dry_run: bool = False,
    user=None,
    progress: ProgressCallback | None = None,
    run: ImportRun | None = None,
    file_name: str | None = None,
    mark_stale: bool = True,
    stale_cutoff: datetime | None = None,
    source_from_name: bool | None = None,
    via: str = "",
    address_column: str = "",
    name_column: str = "",
) -> ImportReport:
    """Import one discovery file from disk and return its report.

    ``fmt`` is ``"nmap"``, ``"csv"``, ``"list"`` or None to detect it from
    the content. ``source`` names the feed for stale marking (default: the
    file name). ``dry_run`` reports without writing hosts. ``progress`` is
    called with bytes read, total bytes and hosts written so far.

    ``run`` continues an ImportRun that the caller created, because the
    upload page creates it first for the browser to poll. ``file_name``
    overrides the name shown in messages, so that an upload shows its
    original name instead of a temporary path.

    ``mark_stale=False`` leaves stale marking to a later import of the same
    source, and ``stale_cutoff`` marks stale the hosts of the source last
    seen before that time instead of before this import's start:
    :func:`import_files` uses both to treat several files as one feed.
    """
    file_path = Path(path)
    name = file_name or file_path.name
    with file_path.open("rb") as stream:
        return import_stream(
            stream,
            file_name=name,
            fmt=fmt,
            source=source,
            dry_run=dry_run,
            user=user,
            progress=progress,
            run=run,
            total_bytes=file_path.stat().st_size,
            mark_stale=mark_stale,
            stale_cutoff=stale_cutoff,
            source_from_name=source_from_name,
            via=via,
            address_column=address_column,
            name_column=name_column,
        )


def import_files(
    paths: list[Path],
    *,
    fmt: str | None = None,
    source: str | None = None,
    dry_run: bool = False,
    user=None,
    progress_for: Callable[[Path], ProgressCallback | None] | None = None,
    via: str = "",
    address_column: str = "",
    name_column: str = "",
) -> Iterator[ImportReport]:
    """Import several files, each in its own transaction, and yield each report as it ends.

    Files with the same source (``source``, or files with the same name)
    are one feed, as when a large scan is split into parts: a host that
    one part lists is not stale because another part does not. Stale
    marking then waits for the last file of the source and marks the hosts
    of the source that none of its files listed, provided every one of them
    was imported completely and listed a host. A dry run cannot see the
    earlier files' hosts, so it counts no stale hosts for a source of
    several files. Files with the same name are shown with their path.
    """
    sources = [(source or "").strip() or path.name for path in paths]
    names = Counter(path.name for path in paths)
    totals = Counter(sources)
    remaining = Counter(sources)
    cutoffs: dict[str, datetime] = {}
    # Per source, the first file that was not imported completely or listed
    # no host, and why.
    blocked: dict[str, tuple[str, str]] = {}
    for path, feed in zip(paths, sources, strict=True):
        remaining[feed] -= 1
        shared = totals[feed] > 1
        last = remaining[feed] == 0
        # Files with the same name are shown with their path in messages.
        display_name = str(path) if names[path.name] > 1 else path.name
        # Hosts listed by this source's earlier files were last seen at or
        # after this time, so they stay current.
        cutoff = cutoffs.setdefault(feed, timezone.now())
        report = import_file(
            path,
            fmt=fmt,
            source=feed,
            dry_run=dry_run,
            user=user,
            progress=progress_for(path) if progress_for else None,
            file_name=display_name,
            mark_stale=not shared or (last and not dry_run and feed not in blocked),
            stale_cutoff=cutoff if shared else None,
            source_from_name=not (source or "").strip(),
            via=via,
            address_column=address_column,
            name_column=name_column,
        )
        if feed not in blocked:
            if report.status == ImportRun.Status.EMPTY or (report.ok and report.imported == 0):
                # Its part of the network would be marked stale wrongly.
                blocked[feed] = (display_name, "listed no host")
            elif report.status != ImportRun.Status.SUCCEEDED:
                blocked[feed] = (display_name, "was not imported completely")
        if shared and last:
            if dry_run:
                note = f"A dry run of several files of source {feed!r} counts no stale hosts."
            elif not report.ok:
                # The feed's last file failed, so its stale marking never ran.
                note = (
                    f"No host of source {feed!r} was marked stale, because {display_name}, "
                    "the source's last file, failed. Import the feed again once it is fixed."
                )
            elif feed in blocked and blocked[feed][0] != display_name:
                note = (
                    f"No host of source {feed!r} was marked stale, because "
                    f"{blocked[feed][0]} {blocked[feed][1]}."
                )
            else:
                note = ""
            if note:
                report.warnings.append(note)
                ImportRun.objects.filter(pk=report.run_id).update(warnings=report.warnings)
        yield report


def _warn_of_stale_majority(
    state: ParseState, source: str, marked: int, listed: int, became: str, seen_since: datetime
) -> None:
    """Warn when an import marked more hosts stale than its feed listed.

    That is most often one part of a feed imported alone under the feed's
    source. The hosts the feed listed are those of the source seen since its
    first part started, so a feed sent in parts counts all of them.
    """
    seen = Host.objects.filter(source=source, stale=False, last_seen__gte=seen_since).count()
    if marked <= seen:
        return
    stale = f"{plural(marked, 'host', 'hosts')} of source {source!r} {became} stale"
    if seen != listed:
        # The file was the last part of a feed sent in parts, as it should be.
        state.warn(
            f"{stale}, more than the {seen:,} the feed's files listed. If a part of the feed is "
            "missing, import the whole feed again: its hosts become current again."
        )
        return
    state.warn(
        f"{stale}, more than the {seen:,} this file listed. If the file is only part of the "
        "feed, import every part in one command, or through the API with mark_stale=0 on every "
        "part but the last and stale_before set to the first part's start on the last. "
        "Otherwise give the part a source of its own. Importing the whole feed again makes its "
        "hosts current again."
    )


def _warn_of_case_twin(source: str, state: ParseState) -> None:
    """Warn when ``source`` differs from an earlier import's source only in letter case."""
    twin = (
        ImportRun.objects.filter(source__iexact=source)
        .exclude(source=source)
        .values_list("source", flat=True)
        .first()
    )
    if twin is not None:
        state.warn(
            f"The source {source!r} differs only in letter case from the source {twin!r} of an "
            "earlier import. They are two feeds, and neither marks the other's hosts stale. "
            "Give one feed one spelling."
        )


def create_run(
    file_name: str,
    source: str | None,
    fmt: str | None,
    user=None,
    *,
    dry_run: bool = False,
    via: str = "",
    address_column: str = "",
    name_column: str = "",
) -> ImportRun:
    """Create the ImportRun row of an import that is about to start in this process.

    ``via`` is the way the file came in, one of ``ImportRun.Via``.
    """
    return ImportRun.objects.create(
        source=source or file_name,
        file_name=file_name,
        dry_run=dry_run,
        file_format=fmt or "",
        started_by=user if user is not None and user.is_authenticated else None,
        via=via,
        address_column=address_column,
        name_column=name_column,
        owner=current_owner(),
    )


def progress_file(run_id: int) -> Path:
    """Return the path of the progress file of an import on SQLite (see inventory.background)."""
    return Path(settings.DATA_DIR) / "import-progress" / f"{int(run_id)}.json"


def settle_abandoned_runs(runs) -> None:
    """Mark failed the running imports whose process on this host has ended.

    Such an import never committed, so it wrote nothing. ``runs`` are
    ImportRun objects about to be shown; they are updated in place.
    """
    for run in runs:
        if run.status != ImportRun.Status.RUNNING or not owner_gone(run.owner):
            continue
        host, pid, _start = run.owner.rsplit(":", 2)
        error = (
            f"The process that ran this import (pid {pid} on {host}) ended before the import "
            "reported its result, for example because the web server restarted or stopped a "
            "request that ran too long. An import "
            "that does not finish writes nothing: import the file again."
        )
        finished_at = timezone.now()
        ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.RUNNING).update(
            status=ImportRun.Status.FAILED, error=error, finished_at=finished_at
        )
        run.status, run.error, run.finished_at = ImportRun.Status.FAILED, error, finished_at
        progress_file(run.pk).unlink(missing_ok=True)
        logger.warning("Import %s of %s: its process %s ended", run.pk, run.file_name, run.owner)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block, for the whole process.

    An import allocates millions of short-lived tuples and lists without
    reference cycles. The collector ran about every 700 of them and, as
    survivors accumulated, scanned every long-lived object of the process:
    2.5 to 3.5 s of CPU time per million hosts. Reference counting still
    frees each batch. Cycles that other threads create meanwhile wait for
    the collector's first run after the block.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def import_stream(
    stream: BinaryIO,
    *,
    file_name: str,
    fmt: str | None = None,
    source: str | None = None,
    dry_run: bool = False,
    user=None,
    progress: ProgressCallback | None = None,
    run: ImportRun | None = None,
    total_bytes: int | None = None,
    mark_stale: bool = True,
    stale_cutoff: datetime | None = None,
    source_from_name: bool | None = None,
    via: str = "",
    address_column: str = "",
    name_column: str = "",
) -> ImportReport:
    """Import a discovery file from an open binary stream; see :func:`import_file`.

    ``address_column`` names the CSV column that holds the addresses, for
    exports whose header has none of the known names, and ``name_column``
    the one that contains the host names; either makes the format CSV.

    ``source_from_name`` is true when no source was given and the source is
    the file's name; by default it is true when ``source`` is empty.
    """
    if source_from_name is None:
        source_from_name = not (source or "").strip()
    source = (source or "").strip() or file_name
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}. Choose one of: {', '.join(FORMATS)}.")
    address_column = (address_column or "").strip()
    name_column = (name_column or "").strip()
    for label, column in (
        ("An address column", address_column),
        ("A host-name column", name_column),
    ):
        if column and fmt not in (None, "csv"):
            raise ValueError(
                f"{label} is read from CSV files only, not from the format {fmt!r}. "
                "Leave the format out or choose csv."
            )
    for label, value in (("source", source), ("file name", file_name)):
        problem = name_problem(label, value, typed=False)
        if problem:
            raise ValueError(problem)
    if run is None:
        run = create_run(
            file_name,
            source,
            fmt,
            user,
            dry_run=dry_run,
            via=via,
            address_column=address_column,
            name_column=name_column,
        )
    else:
        run.source = source
    state = ParseState(file_name, address_column=address_column, name_column=name_column)
    _warn_of_case_twin(source, state)
    started_at = run.started_at
    report = ImportReport(
        run_id=run.pk,
        source=source,
        file_name=file_name,
        format=fmt or "",
        status=ImportRun.Status.RUNNING,
        dry_run=dry_run,
        address_column=address_column,
        name_column=name_column,
    )
    logger.info(
        "Import %s of %s started (source %r, dry run %s)", run.pk, file_name, source, dry_run
    )

    # On SQLite the WAL checkpoint of the import's commit waits until the
    # report is saved; see HeldCheckpoint.
    checkpoint = HeldCheckpoint()
    written = 0
    try:
        counts = WriteCounts()
        reader = CountingReader(stream, total_bytes)

        def report_progress(batch_counts: WriteCounts | None = None) -> None:
            if progress is not None:
                written = counts.added + counts.updated + counts.unchanged
                progress(reader.bytes_read, total_bytes, written)

        try:
            sample = reader.read(SNIFF_BYTES)
            buffered = io.BufferedReader(_Prefixed(sample, reader), CHUNK_SIZE)
            check_container(sample, file_name)
            report.format = fmt or (
                "csv" if address_column or name_column else detect_format(sample)
            )
            with transaction.atomic(), paused_gc():
                writer = HostWriter(source, started_at, on_batch=report_progress)
                counts = writer.counts
                # A writer that streams into one COPY (PostgreSQL, empty table)
                # already has the server working beside this process. A parser
                # process then made a third busy process on two cores: the
                # million-host nmap import took as long (14.3-15.2 s against
                # 14.1-14.6 s) for 3 s more CPU time and a 48 MiB second process.
                records = parse_records(
                    report.format, buffered, state, total_bytes, aside=not writer.streaming
                )
                try:
                    for record in records:
                        writer.add(record)
                    writer.finish()
                finally:
                    # Closing the generator at once stops a parser process when
                    # the write fails, instead of when the generator is collected.
                    records.close()
                    writer.close()
                listed = counts.added + counts.updated + counts.unchanged
                if state.complete and mark_stale and listed:
                    # A dry run marks too, so that its report shows the count; the
                    # rollback below undoes it with everything else.
                    report.marked_stale = writer.mark_stale(timezone.now(), stale_cutoff)
                    became = "would become" if dry_run else "became"
                    if report.marked_stale and source_from_name:
                        # Two feeds that send files of one name, hosts.csv, would
                        # otherwise mark each other's hosts stale unawares.
                        state.warn(
                            f"No source was given, so the source is the file's name, {source!r}: "
                            f"{plural(report.marked_stale, 'host', 'hosts')} that earlier "
                            f"imports of a file of that name listed {became} stale. If another "
                            "feed sends files of the same name, give each feed a source of its "
                            "own."
                        )
                    elif report.marked_stale > listed:
                        _warn_of_stale_majority(
                            state, source, report.marked_stale, listed, became,
                            seen_since=stale_cutoff or writer.seen_at,
                        )  # fmt: skip
                    if report.marked_stale and state.rejected_count:
                        # A rejected row may name a host that is still there.
                        state.warn(
                            f"{plural(report.marked_stale, 'host', 'hosts')} of source "
                            f"{source!r} {became} stale while "
                            f"{plural(state.rejected_count, 'row was', 'rows were')} rejected. "
                            "If a rejected row names one of them, fix the row and import the "
                            "file again: the host becomes current again."
                        )
                elif state.complete and mark_stale:
                    # A file of which nothing could be read, such as one in the
                    # wrong format, shows nothing about which hosts are gone.
                    state.warn(
                        f"No host could be imported, so no host of source {source!r} was marked "
                        "stale. To remove hosts that are gone, delete them in the administration's "
                        "host list, which filters by source."
                    )
                elif state.complete and not listed:
                    state.warn("No host could be imported from this file.")
                if not dry_run:
                    hosts_imported.send(
                        sender=Host, new_since_pk=writer.new_since_pk, import_run=run
                    )
                if dry_run:
                    raise _DryRunRollback
        except _DryRunRollback:
            pass
        except ImportFileError as error:
            report.error = str(error)
            counts = WriteCounts()
        except Exception as error:
            report.error = f"The import failed unexpectedly and nothing was written: {error}"
            report.status = ImportRun.Status.FAILED
            _save_run(run, report)
            logger.exception("Import %s of %s failed", run.pk, file_name)
            raise
        report_progress()
        written = counts.added + counts.updated + counts.unchanged
        run.progress = {
            "bytes_read": reader.bytes_read,
            "total_bytes": total_bytes,
            "hosts": written,
        }

        report.added = counts.added
        report.updated = counts.updated
        report.unchanged = counts.unchanged
        report.repeated = counts.repeated
        report.rejected_count = state.rejected_count
        report.rejected = [rejection.as_dict() for rejection in state.rejections]
        report.warnings = list(state.warnings)
        if state.warning_count > len(state.warnings):
            left_out = state.warning_count - len(state.warnings)
            report.warnings.append(
                f"{state.file_name}: "
                + plural(left_out, "more warning was", "more warnings were")
                + f" not kept: a report keeps the first {len(state.warnings)}."
            )
        if counts.repeated:
            address, line = counts.first_repeat or ("", 0)
            if counts.repeated == 1:
                listings = "1 more listing of an address listed earlier in the file was"
            else:
                listings = (
                    f"{counts.repeated:,} more listings of addresses listed earlier in the file "
                    "were"
                )
            report.warnings.append(
                f"{state.file_name}: {listings} merged into the first listing, for example "
                f"{address}, listed again on line {line}."
            )
        if counts.moved:
            address, former = counts.first_moved or ("", "")
            hosts = plural(counts.moved, "host", "hosts")
            if dry_run:
                verb = "would belong"
            else:
                verb = "now belongs" if counts.moved == 1 else "now belong"
            report.warnings.append(
                f"{state.file_name}: {hosts} of another source {verb} to source “{source}”, "
                f"for example {address}, which was of “{former}”. A host has one source: only "
                f"imports of “{source}” mark {'it' if counts.moved == 1 else 'them'} stale "
                "from then on."
            )
        if dry_run and not state.complete:
            report.warnings.append("A real import of this file would not mark any host stale.")
        report.status = _status(report, state, dry_run)
        _save_run(run, report)
        logger.info(
            "Import %s of %s finished: %s, added %s, updated %s, unchanged %s, stale %s, "
            "rejected %s",
            run.pk,
            file_name,
            report.status,
            report.added,
            report.updated,
            report.unchanged,
            report.marked_stale,
            report.rejected_count,
        )
    finally:
        checkpoint.release(written=0 if dry_run or report.error else written)
    return report


def _status(report: ImportReport, state: ParseState, dry_run: bool) -> str:
    if report.error:
        return ImportRun.Status.FAILED
    if dry_run:
        return ImportRun.Status.PREVIEW
    if report.imported == 0:
        # Every row rejected, no host up, or an interrupted scan that ends
        # before its first complete host.
        return ImportRun.Status.EMPTY
    if not state.complete:
        return ImportRun.Status.PARTIAL
    return ImportRun.Status.SUCCEEDED


def _save_run(run: ImportRun, report: ImportReport) -> None:
    run.file_format = report.format
    run.finished_at = timezone.now()
    run.status = report.status
    run.added = report.added
    run.updated = report.updated
    run.unchanged = report.unchanged
    run.marked_stale = report.marked_stale
    run.rejected = report.rejected
    run.rejected_count = report.rejected_count
    run.warnings = report.warnings
    run.error = report.error
    run.dry_run = report.dry_run
    run.progress = {**(run.progress or {}), "done": True}
    run.save()


class _Prefixed(io.RawIOBase):
    """A binary stream that first returns bytes already read for format detection."""

    def __init__(self, prefix: bytes, rest: BinaryIO):
        super().__init__()
        self.prefix = prefix
        self.rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        size = len(buffer)
        if self.prefix:
            data, self.prefix = self.prefix[:size], self.prefix[size:]
        else:
            data = self.rest.read(size)
        buffer[: len(data)] = data
        return len(data)


def expired_hosts(cutoff):
    """Return the hosts stale since before ``cutoff``, unordered.

    Without an order the database reads them from the partial index of
    stale hosts instead of walking every host in key order.
    """
    return Host.objects.filter(stale=True, stale_since__lt=cutoff).order_by()


def expire_stale_hosts(days: int | None = None, now=None) -> int:
    """Delete hosts stale for more than ``days`` days and send ``hosts_deleted``.

    ``days`` defaults to ``settings.INVENTORY_STALE_EXPIRY_DAYS``; 0 or None
    turns expiry off and nothing is deleted. Returns the number deleted.
    """
    if days is None:
        days = getattr(settings, "INVENTORY_STALE_EXPIRY_DAYS", 0)
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = delete_hosts(expired_hosts(cutoff))
    logger.info(
        "Expired %s stale for more than %s",
        plural(deleted, "host", "hosts"),
        plural(days, "day", "days"),
    )
    return deleted


def delete_hosts(queryset) -> int:
    """Delete the hosts of ``queryset`` and send ``hosts_deleted`` in one transaction.

    The rows are deleted with plain DELETE statements. A queryset's
    delete() would load every host and send post_delete for each, and the
    receivers of that signal update the coverage flags one host at a time
    (17 s for 12,468 hosts), where ``hosts_deleted`` updates them once.
    """
    table = connection.ops.quote_name(Host._meta.db_table)
    column = connection.ops.quote_name("key")
    with transaction.atomic():
        keys = list(queryset.values_list("key", flat=True))
        deleted = 0
        with connection.cursor() as cursor:
            for start in range(0, len(keys), DELETE_CHUNK):
                chunk = keys[start : start + DELETE_CHUNK]
                placeholders = ", ".join(["%s"] * len(chunk))
                cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({placeholders})", chunk)
                deleted += cursor.rowcount
        if keys:
            hosts_deleted.send(sender=Host, keys=keys)
    return deleted


# Hosts read and written per step when tags change on many hosts.
RETAG_CHUNK = 2000


def retag_hosts(queryset, add: list[str], remove: list[str]) -> int:
    """Add and remove tags on the hosts of ``queryset`` in one transaction; return hosts changed.

    Tags compare in any case, as imports and the search compare them: adding
    ``PCI`` to a host tagged ``pci`` changes nothing, and removing ``pci``
    removes ``PCI``. Rows are read by key, RETAG_CHUNK at a time, and only the
    hosts whose tags change are written.
    """
    removed = {tag.casefold() for tag in remove}
    changed = 0
    with transaction.atomic():
        last_key = ""
        while True:
            rows = list(
                queryset.filter(key__gt=last_key)
                .order_by("key")
                .values_list("pk", "key", "tags")[:RETAG_CHUNK]
            )
            if not rows:
                return changed
            updates = []
            for pk, _key, tags in rows:
                new_tags = [tag for tag in tags or [] if tag.casefold() not in removed]
                seen = {tag.casefold() for tag in new_tags}
                for tag in add:
                    if tag.casefold() not in seen:
                        seen.add(tag.casefold())
                        new_tags.append(tag)
                if new_tags != (tags or []):
                    updates.append(Host(pk=pk, tags=new_tags))
            Host.objects.bulk_update(updates, ["tags"], batch_size=500)
            changed += len(updates)
            last_key = rows[-1][1]
