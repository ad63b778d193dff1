"""``manage.py import_hosts``: import discovery files from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inventory.importers import FORMATS
from inventory.models import ImportRun
from inventory.services import import_files, name_problem
from lumeta_qualys.logs import QuietForCron


class Command(QuietForCron, BaseCommand):
    help = (
        "Import nmap XML, CSV or plain address lists into the inventory. Each file is one "
        "import in one transaction; the report is printed at the end. Files with the same "
        "source are one feed: hosts are marked stale after its last file. Exits with status 1 "
        "when a file failed or listed no host."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="Files to import.")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default=None,
            help="The file format; detected from the content when left out.",
        )
        parser.add_argument(
            "--source",
            default=None,
            help="Source name for stale marking; defaults to each file's name.",
        )
        parser.add_argument(
            "--address-column",
            default="",
            metavar="NAME",
            help=(
                "The CSV column that contains the addresses, for exports whose header names it "
                "otherwise; its cells may hold several addresses. Makes the format CSV."
            ),
        )
        parser.add_argument(
            "--name-column",
            default="",
            metavar="NAME",
            help=(
                "The CSV column that contains the host names, for exports whose header names "
                "it otherwise. Makes the format CSV."
            ),
        )
        parser.add_argument(
            "--user",
            default=None,
            metavar="USERNAME",
            help=(
                "The user the import is recorded as started by, as on imports from the page "
                "or the API; by default none."
            ),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what the import would do without writing anything.",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="Do not show the progress bar."
        )

    def handle(self, *args, **options) -> None:
        paths = [Path(path) for path in options["paths"]]
        for option in ("--address-column", "--name-column"):
            column = options[option[2:].replace("-", "_")].strip()
            if not column:
                continue
            problem = name_problem(option, column)
            if problem:
                raise CommandError(problem)
            if options["format"] not in (None, "csv"):
                raise CommandError(
                    f"{option} is read from CSV files only. Leave --format out or set it to csv."
                )
        if options["source"] is not None:
            if not options["source"].strip():
                # As on the endpoint: --source "$FEED" with FEED unset must not
                # fall back to the file names and split the feed.
                raise CommandError(
                    "--source is empty. Give the feed's name, or leave --source out to use "
                    "each file's name."
                )
            problem = name_problem("--source", options["source"].strip())
            if problem:
                raise CommandError(problem)
        user = self._user(options["user"])
        for path in paths:
            if path.is_dir():
                raise CommandError(
                    f"{path} is a folder. Name the files in it, for example {path}/*.xml."
                )
            if not path.is_file():
                raise CommandError(f"{path}: no such file. Check the path and try again.")

        imported = 0
        failed: list[str] = []
        empty: list[str] = []
        reports = import_files(
            paths,
            fmt=options["format"],
            source=options["source"],
            dry_run=options["dry_run"],
            user=user,
            progress_for=None if options["no_progress"] else self._progress_bar,
            via=ImportRun.Via.COMMAND,
            address_column=options["address_column"],
            name_column=options["name_column"],
        )
        try:
            for report in reports:
                self._close_bar()
                # -v 0, as in cron: only the reports of files that need a look.
                needs_look = not report.ok or report.imported == 0
                needs_look = needs_look or report.rejected_count > 0 or bool(report.warnings)
                if options["verbosity"] > 0 or needs_look:
                    for line in report.summary_lines():
                        self.stdout.write(line)
                if not report.ok:
                    failed.append(report.file_name)
                elif report.imported == 0:
                    empty.append(report.file_name)
                imported += report.imported if report.ok else 0
        finally:
            self._close_bar()

        problems = [
            _files_that(what, files, len(paths))
            for what, files in (("failed", failed), ("listed no host", empty))
            if files
        ]
        if problems and imported == 0 and len(paths) > 1:
            problems.append("Nothing was imported.")
        if problems:
            raise CommandError(" ".join(problems))

    @staticmethod
    def _user(username: str | None):
        """Return the active user named ``username``, or None without --user; else raise."""
        if username is None:
            return None
        username = username.strip()
        if not username:
            # As with --source: --user "$IMPORT_USER" with the variable unset
            # must not silently record the import as nobody's.
            raise CommandError(
                "--user is empty. Give the name of an active user of this product, or leave "
                "--user out."
            )
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username})
        found = user.filter(is_active=True).first()
        if found is None:
            inactive = " is not active" if user.exists() else ": no such user"
            raise CommandError(
                f"--user {username}{inactive}. Give the name of an active user of this "
                "product (the admin lists them under Users), or leave --user out."
            )
        return found

    bar: tqdm | None = None

    def _progress_bar(self, path: Path):
        """Open a progress bar for ``path`` and return the import's progress callback."""
        self._close_bar()
        bar = self.bar = tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            desc=path.name,
            file=sys.stderr,
            # The finished bar stays above the file's report, with its host
            # count. No bar when standard error is no terminal (a log file).
            leave=True,
            disable=None,
        )

        def progress(bytes_read: int, total_bytes: int | None, hosts: int) -> None:
            bar.update(bytes_read - bar.n)
            # As text: tqdm writes a number of five or more digits as 3e+4.
            bar.set_postfix(hosts=f"{hosts:,}", refresh=False)

        return progress

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _files_that(what: str, files: list[str], total: int) -> str:
    """Return "a.xml failed." for one file, or "2 of 3 files failed: a.xml, b.csv."."""
    if total == 1:
        return f"{files[0]} {what}."
    return f"{len(files)} of {total} files {what}: {', '.join(files)}."
