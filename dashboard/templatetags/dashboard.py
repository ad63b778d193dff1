"""Formatting filters of the dashboard pages."""

from datetime import UTC, datetime

from django import template

from dashboard import svg

register = template.Library()


@register.filter
def number(value) -> str:
    """Format an exact count with thousands separators (``1,234,567``)."""
    if value is None or value == "":
        return "—"
    return f"{int(value):,}"


@register.filter
def percent(value) -> str:
    """Format a share from 0 to 1 as a percentage with one decimal.

    A share that is not 0 or 1 never reads as either: 203 of 1,250,000 is
    "< 0.1%", not "0.0%".
    """
    if value is None:
        return "—"
    return svg.share(value)


@register.filter
def utc(value: datetime | None) -> str:
    """Format a time in UTC, to the minute."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@register.filter
def iso(value: datetime | None) -> str:
    """Return a time as ISO 8601 in UTC, for ``<time datetime>``."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
