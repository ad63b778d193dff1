"""``manage.py expire_hosts``: delete hosts that have been stale for too long."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from inventory.services import expire_stale_hosts


class Command(BaseCommand):
    help = (
        "Delete hosts stale for more than N days (default: INVENTORY_STALE_EXPIRY_DAYS; "
        "0 turns expiry off)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Days a host may stay stale; overrides INVENTORY_STALE_EXPIRY_DAYS.",
        )

    def handle(self, *args, **options) -> None:
        days = options["days"]
        if days is None:
            days = settings.INVENTORY_STALE_EXPIRY_DAYS
        if not days:
            self.stdout.write("Expiry is off (INVENTORY_STALE_EXPIRY_DAYS is 0); nothing deleted.")
            return
        deleted = expire_stale_hosts(days)
        self.stdout.write(f"Deleted {deleted} hosts stale for more than {days} days.")
