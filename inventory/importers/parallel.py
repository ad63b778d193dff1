"""Parse a large discovery file in a child process while this process writes to the database.

Parsing and writing each take about half of a large nmap import's CPU time,
and both hold the GIL for most of it, so threads barely overlap them. A child
Python process parses instead: this process sends it the file's bytes on
its standard input from a feeder thread, and reads back batches of parsed
records as pickled frames on its standard output. On a machine with two
free cores the import's wall time then approaches the larger of the two
halves instead of their sum.

The child runs ``python -m inventory.importers.parallel FORMAT FILE_NAME``.
It imports the parsers but never sets up Django or opens a database
connection. It sends these frames:

- ``("raw", (items, notes))`` from a parser with two stages (nmap XML):
  the items are the first stage's output (the hosts expat completed), which
  this process turns into records with the parser class's
  ``records_from_raw``, so that the two processes share the work;
- ``("records", (items, notes))`` from any other parser: the items are
  record fields;
- ``("error", message)`` when the file cannot be parsed (ImportFileError);
- ``("done", complete)`` after the last item, with the parse state's
  completeness.

Items come in file order. The notes are the child's warnings and rejected
rows, each with the number of items that came before it in its frame, so
this process adds them to its parse state in the same order as a parse in
one process would.

nmap XML and CSV files are parsed aside. A million-row CSV import on
SQLite took 11.5 s this way against 14.8 s in one process. Before both
processes ran without the cyclic garbage collector, the child made CSV
imports no faster (see docs/benchmarks.md). Plain lists stay in this
process: a line that expands to thousands of addresses costs less to
expand than to send. Small files are parsed in this process too: starting
a child costs about 0.2 s, more than the overlap saves below a few
megabytes.
"""

from __future__ import annotations

import fcntl
import gc
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import BinaryIO

from .base import HostRecord, ImportFileError, ParseState

# Files of these formats and at least this large are parsed in a child process.
PARALLEL_FORMATS = ("nmap", "csv")
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
# Items and notes per frame sent by the child.
FRAME_RECORDS = 2000
# Bytes per write to the child's standard input.
FEED_CHUNK = 1 << 20
# Pipe buffer size to request. Linux allows up to 1 MiB without privileges.
PIPE_BYTES = 1 << 20
# Frames read ahead of the writer: about 16,000 items.
FRAMES_AHEAD = 8
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def parse_records(
    fmt: str,
    stream: BinaryIO,
    state: ParseState,
    total_bytes: int | None,
    aside: bool = True,
) -> Generator[HostRecord, None, None]:
    """Yield the records of ``stream``, parsed in a child process when it is a large file.

    ``state`` receives the rejections, warnings and completeness either way.
    ``total_bytes`` is the file size, or None when it is unknown, in which
    case the file is parsed in this process. ``aside=False`` parses in this
    process whatever the size: the caller does so when the database server
    already works in parallel with it. Close the generator when stopping
    early, so that a parser process stops at once.
    """
    from . import parser_for

    # NOTE: the child is started with sys.executable, which is the Python
    # interpreter under gunicorn, manage.py and Celery. Servers that embed
    # Python (uWSGI, mod_wsgi) may set it to their own binary or leave it
    # empty. An empty one falls back to parsing in this process.
    if (
        not aside
        or fmt not in PARALLEL_FORMATS
        or total_bytes is None
        or total_bytes < PARALLEL_MIN_BYTES
        or not sys.executable
    ):
        return parser_for(fmt, stream, state).records()
    return _records_from_child(fmt, stream, state)


def child_command(
    fmt: str, file_name: str, address_column: str = "", name_column: str = ""
) -> list[str]:
    """Return the command line of the child process that parses one file."""
    return [
        sys.executable,
        "-m",
        "inventory.importers.parallel",
        fmt,
        file_name,
        address_column,
        name_column,
    ]


def _records_from_child(
    fmt: str, stream: BinaryIO, state: ParseState
) -> Generator[HostRecord, None, None]:
    from . import PARSERS

    records_from_raw = getattr(PARSERS[fmt], "records_from_raw", None)
    errors = tempfile.TemporaryFile()
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(PROJECT_ROOT), *filter(None, [environment.get("PYTHONPATH")])]
    )
    child = subprocess.Popen(
        child_command(fmt, state.file_name, state.address_column, state.name_column),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        cwd=PROJECT_ROOT,
        env=environment,
    )
    for pipe in (child.stdin, child.stdout):
        _enlarge(pipe)
    feeder = _Feeder(stream, child.stdin)
    feeder.start()
    frames = _FrameReader(child.stdout)
    frames.start()
    finished = False
    try:
        while True:
            frame = frames.queue.get()
            if frame is None:
                break
            kind, payload = frame
            if kind == "raw" or kind == "records":
                items, notes = payload
                yield from _frame_records(kind, items, notes, state, records_from_raw)
            elif kind == "error":
                raise ImportFileError(payload)
            elif kind == "done":
                state.complete = payload
                finished = True
                break
        feeder.join()
        if feeder.error is not None:
            raise feeder.error
        if frames.error is not None:
            raise frames.error
        if not finished:
            child.wait()
            errors.seek(0)
            detail = errors.read().decode("utf-8", "replace").strip().splitlines()[-1:]
            raise RuntimeError(
                f"The parser process for {state.file_name} ended without a result "
                f"(exit status {child.returncode}): {' '.join(detail) or 'no error output'}."
            )
    finally:
        if child.poll() is None and not finished:
            child.kill()
        child.wait()
        feeder.join()
        frames.stop()
        child.stdout.close()
        errors.close()


