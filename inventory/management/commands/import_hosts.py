"""``manage.py import_hosts``: import discovery files from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inventory.importers import FORMATS
from inventory.services import import_file


class Command(BaseCommand):
    help = (
        "Import nmap XML, CSV or plain address lists into the inventory. Each file is one "
        "import in one transaction; the report is printed at the end. Exits with status 1 "
        "when nothing could be imported."
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
            "--dry-run",
            action="store_true",
            help="Report what the import would do without writing anything.",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="Do not show the progress bar."
        )

    def handle(self, *args, **options) -> None:
        paths = [Path(path) for path in options["paths"]]
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file. Check the path and try again.")

        imported = 0
        failed = 0
        for path in paths:
            report = self._import(path, options)
            for line in report.summary_lines():
                self.stdout.write(line)
            if report.ok:
                imported += report.imported
            else:
                failed += 1

        if imported == 0:
            raise CommandError(
                "Nothing was imported." + (f" {failed} file(s) failed." if failed else "")
            )

    def _import(self, path: Path, options: dict):
        total = path.stat().st_size
        show = not options["no_progress"]
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc=path.name,
            file=sys.stderr,
            disable=not show,
            leave=False,
        ) as bar:

            def progress(bytes_read: int, total_bytes: int | None, hosts: int) -> None:
                bar.update(bytes_read - bar.n)
                bar.set_postfix(hosts=hosts, refresh=False)

            return import_file(
                path,
                fmt=options["format"],
                source=options["source"],
                dry_run=options["dry_run"],
                progress=progress,
            )
