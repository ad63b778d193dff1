#!/usr/bin/env python
"""Django's command-line entry point for this project."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lumeta_qualys.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # The settings' messages name the variable and the fix; a traceback
        # above them would only hide them.
        sys.exit(f"Configuration error: {error}")
    except OperationalError as error:
        # A database that is down, unreachable or not migrated; the driver's
        # text names which.
        reason = " ".join(str(error).split())
        end = " " if reason.endswith((".", "?")) else ". "
        sys.exit(
            f"Database error: {reason}{end}Check DATABASE_URL, that the database server runs, "
            "and that 'python manage.py migrate' has run."
        )
    except BrokenPipeError:
        # The output's reader (such as head) stopped reading. Python would
        # report the failed flush at exit, so standard output goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