def _enlarge(pipe) -> None:
    """Give a pipe a 1 MiB buffer (Linux), so that neither process waits on the other's pace.

    With the default 64 KiB, the child could run only about 600 records
    ahead of the writer, and ran dry of input whenever the feeder thread
    waited for the GIL.
    """
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        try:
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            # Above /proc/sys/fs/pipe-max-size: keep the default size.
            pass


class _FrameReader(threading.Thread):
    """Thread that reads the child's frames into a bounded queue, then None at the end."""

    def __init__(self, pipe):
        super().__init__(name="import-parser-frames", daemon=True)
        self.pipe = pipe
        self.queue: queue.Queue = queue.Queue(maxsize=FRAMES_AHEAD)
        self.error: BaseException | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                try:
                    frame = pickle.load(self.pipe)
                except EOFError:
                    break
                self._put(frame)
        except Exception as error:  # noqa: BLE001 - re-raised in the importing thread
            self.error = error
        self._put(None)

    def _put(self, frame) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put(frame, timeout=0.1)
                return
            except queue.Full:
                continue

    def stop(self) -> None:
        """Stop reading, for a consumer that gave up early, and wait for the thread."""
        self.stopped.set()
        self.join()


class _Feeder(threading.Thread):
    """Thread that copies the file's bytes into the child's standard input, then closes it."""

    def __init__(self, stream: BinaryIO, pipe):
        super().__init__(name="import-parser-feeder", daemon=True)
        self.stream = stream
        self.pipe = pipe
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while chunk := self.stream.read(FEED_CHUNK):
                self.pipe.write(chunk)
        except BrokenPipeError:
            # The child stopped reading: it reported an error or was killed.
            pass
        except Exception as error:  # noqa: BLE001 - re-raised in the importing thread
            self.error = error
        finally:
            try:
                self.pipe.close()
            except BrokenPipeError:
                pass


def _frame_records(
    kind: str,
    items: list,
    notes: list[tuple[int, str, object]],
    state: ParseState,
    records_from_raw: Callable[[object, ParseState], list[HostRecord]] | None,
) -> Iterator[HostRecord]:
    """Yield the records of one frame, adding its notes to ``state`` at their places."""
    if not notes:
        yield from _item_records(kind, items, state, records_from_raw)
        return
    position = 0
    for place, note_kind, note in notes:
        yield from _item_records(kind, items[position:place], state, records_from_raw)
        position = place
        if note_kind == "warning":
            state.warn(note)
        else:
            state.reject(*note)
    yield from _item_records(kind, items[position:], state, records_from_raw)


def _item_records(kind, items, state, records_from_raw) -> Iterator[HostRecord]:
    if kind == "raw":
        for item in items:
            yield from records_from_raw(item, state)
    else:
        for fields in items:
            yield HostRecord(*fields)


class _FrameWriter:
    """Items and notes of the frame being filled in the child, sent when full."""

    def __init__(self, channel, kind: str):
        self.channel = channel
        self.kind = kind
        self.items: list = []
        self.notes: list[tuple[int, str, object]] = []

    def append(self, item: object) -> None:
        self.items.append(item)
        self._flush_when_full()

    def extend(self, items: list) -> None:
        self.items.extend(items)
        self._flush_when_full()

    def note(self, kind: str, note: object) -> None:
        self.notes.append((len(self.items), kind, note))
        self._flush_when_full()

    def _flush_when_full(self) -> None:
        if len(self.items) + len(self.notes) >= FRAME_RECORDS:
            self.flush()

    def flush(self) -> None:
        if self.items or self.notes:
            _send(self.channel, (self.kind, (self.items, self.notes)))
            self.items = []
            self.notes = []


class _ForwardingState(ParseState):
    """The child's parse state: warnings and rejected rows go into the frames."""

    def __init__(self, file_name: str, frames: _FrameWriter):
        super().__init__(file_name)
        self.frames = frames

    def warn(self, message: str) -> None:
        self.frames.note("warning", message)

    def reject(self, line: int, value: str, reason: str) -> None:
        self.frames.note("rejection", (line, value, reason))


def _send(channel, frame: tuple) -> None:
    pickle.dump(frame, channel, protocol=pickle.HIGHEST_PROTOCOL)
    channel.flush()


def main() -> None:
    """Parse standard input as format ``argv[1]`` and send frames on standard output."""
    from . import PARSERS, parser_for

    fmt, file_name = sys.argv[1], sys.argv[2]
    address_column = sys.argv[3] if len(sys.argv) > 3 else ""
    name_column = sys.argv[4] if len(sys.argv) > 4 else ""
    # The items form no reference cycles, and this process ends with the
    # parse: without the cyclic collector, the parse and its frames took
    # 12.8 s of CPU time per million nmap hosts instead of 14.0 s.
    gc.disable()
    # The frames get the original standard output to themselves; anything
    # else printed in this process goes to standard error.
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    two_stages = hasattr(PARSERS.get(fmt), "raw_batches")
    frames = _FrameWriter(channel, "raw" if two_stages else "records")
    state = _ForwardingState(file_name, frames)
    state.address_column = address_column
    state.name_column = name_column
    try:
        parser = parser_for(fmt, sys.stdin.buffer, state)
        if two_stages:
            for items in parser.raw_batches():
                frames.extend(items)
        else:
            for record in parser.records():
                frames.append(_record_fields(record))
    except ImportFileError as error:
        frames.flush()
        _send(channel, ("error", str(error)))
        return
    frames.flush()
    _send(channel, ("done", state.complete))


def _record_fields(record: HostRecord) -> tuple:
    return (
        record.version,
        record.value,
        record.address,
        record.line,
        record.hostnames,
        record.mac,
        record.mac_vendor,
        record.os_name,
        record.tags,
    )


if __name__ == "__main__":
    main()
