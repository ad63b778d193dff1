"""Django admin for indexed hosts and import runs."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils import timezone

from lumeta_qualys.ipset import AddressError, address_key

from .importers.base import (
    CONTROL_CHARACTERS,
    clean_text,
    non_host_reason,
    normalise_mac,
    parse_host_address,
    shown,
)
from .importers.csvfile import LIST_SEPARATORS, TAG_SEPARATORS
from .models import Host, ImportRun
from .querysets import SEARCH_HELP, search_error
from .services import delete_hosts, retag_hosts

# Hosts the bulk delete's confirmation page names before "and N more".
SAMPLE_SIZE = 20
# Maximum length of a host name or tag in the form. A DNS name has at most 253 characters.
MAX_NAME_LENGTH = 255


class NameListField(forms.CharField):
    """A list of names typed as text, separated by commas, semicolons or whitespace."""

    def __init__(self, *, lower: bool, separators, **kwargs):
        self.lower = lower
        self.separators = separators
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        names = [clean_text(name) for name in self.separators.split(text)]
        if self.lower:
            names = [name.lower() for name in names]
        # Repeats are dropped, also those that differ only in case (tags),
        # and the first-seen order and spelling are kept.
        unique_names: dict[str, str] = {}
        for name in names:
            if name:
                unique_names.setdefault(name.casefold(), name)
        return list(unique_names.values())

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        for name in value:
            problem = _name_problem(name)
            if problem:
                raise forms.ValidationError(problem)


def _name_problem(name: str) -> str | None:
    """Return why ``name`` cannot be stored as one host name or tag, or None."""
    if len(name) > MAX_NAME_LENGTH:
        return (
            f'"{shown(name[:40])}…" is {len(name)} characters long, more than '
            f"{MAX_NAME_LENGTH}. Shorten it."
        )
    if CONTROL_CHARACTERS.search(name):
        return f'"{shown(name)}" contains a control character. Remove it.'
    return None


class TagEditForm(forms.Form):
    """The tags to add to and remove from the hosts an admin action selected."""

    add = NameListField(
        lower=False,
        separators=TAG_SEPARATORS,
        label="Tags to add",
        help_text="Separated by commas. A tag the host has in another case is not added again.",
    )
    remove = NameListField(
        lower=False,
        separators=TAG_SEPARATORS,
        label="Tags to remove",
        help_text="Separated by commas; matched in any case.",
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("add") and not cleaned.get("remove"):
            raise forms.ValidationError("Enter a tag to add or a tag to remove.")
        return cleaned


class HostAdminForm(forms.ModelForm):
    """Applies the import rules to a host typed in the admin.

    The address must be one a discovered host can have (as in imports, so
    that Auto-Subscribe never sends a loopback or multicast address to
    Qualys), the MAC address is stored as imports store it, and host names
    are lower case.
    """

    hostnames = NameListField(
        lower=True,
        separators=LIST_SEPARATORS,
        help_text="Every host name seen, separated by commas or spaces. Stored in lower case.",
    )
    tags = NameListField(
        lower=False,
        separators=TAG_SEPARATORS,
        help_text="Free-form tags, separated by commas.",
    )

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
            version, value, canonical = parse_host_address(clean_text(text))
        except AddressError as error:
            raise forms.ValidationError(
                f'"{text}" is not a valid IP address: {error.reason}. '
                "Enter one IPv4 or IPv6 address."
            ) from None
        block = non_host_reason(version, value)
        if block is not None:
            raise forms.ValidationError(
                f"{canonical} is {block}, which no discovered host has. Enter a host's address."
            )
        duplicate = (
            Host.objects.filter(key=address_key(version, value))
            .exclude(pk=self.instance.pk)
            .first()
        )
        if duplicate is not None:
            raise forms.ValidationError(
                f"{duplicate.address} is already indexed. Edit that host instead."
            )
        return canonical

    def clean_hostname(self) -> str:
        name = clean_text(self.cleaned_data["hostname"]).lower()
        if LIST_SEPARATORS.search(name):
            raise forms.ValidationError(
                f'"{shown(name)}" is more than one name. Enter the primary host name here, and '
                "every name in Host names."
            )
        problem = _name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name

    def clean_mac(self) -> str:
        text = clean_text(self.cleaned_data["mac"])
        if not text:
            return ""
        mac = normalise_mac(text)
        if mac is None:
            raise forms.ValidationError(
                f'"{text}" is not a MAC address. Enter six pairs of hex digits, such as '
                "00:00:5E:00:53:01, or leave the field empty."
            )
        return mac

    def clean(self):
        cleaned = super().clean()
        # The stale filter and expiry read stale_since, so the two fields agree.
        if cleaned.get("stale"):
            if not cleaned.get("stale_since"):
                cleaned["stale_since"] = timezone.now()
        else:
            cleaned["stale_since"] = None
        hostname = cleaned.get("hostname")
        names = cleaned.get("hostnames")
        if hostname and names is not None and hostname not in names:
            cleaned["hostnames"] = [hostname, *names]
        return cleaned


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    """Hosts by address; the search box works as the host list's (HostQuerySet.matching)."""

    form = HostAdminForm
    list_display = ["address", "hostname", "mac", "os_name", "source", "last_seen", "stale"]
    list_filter = ["stale", "version", "source"]
    # The search goes through HostQuerySet.matching (see get_search_results);
    # search_fields only makes the admin show the search box.
    search_fields = ["hostname"]
    search_help_text = SEARCH_HELP
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

    actions = ["delete_hosts", "edit_tags"]

    def get_actions(self, request):
        # Django's own bulk delete posts one form field per selected host, which fails
        # above DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000), and its confirmation lists every
        # host. delete_hosts replaces it.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(permissions=["delete"], description="Delete selected hosts")
    def delete_hosts(self, request, queryset):
        """Confirm, then delete the selected hosts, or every host the list's filters match.

        The confirmation form carries the changelist's ``select_across`` flag
        instead of one field per host, so "Select all" works for any number
        of hosts.
        """
        if request.POST.get("post") == "yes":
            deleted = delete_hosts(queryset)
            messages.success(request, f"Deleted {deleted:,} host{'s' if deleted != 1 else ''}.")
            return None
        select_across = request.POST.get("select_across") == "1"
        count = queryset.count()
        sample = list(queryset[:SAMPLE_SIZE])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "count": count,
            "sample": sample,
            "sample_negative": -len(sample),
            "select_across": select_across,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "title": "Delete hosts",
        }
        return TemplateResponse(
            request, "admin/inventory/host/delete_hosts_confirmation.html", context
        )

    @admin.action(permissions=["change"], description="Add or remove tags of selected hosts")
    def edit_tags(self, request, queryset):
        """Ask which tags to add and remove, then change them on the selected hosts.

        Like delete_hosts, the form carries ``select_across`` instead of one
        field per host, so "Select all" tags every host the list's filters match.
        """
        form = TagEditForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_bound and form.is_valid():
            add, remove = form.cleaned_data["add"], form.cleaned_data["remove"]
            changed = retag_hosts(queryset, add, remove)
            messages.success(
                request, f"Tags changed on {changed:,} host{'s' if changed != 1 else ''}."
            )
            return None
        count = queryset.count()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "count": count,
            "form": form,
            "select_across": request.POST.get("select_across") == "1",
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "title": "Add or remove tags",
        }
        return TemplateResponse(request, "admin/inventory/host/edit_tags.html", context)

    def get_search_results(self, request, queryset, search_term):
        problem = search_error(search_term) if search_term else None
        if problem is not None:
            # The admin explains why such a search finds nothing, as the host list does.
            messages.warning(request, problem)
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
        "dry_run",
        "started_by",
        "via",
        "added",
        "updated",
        "unchanged",
        "marked_stale",
        "rejected_count",
    ]
    list_filter = ["status", "dry_run", "via"]
    list_select_related = ["started_by"]
    search_fields = ["file_name", "source"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
