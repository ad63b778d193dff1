"""The dashboard's widgets: small classes that each render one partial template.

Widgets take the counts and the sync state computed once per page and shape
them for their template. None of them runs a query of its own on the sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.safestring import SafeString

from integrations.models import QualysSettings, SyncRun

from . import svg
from .lists import COVERAGE_SETS, CoverageSet
from .querysets import Coverage
from .status import NextRun


@dataclass
class CountWidget:
    """A card with one set's count and a link to its list, and for I − S what a sync adds."""

    coverage_set: CoverageSet
    count: int
    colour: str
    # For I − S: sentences on what the next sync adds of it (see add_hints).
    hints: list[str] = field(default_factory=list)

    @property
    def template_name(self) -> str:
        return f"dashboard/widgets/{self.coverage_set.slug.replace('-', '_')}.html"

    @property
    def list_url(self) -> str:
        return reverse("dashboard:list", args=[self.coverage_set.slug])


@dataclass
class UnmanagedParts:
    """The parts of I − S that decide what a sync adds of it."""

    count: int
    ipv6: int = 0
    # Stale IPv4 hosts, counted only when Add stale hosts is off.
    stale_ipv4: int = 0


def _number(value: int) -> str:
    return f"{value:,}"


def _ipv6_sentence(ipv6: int) -> str:
    if ipv6 == 1:
        need = "The IPv6 address needs a mapping record"
    else:
        need = f"The {_number(ipv6)} IPv6 addresses need mapping records"
    return f"{need} in Qualys, which this product does not create"


def add_hints(
    parts: UnmanagedParts, settings: QualysSettings | None, held_back: int | None
) -> list[str]:
    """Return what the next sync adds of I − S to the subscription, one paragraph each.

    ``held_back`` is the add that the last sync held back and the limit
    still holds back (``SyncStatusWidget.held_back_add``).
    """
    if not parts.count:
        return []
    ipv4 = parts.count - parts.ipv6
    if settings is not None and settings.is_configured and not settings.enabled:
        return ["The Qualys integration is off, so no sync runs and nothing is added to the "
                "subscription."]  # fmt: skip
    if settings is None or not settings.auto_subscribe:
        text = "Auto-Subscribe is off: the sync adds nothing to the subscription."
        if ipv4:
            text += " Turn it on in the Qualys settings to add the IPv4 addresses among these."
        if parts.ipv6:
            text += f" {_ipv6_sentence(parts.ipv6)}."
        return [text]

    left_out = 0 if settings.add_stale_hosts else min(parts.stale_ipv4, ipv4)
    adds = ipv4 - left_out
    limit = settings.max_add_per_sync
    if adds and limit and adds > limit:
        text = (
            f"Auto-Subscribe is on, but the next sync adds none of these: the {_number(adds)} "
            f"IPv4 addresses it would add are more than the limit of {_number(limit)} per sync, "
            "so it fails and writes nothing to Qualys. Check this list, then raise the limit in "
            "the Qualys settings."
        )
    elif adds:
        added = "IPv4 address" if adds == 1 else f"{_number(adds)} IPv4 addresses"
        text = (
            f"Auto-Subscribe is on: the next sync adds the {added} among these to the Qualys "
            "subscription."
        )
    elif ipv4:
        text = "Auto-Subscribe is on, but the next sync adds none of these."
    else:
        text = (
            "Auto-Subscribe is on, but none of these is an IPv4 address, so the next sync adds "
            "none of them."
        )
    if left_out:
        hosts = "stale host is" if left_out == 1 else f"{_number(left_out)} stale hosts are"
        text += f" The {hosts} left out, because Add stale hosts is off."
    if parts.ipv6:
        stays = "it stays" if parts.ipv6 == 1 else "they stay"
        reports = "it" if parts.ipv6 == 1 else "them"
        text += f" {_ipv6_sentence(parts.ipv6)}, so {stays} here and each sync reports {reports}."
    hints = [text]
    if held_back and not (limit and adds > limit):
        # The last add was over today's limit, and the next one is within it.
        hints.append(
            f"The last sync added none of them: its {_number(held_back)} addresses to add were "
            "more than the limit. The add of the next sync is within it."
        )
    return hints


def count_widgets(coverage: Coverage, hints: list[str] | None = None) -> list[CountWidget]:
    """Return the three count cards; ``hints`` go on the I − S card (see add_hints)."""
    return [
        CountWidget(
            COVERAGE_SETS["unmanaged-by-qualys"],
            coverage.unmanaged_by_qualys,
            "red",
            hints=hints or [],
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

    def _series(self, rows: list[dict]) -> tuple[list[svg.Series], svg.Series]:
        """Return the three count lines and the coverage line of ``rows``."""
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
        return counts, coverage

    @property
    def legend(self) -> list[tuple[str, SafeString]]:
        """Return each line's label and a small picture of its stroke and marker.

        The legend is HTML beside the chart, so that it wraps on a narrow
        screen and stays in view while the chart scrolls sideways.
        """
        counts, coverage = self._series([])
        return [(series.label, svg.legend_swatch(series, index)) for index, series in
                enumerate([*counts, coverage])]  # fmt: skip

    @property
    def svg(self) -> SafeString:
        rows = self.rows
        labels = [f"{row['when']:%Y-%m-%d}" for row in rows]
        if len(set(labels)) < len(labels):
            # Several syncs on one day: the axis names each run's time as well.
            labels = [f"{row['when']:%Y-%m-%d %H:%M}" for row in rows]
        counts, coverage = self._series(rows)
        # Points are placed by time, so that a gap between syncs shows as one.
        positions = None
        if len(rows) > 1:
            # The earliest and latest time, whatever the runs' order.
            first = min(row["when"] for row in rows)
            last = max(row["when"] for row in rows)
            span = (last - first).total_seconds()
            if span > 0:
                positions = [(row["when"] - first).total_seconds() / span for row in rows]
        return svg.trend(labels, counts, coverage, positions, legend=False)


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

    @property
    def settings_changed_since(self) -> bool:
        """Return whether the Qualys settings were saved after the last sync started.

        A failure that names the credentials may then be fixed already.
        """
        if self.last_sync is None or self.settings is None or self.settings.pk is None:
            return False
        started = self.last_sync.started_at or self.last_sync.created_at
        return started is not None and self.settings.updated_at > started
