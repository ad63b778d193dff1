"""Django admin for indexed hosts and import runs."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from lumeta_qualys.ipset import AddressError, key_of

from .models import Host, ImportRun
from .services import delete_hosts


class HostAdminForm(forms.ModelForm):
    """Checks the address before Host.save() canonicalises it and sets its key."""

    class Meta:
        model = Host
        fields = [
            "address",
            "hostname",
            "hostnames",
            "mac",
            "mac_vendor",
            "os_name",
            "tags",
            "source",
            "last_seen",
            "stale",
            "stale_since",
        ]

    def clean_address(self) -> str:
        text = self.cleaned_data["address"]
        try:
            key = key_of(text)
        except AddressError as error:
            raise forms.ValidationError(
                f'"{text}" is not a valid IP address: {error.reason}. '
                "Enter one IPv4 or IPv6 address."
            ) from None
        duplicate = Host.objects.filter(key=key).exclude(pk=self.instance.pk).first()
        if duplicate is not None:
            raise forms.ValidationError(
                f"{duplicate.address} is already indexed. Edit that host instead."
            )
        return text.strip()


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    """Hosts by address; the search box takes an address, a CIDR block, a range or a name."""

    form = HostAdminForm
    list_display = ["address", "hostname", "mac", "os_name", "source", "last_seen", "stale"]
    list_filter = ["stale", "version", "source"]
    # The search goes through HostQuerySet.matching (see get_search_results);
    # search_fields only makes the admin show the search box.
    search_fields = ["hostname"]
    search_help_text = (
        "An address, a CIDR block (192.0.2.0/28), a range (a-b), the start of an address "
        "(192.0.2. or 2001:db8:) or the start of any of a host's names."
    )
    readonly_fields = ["key", "version", "subscribed", "scanned", "first_seen"]
    ordering = ["key"]
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "address",
                    "hostname",
                    "hostnames",
                    "mac",
                    "mac_vendor",
                    "os_name",
                    "tags",
                ]
            },
        ),
        ("Discovery", {"fields": ["source", "first_seen", "last_seen", "stale", "stale_since"]}),
        (
            "Coverage (kept by the Qualys integration)",
            {"fields": ["subscribed", "scanned", "key", "version"]},
        ),
    ]

    def get_search_results(self, request, queryset, search_term):
        return queryset.matching(search_term), False

    def delete_model(self, request, obj: Host) -> None:
        delete_hosts(Host.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        delete_hosts(queryset)


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    """Import history, read-only: runs are written by imports only."""

    list_display = [
        "started_at",
        "file_name",
        "source",
        "status",
        "added",
        "updated",
        "unchanged",
        "marked_stale",
        "rejected_count",
    ]
    list_filter = ["status"]
    search_fields = ["file_name", "source"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
