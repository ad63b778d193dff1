"""Logging filters of the project's LOGGING setting."""

import logging


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
