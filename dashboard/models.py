"""The dashboard's stored counts: computed from indexed COUNTs, kept until the data changes."""

from django.db import models


class CountSnapshot(models.Model):
    """The last computed dashboard counts: a single row, recomputed when the data changes.

    On PostgreSQL the indexed COUNTs over a million hosts take about 150 ms,
    above the dashboard's budget, so they are stored here and reused while
    nothing has changed. ``generation`` is bumped in the same transaction as
    every inventory change that the inventory's signals report (imports,
    deletions, single saves); ``signature`` holds the largest host ID and the
    ID bounds of the Qualys tables, which a sync's table replacement moves.
    The counts are valid while both match and are at most ``MAX_AGE`` old.
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
