"""Imports started from the upload page run in a background thread.

The import keeps its database transaction open from start to end, so its
progress cannot go through that transaction. Progress goes to an
in-process registry, and every half second to a place that the other web
processes (gunicorn runs several) can read: on PostgreSQL
``ImportRun.progress``, written through a second database connection; on
SQLite, which lets one connection write at a time, a small JSON file in
``DATA_DIR/import-progress/``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, connections

from .models import ImportRun
from .services import import_file, progress_file

logger = logging.getLogger(__name__)

# Seconds between progress writes to the database or the progress file.
PROGRESS_WRITE_INTERVAL = 0.5

_registry: dict[int, dict] = {}
_registry_lock = threading.Lock()


def upload_directory() -> Path:
    """Return the folder of uploaded files waiting for, or kept after, an import."""
    directory = Path(settings.DATA_DIR) / "uploads"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def kept_preview_path(run_id: int) -> Path:
    """Return where the file of a preview is kept for an import of the same file."""
    return upload_directory() / f"preview-{int(run_id)}"


def has_kept_preview(run_id: int) -> bool:
    return kept_preview_path(run_id).is_file()


def take_kept_preview(run_id: int) -> str | None:
    """Move the kept file of a preview to a new upload path and return it.

    Returns None when no file is kept, because it expired or was taken. The
    move is one rename, so two requests cannot both take the same file.
    """
    handle, target = tempfile.mkstemp(prefix="import-", dir=upload_directory())
    os.close(handle)
    try:
        os.replace(kept_preview_path(run_id), target)
    except FileNotFoundError:
        Path(target).unlink(missing_ok=True)
        return None
    return target


def prune_kept_previews(now: float | None = None) -> int:
    """Delete the kept preview files older than IMPORT_PREVIEW_KEEP_HOURS; return how many."""
    oldest = (now or time.time()) - settings.IMPORT_PREVIEW_KEEP_HOURS * 3600
    removed = 0
    for path in upload_directory().glob("preview-*"):
        try:
            if path.stat().st_mtime < oldest:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            # Taken or removed by another process since the listing.
            continue
    if removed:
        logger.info(
            "Removed %d kept preview files older than %s hours",
            removed,
            settings.IMPORT_PREVIEW_KEEP_HOURS,
        )
    return removed


def current_progress(run_id: int, stored: dict | None = None) -> dict | None:
    """Return the progress of a running import, or None before any was reported.

    The process running the import reads its registry, the others the
    shared copy: ``stored``, the run's ``progress`` column as just read
    (PostgreSQL), or the progress file (SQLite). The shared copy is
    written at most every ``PROGRESS_WRITE_INTERVAL`` seconds, so another
    process may return progress that much older.
    """
    with _registry_lock:
        progress = _registry.get(run_id)
        if progress is not None:
            return dict(progress)
    if stored and "bytes_read" in stored:
        return stored
    try:
        return json.loads(progress_file(run_id).read_text())
    except (OSError, ValueError):
        return None


def _write_progress_file(run_id: int, progress: dict) -> None:
    path = progress_file(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(progress))
    # A reader sees the old file or the new one, never half of one.
    os.replace(temporary, path)


def _set_progress(run_id: int, progress: dict) -> None:
    with _registry_lock:
        _registry[run_id] = progress


class _ProgressWriter:
    """Sends progress to the registry and, throttled, to the database."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.last_write = 0.0
        self.side_connection = None
        if connection.vendor != "sqlite":
            self.side_connection = connections.create_connection("default")

    def __call__(self, bytes_read: int, total_bytes: int | None, hosts: int) -> None:
        progress = {"bytes_read": bytes_read, "total_bytes": total_bytes, "hosts": hosts}
        _set_progress(self.run_id, progress)
        now = time.monotonic()
        if now - self.last_write < PROGRESS_WRITE_INTERVAL:
            return
        self.last_write = now
        try:
            if self.side_connection is None:
                _write_progress_file(self.run_id, progress)
                return
            table = ImportRun._meta.db_table
            with self.side_connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET progress = %s WHERE id = %s AND status = %s",
                    [json.dumps(progress), self.run_id, ImportRun.Status.RUNNING],
                )
        except Exception:
            logger.warning("Import %s: progress could not be stored", self.run_id, exc_info=True)

    def close(self) -> None:
        if self.side_connection is not None:
            self.side_connection.close()
        else:
            progress_file(self.run_id).unlink(missing_ok=True)


def run_import(
    run_id: int, path: str, fmt: str | None, source: str | None, dry_run: bool, file_name: str
) -> None:
    """Run one import of an uploaded file, then delete the file.

    The file of a preview that found hosts is kept instead, so that the user
    can import it from the report without sending it again. A preview reads
    the file from its kept path, so the file is there as soon as the report
    is: the run page shows its button from then on.
    """
    writer = _ProgressWriter(run_id)
    keep = False
    if dry_run and settings.IMPORT_PREVIEW_KEEP_HOURS > 0:
        kept_path = kept_preview_path(run_id)
        os.replace(path, kept_path)
        path = str(kept_path)
    try:
        run = ImportRun.objects.get(pk=run_id)
        import_file(
            path,
            fmt=fmt,
            source=source,
            dry_run=dry_run,
            run=run,
            file_name=file_name,
            progress=writer,
            address_column=run.address_column,
            name_column=run.name_column,
        )
        if dry_run and settings.IMPORT_PREVIEW_KEEP_HOURS > 0:
            run.refresh_from_db()
            keep = run.status == ImportRun.Status.PREVIEW and run.imported > 0
    except Exception:
        logger.exception("Import %s of %s failed", run_id, file_name)
        ImportRun.objects.filter(pk=run_id, status=ImportRun.Status.RUNNING).update(
            status=ImportRun.Status.FAILED,
            error="The import failed unexpectedly and nothing was written. See the server log.",
        )
    finally:
        writer.close()
        if keep:
            # The time kept counts from the end of the preview. The user may
            # have taken the file already.
            with contextlib.suppress(FileNotFoundError):
                os.utime(path)
        else:
            Path(path).unlink(missing_ok=True)
        with _registry_lock:
            _registry.pop(run_id, None)


def _run_in_thread(*args) -> None:
    try:
        run_import(*args)
    finally:
        # The thread's own connection; the request thread keeps its own.
        connection.close()


def start_import(
    run_id: int, path: str, fmt: str | None, source: str | None, dry_run: bool, file_name: str
) -> threading.Thread:
    """Start :func:`run_import` in a daemon thread and return the thread."""
    _set_progress(run_id, {"bytes_read": 0, "total_bytes": os.path.getsize(path), "hosts": 0})
    thread = threading.Thread(
        target=_run_in_thread,
        args=(run_id, path, fmt, source, dry_run, file_name),
        name=f"import-{run_id}",
        daemon=True,
    )
    thread.start()
    return thread
