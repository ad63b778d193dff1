"""``manage.py expire_hosts``: delete hosts that have been stale for too long."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from inventory.importers.base import plural
from inventory.services import expire_stale_hosts, expired_hosts
from lumeta_qualys.logs import QuietForCron


class Command(QuietForCron, BaseCommand):
    help = (
        "Delete hosts stale for more than N days (default: INVENTORY_STALE_EXPIRY_DAYS; "
        "0 turns expiry off)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Days a host may stay stale, a whole number of 1 or more; overrides "
            "INVENTORY_STALE_EXPIRY_DAYS.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count and list the hosts that would be deleted, without deleting them.",
        )

    def handle(self, *args, **options) -> None:
        days = options["days"]
        if days is not None and days < 1:
            raise CommandError(
                f"--days {days} is invalid: give a whole number of days, 1 or more. To keep "
                "stale hosts, leave expiry off (INVENTORY_STALE_EXPIRY_DAYS=0, the default)."
            )
        if days is None:
            days = settings.INVENTORY_STALE_EXPIRY_DAYS
            if not days:
                if options["verbosity"] == 0:
                    # Expiry off is the default: cron gets no mail for it.
                    return
                self.stdout.write(
                    "Expiry is off (INVENTORY_STALE_EXPIRY_DAYS is 0); nothing deleted. "
                    "Give --days N to delete hosts stale for more than N days."
                )
                return
        if options["dry_run"]:
            self._preview(days)
            return
        deleted = expire_stale_hosts(days)
        if options["verbosity"] > 0:
            self.stdout.write(
                f"Deleted {plural(deleted, 'host', 'hosts')} stale for more than "
                f"{plural(days, 'day', 'days')}."
            )

    def _preview(self, days: int) -> None:
        hosts = expired_hosts(timezone.now() - timedelta(days=days)).order_by("key")
        count = hosts.count()
        self.stdout.write(
            f"Would delete {plural(count, 'host', 'hosts')} stale for more than "
            f"{plural(days, 'day', 'days')} (dry run: nothing deleted)."
        )
        for host in hosts.only("address", "source", "stale_since")[:SAMPLE_SIZE]:
            self.stdout.write(
                f"  {host.address} (source {host.source!r}, stale since "
                f"{host.stale_since:%Y-%m-%d %H:%M})"
            )
        if count > SAMPLE_SIZE:
            self.stdout.write(f"  and {count - SAMPLE_SIZE:,} more")


# Hosts a dry run lists before "and N more".
SAMPLE_SIZE = 20
