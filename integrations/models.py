"""The Qualys integration's settings, the stored Qualys tables and the sync history."""

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone

from . import constants
from .fields import EncryptedTextField

# Exact address counts: IPv6 sizes can pass 2**63, so counts are stored as
# whole decimals rather than integers or floats.
COUNT_DIGITS = 40


def count_field(verbose_name: str, **kwargs) -> models.DecimalField:
    return models.DecimalField(
        verbose_name, max_digits=COUNT_DIGITS, decimal_places=0, null=True, blank=True, **kwargs
    )


class QualysSettings(models.Model):
    """The Qualys integration's settings: a single row, edited on one page.

    Saving it updates the periodic sync task at once (see ``integrations.schedule``).
    """

    class HostListVersion(models.TextChoices):
        V2 = "2.0", "/api/2.0"
        V3 = "3.0", "/api/3.0"

    enabled = models.BooleanField(
        "Enabled", default=False, help_text="Run the sync at every polling interval."
    )
    polling_interval = models.PositiveSmallIntegerField(
        "Polling interval (hours)",
        default=constants.DEFAULT_POLLING_HOURS,
        help_text=(
            f"Hours between syncs, a whole number from {constants.MIN_POLLING_HOURS} "
            f"to {constants.MAX_POLLING_HOURS}."
        ),
    )
    server = models.CharField(
        "Qualys API server",
        max_length=300,
        blank=True,
        help_text="The https base URL of your Qualys platform's API server.",
    )
    username = models.CharField("Username", max_length=150, blank=True)
    password = EncryptedTextField("Password", blank=True)
    auto_subscribe = models.BooleanField("Auto-Subscribe", default=False)
    max_add_per_sync = models.PositiveIntegerField(
        "Auto-Subscribe limit per sync",
        default=0,
        help_text=(
            "The most addresses one sync may add to the subscription. A sync with more to add "
            "adds none, writes nothing to Qualys and fails, so that a mistaken import cannot "
            "use up the Qualys licence. 0 means no limit."
        ),
    )
    add_stale_hosts = models.BooleanField(
        "Add stale hosts",
        default=True,
        help_text=(
            "On: Auto-Subscribe adds every indexed IPv4 address outside the subscription, stale "
            "hosts included. Off: it leaves out stale hosts, which the latest complete import "
            "of their source no longer listed, so that retired hosts take no Qualys licence. "
            "They stay in the inventory and in I − S either way."
        ),
    )

    host_list_version = models.CharField(
        "Host list API version",
        max_length=3,
        choices=HostListVersion.choices,
        default=HostListVersion.V2,
        help_text="The API path the scanned-host list is read from.",
    )
    page_size = models.PositiveIntegerField(
        "Host list page size",
        default=5000,
        help_text="Hosts per host-list call (truncation_limit), from 1 to 1,000,000.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Qualys settings"
        verbose_name_plural = "Qualys settings"

    def __str__(self) -> str:
        return "Qualys settings"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> "QualysSettings":
        """Return the single settings row, creating it with defaults if missing."""
        settings, _ = cls.objects.get_or_create(pk=1)
        return settings

    @property
    def is_configured(self) -> bool:
        return bool(self.server and self.username and self.password)


class SubscribedRange(models.Model):
    """One merged interval of the Qualys subscription (the set S).

    Never one row per address: a whole /8 is one row. IPv6 placeholders
    (0.0.0.1 to 0.254.255.255) are stored as the IPv6 addresses they map to.
    """

    version = models.PositiveSmallIntegerField()
    start_key = models.CharField(max_length=33, db_index=True)
    end_key = models.CharField(max_length=33)
    start_address = models.CharField(max_length=39)
    end_address = models.CharField(max_length=39)
    size = count_field("Addresses")

    class Meta:
        db_table = "qualys_subscribed_ips"
        ordering = ["start_key"]
        verbose_name = "subscribed range"

    def __str__(self) -> str:
        if self.start_address == self.end_address:
            return self.start_address
        return f"{self.start_address}-{self.end_address}"


class ScannedHost(models.Model):
    """One host of the Qualys scanned-host list (the set M), with its details."""

    qualys_id = models.BigIntegerField("Qualys host ID", db_index=True)
    address = models.CharField("IPv4 address", max_length=39, blank=True)
    address_key = models.CharField(max_length=33, blank=True, db_index=True)
    ipv6 = models.CharField("IPv6 address", max_length=39, blank=True)
    ipv6_key = models.CharField(max_length=33, blank=True, db_index=True)
    dns = models.CharField("DNS name", max_length=255, blank=True)
    netbios = models.CharField("NetBIOS name", max_length=255, blank=True)
    os = models.CharField("OS", max_length=255, blank=True)
    tracking_method = models.CharField(max_length=30, blank=True)
    last_scan = models.DateTimeField("Last scan", null=True, blank=True)
    network_id = models.BigIntegerField("Network ID", null=True, blank=True)

    class Meta:
        db_table = "qualys_scanned_ips"
        ordering = ["qualys_id"]
        verbose_name = "scanned host"

    def __str__(self) -> str:
        return f"{self.address or self.ipv6} (Qualys ID {self.qualys_id})"


class ScannedAddress(models.Model):
    """One distinct address that Qualys scanned: M as addresses.

    A scanned host contributes its IPv4 address (unless it is an IPv6
    placeholder) and its IPv6 address. An address listed in several networks
    is one row. ``indexed`` is kept current at sync and import time so that
    "Unmanaged by Lumeta" is an indexed query.
    """

    key = models.CharField(max_length=33, unique=True)
    address = models.CharField(max_length=39)
    version = models.PositiveSmallIntegerField()
    # No database constraint: the sync replaces both tables in one transaction
    # and links each address to a host it has just inserted. On PostgreSQL the
    # constraint's deferred checks, one per deleted host and one per inserted
    # address, took 5 to 10 s at each commit of a half-million-host sync.
    host = models.ForeignKey(
        ScannedHost, on_delete=models.CASCADE, related_name="addresses", db_constraint=False
    )
    indexed = models.BooleanField(
        default=False, help_text="The address is in the inventory (the set I)."
    )
    last_scan = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key"]
        indexes = [
            models.Index(fields=["indexed", "key"], name="scanned_indexed_key"),
            models.Index(fields=["indexed", "last_scan", "key"], name="scanned_indexed_scan"),
        ]
        verbose_name_plural = "scanned addresses"

    def __str__(self) -> str:
        return self.address


class SyncRun(models.Model):
    """One run of the sync, kept as history and shown as trends."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        BUTTON = "button", "Sync now"
        COMMAND = "command", "Command"

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    dry_run = models.BooleanField(
        default=False, help_text="A preview: nothing was written to Qualys."
    )
    auto_subscribe = models.BooleanField(null=True)
    requested_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    task_id = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    step = models.CharField(
        max_length=50, blank=True, help_text="The step running now, or the last one."
    )
    progress = models.JSONField(default=dict, blank=True)

    indexed = count_field("I (indexed)")
    subscribed = count_field("S (subscribed addresses)")
    scanned = count_field("M (scanned)")
    unmanaged_by_qualys = count_field("I − S")
    unmanaged_by_lumeta = count_field("M − I")
    managed_by_both = count_field("I ∩ M")
    ips_added = count_field("IPs added")
    group_size = count_field("Asset group size")
    ipv6_not_pushable = count_field("IPv6 not pushable")
    qualys_calls = models.PositiveIntegerField(default=0)
    rate_limit_remaining = models.IntegerField(null=True, blank=True)
    rate_limit_limit = models.IntegerField(null=True, blank=True)
    details = models.JSONField(
        default=dict, blank=True, help_text="What was pushed or would be, and warnings."
    )
    error = models.TextField(blank=True)
    add_ranges = models.TextField(
        "Ranges added",
        blank=True,
        help_text=(
            "Every range added to the subscription (or that a preview would add), one a line."
        ),
    )
    group_ranges = models.TextField(
        "Asset group ranges",
        blank=True,
        help_text="Every range the asset group was set to (or a preview would set), one a line.",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Sync {self.pk} ({self.get_status_display()})"

    @property
    def step_label(self) -> str:
        """The current step as the pages name it, such as "Reading the subscription"."""
        if not self.step:
            # A run has no step while it waits in the queue, until its first step
            # starts, and once it has ended.
            if self.status == self.Status.QUEUED:
                return "Waiting for a worker"
            return "Starting" if self.status == self.Status.RUNNING else ""
        return constants.STEP_LABELS.get(self.step, self.step)

    @property
    def trigger_label(self) -> str:
        """The trigger as a user named it: the Preview button, or the trigger with "(preview)"."""
        if not self.dry_run:
            return self.get_trigger_display()
        if self.trigger == self.Trigger.BUTTON:
            return "Preview"
        return f"{self.get_trigger_display()} (preview)"

    @property
    def held_back(self) -> bool:
        """Whether the Auto-Subscribe limit held the add back (in a preview: would hold it back)."""
        add = (self.details or {}).get("add") or {}
        return bool(add.get("held_back"))

    @property
    def status_label(self) -> str:
        """The outcome as the pages show it.

        A preview succeeds when it could read and compute everything, but
        the sync it previews fails when the limit blocks its add: the
        label states it, so that a list of runs does not read as all clear.
        A failed sync that changed Qualys before it failed gets its own label too.
        """
        label = self.get_status_display()
        if self.dry_run and self.status == self.Status.SUCCEEDED and self.held_back:
            return f"{label}; a sync would fail on the limit"
        # The sync records "wrote" when a step changed what Qualys stores.
        wrote = (self.details or {}).get("wrote")
        if not self.dry_run and self.status == self.Status.FAILED and wrote:
            return f"{label} after writing to Qualys"
        return label

    @property
    def error_is_listed(self) -> bool:
        """Whether the error is no more than the steps not done, which the run's page lists."""
        not_done = (self.details or {}).get("not_done") or []
        return bool(not_done) and self.error == " ".join(not_done)

    @property
    def status_css(self) -> str:
        """Return the CSS classes of the outcome: a qualified success is shown as a warning."""
        qualified = " qualified" if self.status_label != self.get_status_display() else ""
        return f"status-{self.status}{qualified}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
