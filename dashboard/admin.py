"""Admin of the stored dashboard counts: read-only, for checking what the dashboard shows."""

from django.contrib import admin

from .models import CountSnapshot


@admin.register(CountSnapshot)
class CountSnapshotAdmin(admin.ModelAdmin):
    list_display = ["pk", "generation", "computed_generation", "computed_at"]
    readonly_fields = [
        "generation",
        "computed_generation",
        "signature",
        "counts",
        "qualys_signature",
        "qualys_counts",
        "computed_at",
    ]

    def has_add_permission(self, request) -> bool:
        # The dashboard creates the single row itself; deleting it only forces a recount.
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
