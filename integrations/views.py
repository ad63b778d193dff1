"""Settings pages of the integrations: the list, and the Qualys settings page."""

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.generic import TemplateView, View
from django_celery_beat.models import PeriodicTask

from . import constants
from .connection import SLOT_WAIT_SECONDS, test_connection
from .forms import QualysSettingsForm
from .models import QualysSettings, SyncRun
from .services.call_guard import QualysCallGuard

logger = logging.getLogger(__name__)

EDIT_PERMISSION = "integrations.change_qualyssettings"
RECENT_RUNS = 10
# Skipped runs listed among the recent runs at most (see recent_runs).
RECENT_SKIPPED = 5


def can_edit_settings(user) -> bool:
    """Return whether ``user`` may change the integration settings and start a sync."""
    return user.has_perm(EDIT_PERMISSION)


def last_finished_run() -> SyncRun | None:
    """Return the sync that finished last; skipped runs and previews wrote nothing to Qualys."""
    return (
        SyncRun.objects.filter(finished_at__isnull=False, dry_run=False)
        .exclude(status=SyncRun.Status.SKIPPED)
        .order_by("-finished_at")
        .first()
    )


class IntegrationListView(TemplateView):
    """Settings > Integrations: every integration with its state and last sync result."""

    template_name = "integrations/index.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["qualys_settings"] = QualysSettings.load()
        context["last_run"] = last_finished_run()
        context["can_edit"] = can_edit_settings(self.request.user)
        return context


class QualysSettingsView(View):
    """Settings > Integrations > Qualys: shows the form; a POST saves it."""

    template_name = "integrations/qualys.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        settings = QualysSettings.load()
        can_edit = can_edit_settings(request.user)
        form = QualysSettingsForm(instance=settings, read_only=not can_edit)
        return render_settings_page(request, form)

    def post(self, request: HttpRequest) -> HttpResponse:
        if not can_edit_settings(request.user):
            raise PermissionDenied("Changing the Qualys settings needs the change permission.")
        settings = QualysSettings.load()
        form = QualysSettingsForm(request.POST, instance=settings)
        if not form.is_valid():
            return render_settings_page(request, form)
        # The settings row and the schedule change together or not at all.
        with transaction.atomic():
            settings = form.save()
        logger.info(
            "Qualys settings saved by %s: enabled=%s, every %s h, server %s, "
            "auto_subscribe=%s, max_add_per_sync=%s",
            request.user.get_username(),
            settings.enabled,
            settings.polling_interval,
            settings.server or "(none)",
            settings.auto_subscribe,
            settings.max_add_per_sync,
        )
        messages.success(request, saved_message(settings))
        return redirect("integrations:qualys")


class QualysConnectionTestView(View):
    """The "Test connection" button: checks the credentials in the form without saving them."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if not can_edit_settings(request.user):
            raise PermissionDenied("Testing the Qualys connection needs the change permission.")
        settings = QualysSettings.load()
        form = QualysSettingsForm(request.POST, instance=settings)
        form.is_valid()
        connection_errors = {
            name: form.errors[name]
            for name in ("server", "username", "password")
            if name in form.errors
        }
        server = form.cleaned_data.get("server", "")
        username = form.cleaned_data.get("username", "")
        password = form.password_to_use() if "password" not in connection_errors else ""

        missing = [
            label
            for label, value in (("server", server), ("username", username), ("password", password))
            if not value
        ]
        if connection_errors:
            result = None
            messages.error(
                request,
                f"Cannot test the connection: correct the {join_words(list(connection_errors))} "
                "below first.",
            )
        elif missing:
            result = None
            messages.error(
                request, f"Cannot test the connection: enter the {join_words(missing)} first."
            )
        else:
            guard = QualysCallGuard(wait_seconds=SLOT_WAIT_SECONDS)
            result = test_connection(server, username, password, call_guard=guard)
        return render_settings_page(request, form, connection_result=result, testing=True)


def join_words(words: list[str]) -> str:
    """Return ``["a", "b", "c"]`` as "a, b and c"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def recent_runs() -> dict:
    """Return the last RECENT_RUNS runs that ran, with the skipped runs between them.

    Skipped runs are counted apart, so that a double click cannot push real
    runs out of the table. Those newer than the oldest run listed are shown
    in place, up to RECENT_SKIPPED: a user then finds the click that another
    sync turned away. The others are counted below the table.
    """
    ran = list(
        SyncRun.objects.exclude(status=SyncRun.Status.SKIPPED).order_by("-created_at")[:RECENT_RUNS]
    )
    skipped = SyncRun.objects.filter(status=SyncRun.Status.SKIPPED)
    skipped_listed: list[SyncRun] = []
    if ran:
        newer = skipped.filter(created_at__gte=ran[-1].created_at).order_by("-created_at")
        skipped_listed = list(newer[:RECENT_SKIPPED])
    runs = sorted(ran + skipped_listed, key=lambda run: (run.created_at, run.pk), reverse=True)
    return {"recent_runs": runs, "skipped_runs": skipped.count() - len(skipped_listed)}


def next_run_at(task: PeriodicTask | None):
    """Return when beat next starts the sync, or None when it is not scheduled."""
    if task is None or not task.enabled or task.interval is None or task.last_run_at is None:
        return None
    return task.last_run_at + task.interval.schedule.run_every


def saved_message(settings: QualysSettings) -> str:
    if settings.enabled and settings.is_configured:
        hours = settings.polling_interval
        every = "every hour" if hours == 1 else f"every {hours} hours"
        return f"Settings saved. The sync runs {every}."
    return "Settings saved. The integration is off: no sync is scheduled."


def render_settings_page(
    request: HttpRequest,
    form: QualysSettingsForm,
    *,
    connection_result=None,
    status: int = 200,
    testing: bool = False,
) -> HttpResponse:
    schedule_task = (
        PeriodicTask.objects.filter(name=constants.SYNC_TASK_NAME)
        .select_related("interval")
        .first()
    )
    main_fields = [form[name] for name in form.Meta.fields if name not in form.advanced_fields]
    advanced_fields = [form[name] for name in form.advanced_fields]
    context = {
        "form": form,
        "main_fields": main_fields,
        "advanced_fields": advanced_fields,
        # The stored row, not the form's instance: validating a form copies the
        # submitted (possibly invalid or unsaved) values onto its instance.
        "qualys_settings": QualysSettings.load(),
        "can_edit": can_edit_settings(request.user),
        "platforms": constants.PLATFORMS,
        "connection_result": connection_result,
        # Test connection saves nothing, so its error summary must not speak of a save.
        "testing": testing,
        "schedule_task": schedule_task,
        "next_run_at": next_run_at(schedule_task),
        "last_run": last_finished_run(),
        **recent_runs(),
    }
    return render(request, "integrations/qualys.html", context, status=status)
