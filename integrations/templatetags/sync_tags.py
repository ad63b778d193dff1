"""Template filters for sync runs: exact counts and durations."""

from datetime import timedelta

from django import template

from ..models import SyncRun
from ..views_sync import exact_count

register = template.Library()


@register.filter
def run_count(run: SyncRun, name: str) -> str:
    """Format a run's count ``name`` exactly, with thousands separators, or "–" when unknown."""
    value = exact_count(run, name)
    return "–" if value is None else f"{int(value):,}"


@register.filter
def exact(value) -> str:
    """Format a whole number, or its text as run details store it, with thousands separators."""
    if value in (None, ""):
        return "–"
    return f"{int(value):,}"


@register.filter
def duration(value: timedelta | None) -> str:
    """Format a duration as "1 h 02 min", "3 min 04 s" or "5.2 s"."""
    if value is None:
        return "–"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
