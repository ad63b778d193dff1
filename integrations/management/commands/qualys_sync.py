"""Run the Qualys sync in this process, with a progress bar; no Celery worker needed."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from integrations.models import SyncRun
from integrations.services import runs
from integrations.services.sync import summarize
from lumeta_qualys.logs import QuietForCron

EXIT_SUCCEEDED = 0
EXIT_FAILED = 2
EXIT_SKIPPED = 3

STEP_LABELS = {
    "connect": "Connecting",
    "fetch_subscription": "Reading the subscription",
    "fetch_scanned_hosts": "Reading scanned hosts",
    "load_inventory": "Loading the inventory",
    "compute": "Computing",
    "read_asset_group": "Reading the asset group",
    "store": "Storing",
    "add_to_subscription": "Adding to the subscription",
    "reread_subscription": "Reading the subscription again",
    "update_asset_group": "Updating the asset group",
    "record": "Recording",
}


class Command(QuietForCron, BaseCommand):
    help = (
        "Fetch the Qualys subscription and scanned hosts, store them and push the gap, as the "
        "scheduled sync does, in this process. Needs Redis (REDIS_URL) for the sync lock. "
        f"Exit status: {EXIT_SUCCEEDED} when the sync succeeded, {EXIT_FAILED} when it failed, "
        f"{EXIT_SKIPPED} when it was skipped because another sync was running."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Preview: fetch and compute, print what would be added and what the asset group "
            "would hold; write nothing to Qualys and keep the stored tables.",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="Print no progress bar on standard error."
        )
        parser.add_argument(
            "--show-ranges",
            action="store_true",
            help="Print every range that was (or would be) added and the asset group's ranges.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        run = runs.create_run(SyncRun.Trigger.COMMAND, dry_run=options["dry_run"])
        bar = None if options["no_progress"] else ProgressBar()
        try:
            run = runs.execute_run(run, listener=bar.update if bar else None)
        finally:
            if bar is not None:
                bar.close()

        # -v 0, as in cron: a sync that succeeded writes nothing.
        if options["verbosity"] > 0 or run.status != SyncRun.Status.SUCCEEDED:
            self.stdout.write(summarize(run))
            for warning in run.details.get("warnings", []):
                self.stdout.write(f"warning: {warning}")
        if options["dry_run"] or options["show_ranges"]:
            self._print_ranges(run, show_all=options["show_ranges"])

        code = {
            SyncRun.Status.SUCCEEDED: EXIT_SUCCEEDED,
            SyncRun.Status.SKIPPED: EXIT_SKIPPED,
        }.get(run.status, EXIT_FAILED)
        if code:
            sys.exit(code)

    def _print_ranges(self, run: SyncRun, *, show_all: bool) -> None:
        if run.held_back:
            # Nothing was, or would be, written: the ranges are the add that the
            # limit holds back, and the group stays as it is.
            held_back = int((run.details.get("add") or {}).get("addresses", 0))
            verb = "would leave" if run.dry_run else "left"
            self.stdout.write(
                f"Held back by the Auto-Subscribe limit: {held_back:,} "
                f"address{'' if held_back == 1 else 'es'}; the sync {verb} the asset group as it "
                "is."
            )
            self._print_tokens(run, "add", run.add_ranges, show_all)
            return
        verb = "would add" if run.dry_run else "added"
        for label, key, text in (
            (f"Ranges the sync {verb}", "add", run.add_ranges),
            (
                "Asset group ranges" + (" (preview)" if run.dry_run else ""),
                "group",
                run.group_ranges,
            ),
        ):
            if key not in run.details:
                # A run that failed or was skipped before the compute step.
                self.stdout.write(f"{label}: not computed, because the run ended before then.")
                continue
            described = run.details[key]
            # Sizes are stored as text, exact for IPv6.
            addresses = int(described.get("addresses", 0))
            ranges = int(described.get("ranges", 0))
            self.stdout.write(
                f"{label}: {addresses:,} address{'' if addresses == 1 else 'es'} in "
                f"{ranges:,} range{'' if ranges == 1 else 's'}"
            )
            self._print_tokens(run, key, text, show_all)

    def _print_tokens(self, run: SyncRun, key: str, text: str, show_all: bool) -> None:
        """Print every range of ``text``, or the stored sample of ``key`` and how many are left."""
        described = run.details.get(key) or {}
        ranges = int(described.get("ranges", 0))
        tokens = text.splitlines() if show_all else described.get("sample", [])
        for token in tokens:
            self.stdout.write(f"  {token}")
        if not show_all and ranges > len(tokens):
            self.stdout.write(f"  … {ranges - len(tokens):,} more (use --show-ranges)")


class ProgressBar:
    """A tqdm bar on standard error that follows the sync's steps and host count."""

    def __init__(self) -> None:
        # disable=None: no bar when standard error is no terminal (a log file or a
        # pipe), where each redraw would be one more line.
        # The format names no rate: hosts are read in one step of several, so a
        # rate over the whole run would understate the reading.
        self.bar = tqdm(
            total=None,
            # tqdm ends the description with ": " itself.
            bar_format="{desc}{n:,} scanned hosts read [{elapsed}]",
            file=sys.stderr,
            dynamic_ncols=True,
            leave=True,
            disable=None,
        )

    def update(self, step: str, progress: dict[str, Any]) -> None:
        self.bar.set_description(STEP_LABELS.get(step, step))
        hosts = progress.get("hosts_read")
        if hosts is not None and hosts > self.bar.n:
            self.bar.update(hosts - self.bar.n)
        else:
            self.bar.refresh()

    def close(self) -> None:
        # tqdm redraws at most every 0.1 s: draw the last count before the bar stays.
        self.bar.refresh()
        self.bar.close()
