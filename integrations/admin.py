"""Django admin of the integrations app."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from .forms import QualysSettingsForm
from .models import QualysSettings


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
