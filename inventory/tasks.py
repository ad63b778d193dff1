"""Celery tasks of the inventory: thin wrappers around the services."""

from celery import shared_task

from . import services


@shared_task(name="inventory.tasks.expire_stale_hosts")
def expire_stale_hosts() -> str:
    """Delete hosts stale for longer than INVENTORY_STALE_EXPIRY_DAYS (off when 0)."""
    deleted = services.expire_stale_hosts()
    return f"{deleted} stale hosts expired"
