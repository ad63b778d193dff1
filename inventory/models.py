"""The index of discovered hosts: the set I, one row per address."""

from django.db import models
from django.utils import timezone

from lumeta_qualys.ipset import address_key, format_address, parse_address, parse_key

from .querysets import HostQuerySet


class Host(models.Model):
    """One indexed address (IPv4 or IPv6) with what discovery learned about it.

    ``key`` is the address as fixed-width sortable text (see
    ``lumeta_qualys.ipset.address_key``): its index serves ordering by
    address and CIDR or range queries on SQLite and PostgreSQL alike.
    """

    address = models.CharField(
        max_length=39, help_text="Canonical text of the IPv4 or IPv6 address."
    )
    key = models.CharField(max_length=33, unique=True, editable=False)
    version = models.PositiveSmallIntegerField(editable=False)
    hostname = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="The primary host name, lower case."
    )
    hostnames = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Host names seen, the latest import's first, then older ones (up to 20). The first "
            "is the primary host name."
        ),
    )
    mac = models.CharField("MAC address", max_length=17, blank=True)
    mac_vendor = models.CharField("MAC vendor", max_length=255, blank=True)
    os_name = models.CharField("OS guess", max_length=255, blank=True)
    source = models.CharField(
        max_length=255, db_index=True, help_text="The file or feed that last reported the host."
    )
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    stale = models.BooleanField(
        default=False,
        help_text=(
            "Not listed by the latest complete import of its source. Stale hosts stay indexed."
        ),
    )
    stale_since = models.DateTimeField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)

    # Coverage flags, kept current by the Qualys integration at sync and import
    # time so that dashboard counts are indexed queries.
    subscribed = models.BooleanField(
        default=False, help_text="The address lies in the Qualys subscription (the set S)."
    )
    scanned = models.BooleanField(
        default=False, help_text="Qualys lists the address as a scanned host (the set M)."
    )

    objects = HostQuerySet.as_manager()

    class Meta:
        ordering = ["key"]
        indexes = [
            models.Index(fields=["subscribed", "key"], name="host_subscribed_key"),
            models.Index(fields=["scanned", "key"], name="host_scanned_key"),
            # The dashboard counts each (subscribed, scanned) group and sorts
            # scanned hosts outside the subscription from this index.
            models.Index(fields=["subscribed", "scanned", "key"], name="host_flags_key"),
            # Stale hosts for expiry and the stale filter. Current hosts have no
            # entry in this partial index, so imports and flag changes, which
            # write current hosts, never update it.
            models.Index(
                fields=["stale_since"], condition=models.Q(stale=True), name="host_stale_since"
            ),
        ]

    def __str__(self) -> str:
        return self.address

    def save(self, *args, **kwargs):
        version, value = parse_address(self.address)
        self.version = version
        self.address = format_address(version, value)
        self.key = address_key(version, value)
        super().save(*args, **kwargs)

    @property
    def ip_value(self) -> int:
        return parse_key(self.key)[1]


class ImportRun(models.Model):
    """One import of a discovery file or feed, with its report."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        # Read to the end, but no host in it could be imported.
        EMPTY = "empty", "Nothing imported"
        PARTIAL = "partial", "Partial (file ends early)"
        FAILED = "failed", "Failed"
        PREVIEW = "preview", "Preview (nothing written)"

    source = models.CharField(max_length=255, db_index=True)
    file_name = models.CharField(max_length=255, blank=True)
    dry_run = models.BooleanField(
        "Preview", default=False, help_text="A preview (dry run), which writes no host."
    )
    file_format = models.CharField(max_length=10, blank=True)
    address_column = models.CharField(
        max_length=255,
        blank=True,
        help_text="The CSV column named as the address column; empty when found by its name.",
    )
    name_column = models.CharField(
        max_length=255,
        blank=True,
        help_text="The CSV column named as the host-name column; empty when found by its name.",
    )

    class Via(models.TextChoices):
        PAGE = "page", "the import page"
        COMMAND = "command", "the import_hosts command"
        API = "api", "the import API"

    started_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(
        max_length=10,
        choices=Via.choices,
        blank=True,
        help_text="The way the file came in; empty for imports from code.",
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    progress = models.JSONField(
        default=dict, blank=True, help_text="Bytes read and rows seen so far."
    )
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    marked_stale = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(
        default=list, blank=True, help_text="Rejected rows with file, line, value and reason."
    )
    rejected_count = models.PositiveIntegerField(
        default=0, help_text="Every rejected row; only the first ones are kept in the list."
    )
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    owner = models.CharField(
        max_length=255,
        blank=True,
        editable=False,
        help_text="The process running the import, as host:pid:start (inventory.processes).",
    )

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.source} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def imported(self) -> int:
        """Hosts the file listed that are now in the inventory (or would be, in a preview)."""
        return self.added + self.updated + self.unchanged

    @property
    def duration_text(self) -> str:
        """Return how long the import took, such as "4.2 s" or "2 min 5 s"; "" while it runs."""
        if self.finished_at is None:
            return ""
        seconds = max((self.finished_at - self.started_at).total_seconds(), 0)
        if seconds < 60:
            return f"{seconds:.1f} s"
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s"
