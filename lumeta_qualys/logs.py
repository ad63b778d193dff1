"""Logging filters of the project's LOGGING setting."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class ForbiddenWithoutTraceback(logging.Filter):
    """Log a refused request (HTTP 403) as one line, without the exception's traceback.

    Django logs each 403 with the traceback of the permission check, 15
    lines that only show where the check ran. The line keeps the path.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True


@contextmanager
def quiet_for_cron(verbosity: int) -> Iterator[None]:
    """Log only errors while a command runs with ``-v 0``.

    cron mails every line a job writes. The commands log INFO lines when an
    import or a sync starts and ends. A sync also logs its data warnings
    (scanned hosts outside the subscription, for example) on every run, and
    the run and the command's report keep them. The root logger's level is
    restored afterwards, for a command called from other code.
    """
    root = logging.getLogger()
    level = root.level
    if verbosity == 0:
        root.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        root.setLevel(level)


class QuietForCron:
    """A management command mixin: ``-v 0`` logs only errors."""

    def execute(self, *args, **options):
        with quiet_for_cron(options.get("verbosity", 1)):
            return super().execute(*args, **options)
