"""Django admin of the integrations app."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from .forms import QualysSettingsForm
from .models import QualysSettings, ScannedAddress, ScannedHost, SubscribedRange, SyncRun


@admin.register(QualysSettings)
class QualysSettingsAdmin(admin.ModelAdmin):
    """The single settings row, edited with the settings page's form and rules.

    The list page goes straight to the one row, and the row can be neither
    added twice nor deleted.
    """

    form = QualysSettingsForm
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "enabled",
                    "polling_interval",
                    "server",
                    "username",
                    "password",
                    "auto_subscribe",
                ]
            },
        ),
        ("Advanced", {"fields": ["host_list_version", "page_size"], "classes": ["collapse"]}),
    ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        settings = QualysSettings.load()
        return HttpResponseRedirect(
            reverse("admin:integrations_qualyssettings_change", args=[settings.pk])
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the sync: shown, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    """Sync history: every run with its counts, outcome and error."""

    list_display = [
        "id",
        "created_at",
        "trigger",
        "dry_run",
        "outcome",
        "duration",
        "indexed",
        "subscribed",
        "scanned",
        "unmanaged_by_qualys",
        "unmanaged_by_lumeta",
        "managed_by_both",
        "ips_added",
        "group_size",
        "qualys_calls",
    ]
    list_filter = ["status", "trigger", "dry_run"]
    date_hierarchy = "created_at"

    @admin.display(description="Status", ordering="status")
    def outcome(self, run: SyncRun) -> str:
        """Return the status as the pages show it, such as "Failed after writing to Qualys"."""
        return run.status_label

    search_fields = ["error", "task_id"]
    exclude = ["add_ranges", "group_ranges"]


@admin.register(SubscribedRange)
class SubscribedRangeAdmin(ReadOnlyAdmin):
    """The stored subscription (S), one merged range a row."""

    list_display = ["__str__", "version", "size"]
    list_filter = ["version"]
    search_fields = ["start_address", "end_address"]


@admin.register(ScannedHost)
class ScannedHostAdmin(ReadOnlyAdmin):
    """The stored scanned hosts (M), one Qualys host a row."""

    list_display = [
        "qualys_id",
        "address",
        "ipv6",
        "dns",
        "netbios",
        "os",
        "tracking_method",
        "last_scan",
    ]
    list_filter = ["tracking_method"]
    search_fields = ["address", "ipv6", "dns", "netbios"]


@admin.register(ScannedAddress)
class ScannedAddressAdmin(ReadOnlyAdmin):
    """The distinct scanned addresses (M as addresses), with the host that lists each first."""

    list_display = ["address", "version", "indexed", "last_scan", "host"]
    list_filter = ["version", "indexed"]
    search_fields = ["address"]
    list_select_related = ["host"]
