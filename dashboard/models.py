"""The dashboard's stored counts: indexed COUNTs stored by every change to the data."""

from django.db import models


class CountSnapshot(models.Model):
    """The dashboard counts, a single row written by every change to the data behind them.

    On PostgreSQL the indexed COUNTs over a million hosts take about 150 ms
    and the range join behind |M ∩ S| most of a second, above the
    dashboard's budget. So the writers (imports, deletions, saved hosts,
    the sync's table replacement) recount and store them in their own
    transaction, and a page only reads this row. ``signature`` contains the
    largest host ID and the ID bounds of the Qualys tables, which a change
    made without the signals usually moves. ``generation`` is bumped by
    every store and by every change marked without a recount. The counts
    are valid while ``computed_generation`` equals ``generation`` and the
    signature matches the data; otherwise the page recounts.
    """

    generation = models.BigIntegerField(
        default=0, help_text="Bumped by every reported inventory change."
    )
    computed_generation = models.BigIntegerField(
        null=True, blank=True, help_text="The generation the stored counts were computed at."
    )
    signature = models.CharField(max_length=255, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    qualys_signature = models.CharField(max_length=255, blank=True)
    qualys_counts = models.JSONField(
        default=dict, blank=True, help_text="Counts of the Qualys tables, as decimal strings."
    )
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "count snapshot"

    def __str__(self) -> str:
        return f"Dashboard counts at generation {self.computed_generation}"
