"""Sync pages and actions: "Sync now", "Preview", the progress JSON and a run's detail page."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from kombu.exceptions import OperationalError

from accounts.middleware import accepts_api_token, script_get

from . import constants
from .models import QualysSettings, SyncRun
from .services import runs
from .services.lock import LockError
from .tasks import send_sync
from .views import can_edit_settings

logger = logging.getLogger(__name__)

COUNTS = (
    "indexed",
    "subscribed",
    "scanned",
    "unmanaged_by_qualys",
    "unmanaged_by_lumeta",
    "managed_by_both",
    "ips_added",
    "group_size",
    "ipv6_not_pushable",
)
RANGE_FILES = {"add": "add_ranges", "group": "group_ranges"}


def exact_count(run: SyncRun, name: str) -> str | None:
    """Return a count as text, exact even where the database rounded it (IPv6 sizes)."""
    exact = (run.details.get("counts") or {}).get(name)
    if exact is not None:
        return exact
    value = getattr(run, name)
    return None if value is None else str(int(value))


def run_json(run: SyncRun) -> dict:
    """Return what the progress poller shows of ``run``; counts are strings (exact)."""
    duration = run.duration
    return {
        "id": run.pk,
        "status": run.status,
        "status_label": run.status_label,
        # As the pages name it: a preview started with the button is "Preview".
        "trigger": run.trigger_label,
        "dry_run": run.dry_run,
        "step": run.step,
        "step_label": run.step_label,
        # Before the host list is read, its count is 0 rather than a dash.
        "progress": {"hosts_read": 0, **(run.progress or {})},
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": round(duration.total_seconds(), 1) if duration else None,
        "counts": {name: exact_count(run, name) for name in COUNTS},
        # The add as planned, before the limit: what a preview would add and a
        # sync tried to add. "held_back": the limit stopped it, and nothing was
        # written to Qualys.
        # None while the run has not planned its add.
        "add": {
            "planned": (run.details.get("add") or {}).get("addresses"),
            "held_back": run.held_back if "add" in run.details else None,
            # The Auto-Subscribe limit per sync when the run started, where 0 means no limit.
            "limit": (run.details.get("add_settings") or {}).get("limit"),
        },
        "qualys_calls": run.qualys_calls,
        "rate_limit_remaining": run.rate_limit_remaining,
        "error": run.error,
        "url": reverse("integrations:sync-run", args=[run.pk]),
    }


def require_editor(request: HttpRequest) -> None:
    if not can_edit_settings(request.user):
        raise PermissionDenied("Starting a sync needs the “Can change Qualys settings” permission.")


def start_run(request: HttpRequest, *, dry_run: bool) -> SyncRun | None:
    """Create a run for the button and queue it, and report the outcome in a message."""
    what = "preview" if dry_run else "sync"
    qualys_settings = QualysSettings.load()
    if not qualys_settings.is_configured:
        messages.error(
            request, f"Cannot start a {what}: enter the API server, username and password first."
        )
        return None
    if not dry_run and not qualys_settings.enabled:
        # Off means no writes to Qualys, and a preview only reads.
        messages.error(
            request,
            "Cannot start a sync: the Qualys integration is off. Turn it on in Settings > "
            "Integrations > Qualys, or run a preview, which writes nothing to Qualys.",
        )
        return None
    run = runs.create_run(SyncRun.Trigger.BUTTON, dry_run=dry_run, user=request.user)
    try:
        running = runs.sync_running()
    except LockError as error:
        runs.record_failed(run, str(error))
        messages.error(request, str(error))
        return run
    waiting = runs.queued_before(run)
    if running or waiting is not None:
        # The reason names the other sync: "another sync (run 9) was running, ...".
        reason = runs.record_skipped(run, runs.queued_reason(waiting) if waiting else None).error
        messages.warning(request, reason[:1].upper() + reason[1:])
        return run
    try:
        send_sync(run)
    except OperationalError as error:
        runs.record_failed(
            run,
            f"The task queue is not reachable ({error}), so the {what} could not be started. "
            "Check that Redis and a Celery worker are running.",
        )
        messages.error(request, run.error)
        return run
    logger.info("Sync %s queued by %s (preview: %s)", run.pk, request.user.get_username(), dry_run)
    messages.success(request, f"The {what} was queued (run {run.pk}). Progress shows below.")
    return run


class SyncNowView(View):
    """The "Sync now" button: queue a sync on a worker."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        require_editor(request)
        start_run(request, dry_run=False)
        # The dashboard's button comes back to the dashboard, whose widget shows the progress.
        back = request.POST.get("next", "")
        if back and url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(back)
        return redirect(reverse("integrations:qualys") + "#sync")


