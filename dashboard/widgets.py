"""The dashboard's widgets: small classes that each render one partial template.

Widgets take the counts and the sync state computed once per page and shape
them for their template. None of them runs a query of its own on the sets.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.safestring import SafeString

from integrations.models import QualysSettings, SyncRun

from . import svg
from .lists import COVERAGE_SETS, CoverageSet
from .querysets import Coverage
from .status import NextRun


@dataclass
class CountWidget:
    """A card with one set's count and a link to its list."""

    coverage_set: CoverageSet
    count: int
    colour: str
    # For I − S: how many of its addresses are IPv6, which no sync adds to Qualys.
    ipv6: int = 0

    @property
    def ipv4(self) -> int:
        return self.count - self.ipv6

    @property
    def template_name(self) -> str:
        return f"dashboard/widgets/{self.coverage_set.slug.replace('-', '_')}.html"

    @property
    def list_url(self) -> str:
        return reverse("dashboard:list", args=[self.coverage_set.slug])


def count_widgets(coverage: Coverage, unmanaged_ipv6: int = 0) -> list[CountWidget]:
    """Return the three count cards; ``unmanaged_ipv6`` is the IPv6 part of I − S."""
    return [
        CountWidget(
            COVERAGE_SETS["unmanaged-by-qualys"],
            coverage.unmanaged_by_qualys,
            "red",
            ipv6=unmanaged_ipv6,
        ),
        CountWidget(COVERAGE_SETS["unmanaged-by-lumeta"], coverage.unmanaged_by_lumeta, "yellow"),
        CountWidget(COVERAGE_SETS["managed-by-both"], coverage.managed_by_both, "blue"),
    ]


@dataclass
class VennWidget:
    """The I, S, M diagram with a legend and a table of the same counts."""

    coverage: Coverage
    template_name: str = "dashboard/widgets/venn.html"

    @property
    def svg(self) -> SafeString:
        return svg.venn(self.coverage.regions())

    @property
    def regions(self) -> list[tuple[str, str, int]]:
        counts = self.coverage.regions()
        return [(label, svg.REGION_NAMES[key], counts[key]) for key, label, _ in svg.VENN_REGIONS]


def _count(value) -> int | None:
    return None if value is None else int(value)


@dataclass
class TrendWidget:
    """Lines of the three counts and of coverage across the successful syncs."""

    runs: list[SyncRun]
    template_name: str = "dashboard/widgets/trend.html"

    @property
    def rows(self) -> list[dict]:
        rows = []
        for run in self.runs:
            indexed = _count(run.indexed)
            both = _count(run.managed_by_both)
            rows.append(
                {
                    "run": run,
                    "when": run.finished_at or run.created_at,
                    "unmanaged_by_qualys": _count(run.unmanaged_by_qualys),
                    "unmanaged_by_lumeta": _count(run.unmanaged_by_lumeta),
                    "managed_by_both": both,
                    "coverage": (both / indexed if indexed else None)
                    if both is not None and indexed is not None
                    else None,
                }
            )
        return rows

    @property
    def svg(self) -> SafeString:
        rows = self.rows
        labels = [f"{row['when']:%Y-%m-%d}" for row in rows]
        if len(set(labels)) < len(labels):
            # Several syncs on one day: the axis names each run's time as well.
            labels = [f"{row['when']:%Y-%m-%d %H:%M}" for row in rows]
        counts = [
            svg.Series(
                "Unmanaged by Qualys", svg.RED, "none", [r["unmanaged_by_qualys"] for r in rows]
            ),
            svg.Series(
                "Unmanaged by Lumeta",
                svg.DARK_YELLOW,
                "6 3",
                [r["unmanaged_by_lumeta"] for r in rows],
            ),
            svg.Series("Managed by both", svg.BLUE, "2 3", [r["managed_by_both"] for r in rows]),
        ]
        coverage = svg.Series(
            "Coverage (right axis)", "#1b7a36", "10 4 2 4", [r["coverage"] for r in rows]
        )
        # Points are placed by time, so that a gap between syncs shows as one.
        positions = None
        if len(rows) > 1:
            # The earliest and latest time, whatever the runs' order.
            first = min(row["when"] for row in rows)
            last = max(row["when"] for row in rows)
            span = (last - first).total_seconds()
            if span > 0:
                positions = [(row["when"] - first).total_seconds() / span for row in rows]
        return svg.trend(labels, counts, coverage, positions)


@dataclass
class SyncStatusWidget:
    """The last sync's time and result, the next run, and the Sync now button."""

    settings: QualysSettings | None
    last_sync: SyncRun | None
    last_success: SyncRun | None
    running: SyncRun | None
    # The run whose stored Qualys data the counts use (see status.last_stored_sync).
    data_from: SyncRun | None
    next_run: NextRun
    can_sync: bool
    template_name: str = "dashboard/widgets/sync_status.html"

    @property
    def configured(self) -> bool:
        return bool(self.settings is not None and self.settings.is_configured)

    @property
    def enabled(self) -> bool:
        return bool(self.configured and self.settings.enabled)

    @property
    def held_back_add(self) -> int | None:
        """Return the addresses that the last sync held back and today's limit still holds back.

        None when the last sync held nothing back, or the limit was raised or
        removed since, so that the dashboard does not ask for a change made.
        """
        if self.last_sync is None or self.settings is None:
            return None
        add = (self.last_sync.details or {}).get("add") or {}
        limit = self.settings.max_add_per_sync
        if not add.get("held_back") or not limit:
            return None
        addresses = int(add.get("addresses") or 0)
        return addresses if addresses > limit else None

    @property
    def failed(self) -> bool:
        return self.last_sync is not None and self.last_sync.status == SyncRun.Status.FAILED