class SyncPreviewView(View):
    """The "Preview" button (POST) and the latest preview's result (GET)."""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        run = SyncRun.objects.filter(dry_run=True).order_by("-created_at").first()
        if run is None:
            return render(request, "integrations/sync_preview_none.html")
        return redirect("integrations:sync-run", pk=run.pk)

    def post(self, request: HttpRequest) -> HttpResponse:
        require_editor(request)
        run = start_run(request, dry_run=True)
        if run is None:
            return redirect(reverse("integrations:qualys") + "#sync")
        return redirect("integrations:sync-run", pk=run.pk)


@method_decorator(accepts_api_token, name="dispatch")
@method_decorator(script_get("run", json_errors=True), name="dispatch")
class SyncProgressView(View):
    """JSON for the progress poller: a run (``?run=ID``) or the latest, and whether one runs."""

    def get(self, request: HttpRequest) -> JsonResponse:
        run_id = request.GET.get("run")
        if run_id:
            if not run_id.isdigit():
                return JsonResponse(
                    {"error": f"run must be a run number, not {run_id!r}."}, status=400
                )
            run = SyncRun.objects.filter(pk=int(run_id)).first()
            if run is None:
                return JsonResponse({"error": f"Sync run {run_id} not found."}, status=404)
        else:
            run = (
                SyncRun.objects.filter(status__in=[SyncRun.Status.RUNNING, SyncRun.Status.QUEUED])
                .order_by("-created_at")
                .first()
                # A skipped run did nothing: the run before it is the one to show.
                or SyncRun.objects.exclude(status=SyncRun.Status.SKIPPED)
                .order_by("-created_at")
                .first()
                or SyncRun.objects.order_by("-created_at").first()
            )
        running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists()
        # "active": the run in this reply is queued or working. A queued run
        # waits for a worker, so a script that waits for a sync to end polls
        # this, not only "running", which is about any run.
        active = run is not None and run.status in (
            SyncRun.Status.QUEUED,
            SyncRun.Status.RUNNING,
        )
        return JsonResponse(
            {
                "running": running,
                "active": active,
                "run": run_json(run) if run else None,
            }
        )


def sync_run_or_404(pk: int) -> SyncRun:
    """Return the sync run ``pk``, or raise a 404 whose message names the run."""
    run = SyncRun.objects.filter(pk=pk).first()
    if run is None:
        raise Http404(f"Sync run {pk} not found. The Qualys settings page lists the recent runs.")
    return run


class SyncRunDetailView(View):
    """One run: counts, what was (or would be) pushed, warnings and the error."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = sync_run_or_404(pk)
        counts = {name: exact_count(run, name) for name in COUNTS}
        context = {
            "run": run,
            "counts": counts,
            "step_label": run.step_label,
            "add": run.details.get("add") or {},
            "group": run.details.get("group") or {},
            "can_edit": can_edit_settings(request.user),
            "active": run.status in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING),
            "group_title": constants.ASSET_GROUP_TITLE,
        }
        return render(request, "integrations/sync_run.html", context)


@method_decorator(accepts_api_token, name="dispatch")
@method_decorator(script_get(), name="dispatch")
class SyncRunRangesView(View):
    """Download every range a run added (or would add), or set the asset group to, as text."""

    def get(self, request: HttpRequest, pk: int, which: str) -> HttpResponse:
        if which not in RANGE_FILES:
            raise Http404(f"No range list named {which!r}; use add or group.")
        run = sync_run_or_404(pk)
        if which not in run.details:
            # A missing list differs from an empty one, which an empty group target gives.
            if which == "group" and run.held_back:
                reason = (
                    "the Auto-Subscribe limit held the add back, so the sync leaves the asset "
                    "group as it is"
                )
            elif run.status in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
                reason = "the run has not computed it yet"
            else:
                reason = "the run ended before it computed it"
            raise Http404(f"Sync run {run.pk} has no {which} ranges: {reason}.")
        text = getattr(run, RANGE_FILES[which])
        response = HttpResponse(
            text + ("\n" if text else ""), content_type="text/plain; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="sync-{run.pk}-{which}-ranges.txt"'
        return response
