"""Inventory pages: host list and detail, the upload page, and the import endpoint."""

from __future__ import annotations

import logging
import os
import shlex
import tempfile
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import DetailView, TemplateView

from accounts.middleware import (
    accepts_api_token,
    parameter_problem,
    script_get,
    token_failure,
)
from lumeta_qualys.ipset import AddressError, key_of

from . import background, exports
from .forms import HostSearchForm, ImportForm
from .importers import FORMATS, ImportFileError, check_container
from .models import Host, ImportRun
from .querysets import search_error
from .services import create_run, import_file, name_problem, settle_abandoned_runs

logger = logging.getLogger(__name__)

IMPORT_PERMISSION = "inventory.add_host"
PAGE_SIZE = 100
# A search that no index serves (a name, a MAC address, a field) counts its
# matches up to this many.
SCAN_COUNT_CAP = 10_000
RECENT_IMPORTS = 10
COPY_CHUNK = 1 << 20
# Bytes of a request body looked at for a line break (see ImportApiView.post).
FLATTENED_CHECK_BYTES = 1 << 16


def can_import(user) -> bool:
    """Return whether ``user`` may import hosts."""
    return user.has_perm(IMPORT_PERMISSION)


def save_upload(upload) -> str:
    """Copy an uploaded file to a temporary file the import thread can read."""
    handle, path = tempfile.mkstemp(prefix="import-", dir=background.upload_directory())
    with os.fdopen(handle, "wb") as target:
        for chunk in upload.chunks(COPY_CHUNK):
            target.write(chunk)
    return path


def searched_hosts(request: HttpRequest) -> tuple[str, str, object]:
    """Return the search ``q``, the ``state`` ("", "current" or "stale") and the hosts they find."""
    query = request.GET.get("q", "").strip()
    state = request.GET.get("state", "")
    hosts = Host.objects.matching(query)
    if state in ("current", "stale"):
        hosts = hosts.filter(stale=state == "stale")
    else:
        state = ""
    return query, state, hosts


@accepts_api_token
@script_get("q", "state")
def host_export(request: HttpRequest) -> HttpResponse:
    """Stream every host that the host list's search and state find as CSV, in address order."""
    query, state, hosts = searched_hosts(request)
    problem = search_error(query) if query else None
    if request.GET.get("state", "") not in ("", "current", "stale"):
        problem = (
            f"state must be current or stale, not “{request.GET['state']}”. Leave it out for "
            "every host."
        )
    if problem is not None:
        return HttpResponse(problem, status=400, content_type="text/plain; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        exports.csv_lines(hosts), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="hosts-{stamp}.csv"'
    return response


class HostListView(TemplateView):
    """Indexed hosts ordered by address, a page at a time, with a search box."""

    template_name = "inventory/hosts.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = HostSearchForm(self.request.GET)
        query, state, hosts = searched_hosts(self.request)
        after = self.request.GET.get("after") or None
        # A "Previous page" link gives the first key of the page it was on.
        before = self.request.GET.get("before") or None
        total_capped = False
        if Host.objects.reads_every_row(query):
            # A name, MAC address or OS that few hosts have makes both the
            # count and the page read every host's row, so one read of the
            # matching keys, up to a cap, serves both.
            keys = list(hosts.order_by("key").values_list("key", flat=True)[: SCAN_COUNT_CAP + 1])
            total_capped = len(keys) > SCAN_COUNT_CAP
            total = min(len(keys), SCAN_COUNT_CAP)
            following = [key for key in keys[:SCAN_COUNT_CAP] if after is None or key > after]
            if len(following) > PAGE_SIZE or not total_capped:
                page_keys = following[: PAGE_SIZE + 1]
                page = list(Host.objects.filter(key__in=page_keys).order_by("key"))
            else:
                page = list(hosts.after_key(after)[: PAGE_SIZE + 1])
        else:
            page = list(hosts.after_key(after)[: PAGE_SIZE + 1])
            total = hosts.count()
        has_next = len(page) > PAGE_SIZE
        page = page[:PAGE_SIZE]
        has_previous = after is not None
        if before is not None:
            # The page before a key, read backwards from it.
            earlier = list(hosts.filter(key__lt=before).order_by("-key")[: PAGE_SIZE + 1])
            has_previous = len(earlier) > PAGE_SIZE
            page = list(reversed(earlier[:PAGE_SIZE]))
            has_next = True
        context.update(
            form=form,
            query=query,
            state=state,
            search_error=search_error(query) if query else None,
            hosts=page,
            total=total,
            total_capped=total_capped,
            next_key=page[-1].key if has_next and page else None,
            previous_key=page[0].key if has_previous and page else None,
            is_first_page=not has_previous,
            can_import=can_import(self.request.user),
            expiry_days=settings.INVENTORY_STALE_EXPIRY_DAYS,
        )
        return context


class HostDetailView(DetailView):
    """One indexed host with every detail discovery found."""

    template_name = "inventory/host_detail.html"
    context_object_name = "host"

    def get_object(self, queryset=None) -> Host:
        address = self.kwargs["address"]
        try:
            key = key_of(address)
        except AddressError:
            raise Http404(f"“{address}” is not an IP address.") from None
        try:
            return Host.objects.get(key=key)
        except Host.DoesNotExist:
            # The 404 page links to the dashboard's page of the address, where
            # Qualys's view of it is.
            self.request.missing_address = address
            raise Http404(f"{address} is not in the inventory.") from None


class ImportView(PermissionRequiredMixin, View):
    """The upload page: a form, the recent imports, and a POST that starts an import."""

    permission_required = IMPORT_PERMISSION
    template_name = "inventory/import.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        background.prune_kept_previews()
        return self.render_page(request, ImportForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_page(request, form, status=400)
        upload = form.cleaned_data["file"]
        fmt = form.cleaned_data["format"] or None
        source = form.cleaned_data["source"].strip() or None
        dry_run = form.cleaned_data["dry_run"]
        path = save_upload(upload)
        run = create_run(
            upload.name,
            source,
            fmt,
            request.user,
            dry_run=dry_run,
            via=ImportRun.Via.PAGE,
            address_column=form.cleaned_data["address_column"],
            name_column=form.cleaned_data["name_column"],
        )
        logger.info("Import %s of %s started by %s", run.pk, upload.name, request.user)
        if getattr(settings, "INVENTORY_IMPORT_INLINE", False):
            background.run_import(run.pk, path, fmt, source, dry_run, upload.name)
        else:
            background.start_import(run.pk, path, fmt, source, dry_run, upload.name)
        return redirect("inventory:import-run", pk=run.pk)

    def render_page(self, request: HttpRequest, form: ImportForm, status: int = 200):
        # Earlier imports page back RECENT_IMPORTS at a time; a page past the
        # last, or not a number, shows the last or the first.
        paginator = Paginator(ImportRun.objects.select_related("started_by"), RECENT_IMPORTS)
        runs_page = paginator.get_page(request.GET.get("page"))
        runs = list(runs_page.object_list)
        settle_abandoned_runs(runs)
        context = {
            "form": form,
            "runs": runs,
            "runs_page": runs_page,
        }
        return render(request, self.template_name, context, status=status)


def import_run_or_404(pk: int) -> ImportRun:
    """Return the import run ``pk``, or raise a 404 whose message names the run."""
    run = ImportRun.objects.filter(pk=pk).first()
    if run is None:
        raise Http404(f"Import {pk} not found. The import page lists the recent imports.")
    return run


class ImportRunView(DetailView):
    """One import: its progress while it runs, its report when it is done."""

    model = ImportRun
    template_name = "inventory/import_run.html"
    context_object_name = "run"

    def get_object(self, queryset=None) -> ImportRun:
        run = import_run_or_404(self.kwargs["pk"])
        settle_abandoned_runs([run])
        return run

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = self.object
        context["progress_url"] = reverse("inventory:import-progress", args=[run.pk])
        context["can_apply"] = (
            run.status == ImportRun.Status.PREVIEW
            and run.imported > 0
            and can_import(self.request.user)
            and background.has_kept_preview(run.pk)
        )
        context["preview_keep_hours"] = settings.IMPORT_PREVIEW_KEEP_HOURS
        return context


class ImportPreviewApplyView(PermissionRequiredMixin, View):
    """``POST``: import the file of a finished preview, with the preview's format and source."""

    permission_required = IMPORT_PERMISSION
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        preview = import_run_or_404(pk)
        path = None
        if preview.status == ImportRun.Status.PREVIEW and preview.imported > 0:
            path = background.take_kept_preview(preview.pk)
        if path is None:
            messages.error(
                request,
                f"The file of preview {preview.pk} ({preview.file_name}) is no longer kept: "
                f"it was imported already, or {settings.IMPORT_PREVIEW_KEEP_HOURS} hours have "
                "passed. Upload it again.",
            )
            return redirect("inventory:import-run", pk=preview.pk)
        fmt = preview.file_format or None
        run = create_run(
            preview.file_name,
            preview.source,
            fmt,
            request.user,
            via=ImportRun.Via.PAGE,
            address_column=preview.address_column,
            name_column=preview.name_column,
        )
        # The preview's page then links to the import of its file.
        preview.progress = {**(preview.progress or {}), "imported_as": run.pk}
        preview.save(update_fields=["progress"])
        logger.info(
            "Import %s of %s started by %s from preview %s",
            run.pk,
            preview.file_name,
            request.user,
            preview.pk,
        )
        args = (run.pk, path, fmt, preview.source, False, preview.file_name)
        if getattr(settings, "INVENTORY_IMPORT_INLINE", False):
            background.run_import(*args)
        else:
            background.start_import(*args)
        return redirect("inventory:import-run", pk=run.pk)


class ImportProgressView(View):
    """JSON progress of an import, polled by the import page."""

    def get(self, request: HttpRequest, pk: int) -> JsonResponse:
        run = ImportRun.objects.filter(pk=pk).first()
        if run is None:
            # The poller reads JSON, so the error is JSON too.
            return JsonResponse({"error": f"Import {pk} not found."}, status=404)
        settle_abandoned_runs([run])
        if run.status == ImportRun.Status.RUNNING:
            progress = background.current_progress(run.pk, run.progress) or {}
        else:
            progress = run.progress or {}
        done = run.status != ImportRun.Status.RUNNING
        total = progress.get("total_bytes") or 0
        percent = (
            100 if done else (int(progress.get("bytes_read", 0) * 100 / total) if total else 0)
        )
        return JsonResponse(
            {
                "status": run.status,
                "done": done,
                "bytes_read": progress.get("bytes_read", 0),
                "total_bytes": total,
                "hosts": progress.get("hosts", 0),
                "percent": min(percent, 100),
            }
        )


def _json_error(message: str, status: int) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="lumeta-qualys"'
    return response


API_PARAMETERS = (
    "format",
    "source",
    "dry_run",
    "name",
    "mark_stale",
    "stale_before",
    "address_column",
    "name_column",
)
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class BadRequest(ValueError):
    """A request that the endpoint cannot act on unambiguously; the message names the fix."""

    status = 400


class BodyTooLarge(BadRequest):
    """A body larger than IMPORT_MAX_UPLOAD_BYTES, found while it is read."""

    status = 413


class LengthRequired(BadRequest):
    """A chunked body that the web server does not hand over whole."""

    status = 411


def _too_large(limit: int, size: int | None = None) -> BodyTooLarge:
    """Return the error for a body above ``limit``, of ``size`` bytes when the length is known."""
    body = "The request body is" if size is None else f"The request body is {size} bytes,"
    return BodyTooLarge(
        f"{body} more than the limit of {limit} bytes (IMPORT_MAX_UPLOAD_BYTES). Raise the "
        "limit, or import the file on the server with manage.py import_hosts."
    )


def _flag(name: str, value: str | None, default: bool = False) -> bool:
    """Read a yes/no parameter, ``default`` when absent; raise BadRequest for any other value."""
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadRequest(
        f"The parameter {name}={value!r} is neither yes nor no. Use {name}=1 for yes or "
        f"{name}=0 for no (also: {', '.join(TRUE_WORDS[1:])} / {', '.join(FALSE_WORDS[1:])})."
    )


def _collect_parameters(*groups) -> dict[str, str]:
    """Merge query and form parameters; raise BadRequest for an unknown or repeated one.

    A misspelt or repeated parameter, such as ``dry-run=1`` or a second
    ``dry_run``, must not turn a preview into a real import.
    """
    values: dict[str, str] = {}
    for group in groups:
        for name in group:
            occurrences = group.getlist(name)
            if name in values:
                # A name given in the query and in the form counts as given twice.
                occurrences = [*occurrences, values[name]]
            problem = parameter_problem(name, occurrences, API_PARAMETERS)
            if problem is not None:
                raise BadRequest(problem)
            if not group[name].strip():
                # An unset shell variable, as in source=$FEED, must not fall back
                # to a default that splits a feed.
                raise BadRequest(f"The parameter {name} is empty. Give a value, or leave it out.")
            values[name] = group[name]
    return values


def _stale_before(value: str | None) -> datetime | None:
    """Read ``stale_before``: an ISO 8601 time with its zone, not later than now."""
    if value is None:
        return None
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequest(
            f"The parameter stale_before={value!r} is not an ISO 8601 time with a time zone, "
            "such as 2026-12-05T06:00:00Z. In a URL, write the + of a zone offset as %2B."
        )
    if moment > timezone.now():
        raise BadRequest(
            f"The parameter stale_before={value!r} is in the future: every host of the source "
            "would become stale. Give the time before the feed's first part was sent."
        )
    return moment


def _chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


@login_not_required
@csrf_exempt  # a PUT from curl has no CSRF token, and the reply changes nothing
def import_api_subpath(request: HttpRequest, rest: str) -> JsonResponse:
    """Return a JSON 404 with the right command for a request below the import endpoint.

    ``curl -T FILE URL/`` appends the file's name to a URL that ends in "/" and
    sends PUT. The reply reveals nothing, so it takes no login.
    """
    name = rest.rsplit("/", 1)[-1] or "FILE"
    # The request's own parameters (source, dry_run...) go into the command, so
    # that running it imports the file as the request meant to.
    parameters = request.GET.copy()
    parameters.setdefault("name", name)
    endpoint = request.build_absolute_uri(reverse("inventory:api-import"))
    command = shlex.join(
        [
            "curl",
            "--fail-with-body",
            "--oauth2-bearer",
            "TOKEN",
            "--data-binary",
            f"@{name}",
            f"{endpoint}?{parameters.urlencode()}",
        ]
    ).replace(" TOKEN ", " $LUMETA_TOKEN ")  # a token has no spaces, so no quotes are needed
    cause = "adds the file's name to a URL that ends in '/'"
    if request.method == "PUT":
        cause += " and sends PUT"
    return _json_error(
        f"No endpoint at {request.path}. Send the file with POST to the endpoint itself, from "
        f"the file's folder: {command} (curl -T FILE {cause}).",
        404,
    )


@method_decorator(login_not_required, name="dispatch")
@method_decorator(accepts_api_token, name="dispatch")
class ImportApiView(View):
    """``POST /inventory/api/import/``: import a file sent by a script.

    Authenticates only with ``Authorization: Bearer <token>`` (a session
    cookie is not enough, because the view is exempt from CSRF). The body is
    the file itself or a multipart form with one file field. Parameters, in
    the query string or as form fields of a multipart form: ``format``,
    ``source``, ``dry_run``, ``name`` (the file name for a raw body), and
    for a feed sent in parts ``mark_stale=0`` (leave stale marking to a
    later part) or ``stale_before`` (mark the hosts of the source last seen
    before that time). Returns the import report as JSON.
    """

    http_method_names = ["post"]

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> JsonResponse:
        hint = " (curl -T sends PUT: add -X POST)" if request.method == "PUT" else ""
        response = _json_error(
            f"The method {request.method} is not allowed here. Send the file with POST{hint}.",
            405,
        )
        response["Allow"] = "POST"
        return response

    def post(self, request: HttpRequest) -> JsonResponse:
        if not getattr(request, "api_token_auth", False):
            problem = token_failure(request.headers.get("Authorization", ""))
            return _json_error(
                f"Authentication failed: {problem}. Send a valid API token as 'Authorization: "
                "Bearer <token>'; create one at /accounts/tokens/.",
                401,
            )
        if not can_import(request.user):
            return _json_error(
                "Importing hosts needs the permission inventory.add_host, which the token's "
                f"user {request.user.get_username()!r} lacks. Ask an administrator to grant it "
                "(in the administration's user page), or use a token of a user who has it.",
                403,
            )
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _json_error("The Content-Length header is not a number.", 400)
        if length > limit:
            return _json_error(str(_too_large(limit, length)), 413)
        try:
            options = self._options(request)
            # A body without a name takes the source's, so that messages name the feed.
            path, name = self._save_body(request, options["name"] or options["source"], limit)
        except BadRequest as error:
            return _json_error(str(error), error.status)
        # curl -d (not --data-binary) removes a file's line breaks. A compressed
        # file has none to remove, and its own error gives the remedy.
        with open(path, "rb") as body:
            sample = body.read(FLATTENED_CHECK_BYTES)
        try:
            check_container(sample, name)
        except ImportFileError:
            one_line = False
        else:
            one_line = b"\n" not in sample
        try:
            report = import_file(
                path,
                fmt=options["format"],
                source=options["source"],
                dry_run=options["dry_run"],
                user=request.user,
                file_name=name,
                mark_stale=options["mark_stale"],
                stale_cutoff=options["stale_before"],
                via=ImportRun.Via.API,
                address_column=options["address_column"],
                name_column=options["name_column"],
            )
        finally:
            Path(path).unlink(missing_ok=True)
        if not options["mark_stale"] and report.ok:
            report.warnings.append(
                f"No host of source {report.source!r} was marked stale: mark_stale=0 leaves "
                "that to a later import of the source."
            )
            ImportRun.objects.filter(pk=report.run_id).update(warnings=report.warnings)
        if report.imported == 0 and one_line and request.content_type != "multipart/form-data":
            report.warnings.append(
                "The body has no line break. curl -d removes the line breaks of a file: send "
                "it with --data-binary @FILE, as the README shows."
            )
            ImportRun.objects.filter(pk=report.run_id).update(warnings=report.warnings)
        if not report.ok:
            status = 400
        elif report.imported == 0:
            # "curl --fail-with-body" then fails: a file of which nothing
            # could be read is rarely what a script meant to send.
            status = 422
        else:
            status = 200
        return JsonResponse(report.as_dict(), status=status)

    def _options(self, request: HttpRequest) -> dict:
        """Return the import's options from the query string and form fields; raise BadRequest."""
        multipart = request.content_type == "multipart/form-data"
        if multipart and _chunked(request):
            raise LengthRequired(
                "The multipart body was sent in chunks (Transfer-Encoding: chunked), which this "
                "endpoint cannot read. Send it with a Content-Length, as curl -F file=@FILE does."
            )
        try:
            groups = [request.GET, request.POST] if multipart else [request.GET]
        except MultiPartParserError as error:
            raise BadRequest(
                f"The multipart body cannot be read: {error}. Send the file with curl -F "
                "file=@FILE, which writes the boundary into the Content-Type header, or send "
                "the file itself as the body with --data-binary @FILE."
            ) from None
        values = _collect_parameters(*groups)
        fmt = values.get("format") or None
        if fmt is not None and fmt not in FORMATS:
            raise BadRequest(f"Unknown format {fmt!r}. Choose one of: {', '.join(FORMATS)}.")
        source = values.get("source", "").strip() or None
        if source is None and not values.get("name", "").strip() and not multipart:
            # Hosts missing from the next import of the same source are marked
            # stale, so unrelated scripts must not share a made-up default.
            raise BadRequest(
                "Name the feed of a file sent as the request body: add source=NAME (hosts of "
                "that source that a later import does not list become stale) or name=FILE, "
                "which is also the default source."
            )
        for label, value in (("source", source), ("name", values.get("name", "").strip())):
            problem = name_problem(f"parameter {label}", value or "")
            if problem:
                raise BadRequest(problem)
        columns = {}
        for parameter in ("address_column", "name_column"):
            column = columns[parameter] = values.get(parameter, "").strip()
            problem = name_problem(f"parameter {parameter}", column)
            if problem:
                raise BadRequest(problem)
            if column and fmt not in (None, "csv"):
                raise BadRequest(
                    f"{parameter} is read from CSV files only, not from the format {fmt!r}. "
                    "Leave format out or set it to csv."
                )
        mark_stale = _flag("mark_stale", values.get("mark_stale"), default=True)
        stale_before = _stale_before(values.get("stale_before"))
        if stale_before is not None and not mark_stale:
            raise BadRequest("Give stale_before or mark_stale=0, not both.")
        return {
            "format": fmt,
            "source": source,
            "dry_run": _flag("dry_run", values.get("dry_run")),
            "name": values.get("name", "").strip(),
            "mark_stale": mark_stale,
            "stale_before": stale_before,
            **columns,
        }

    def _save_body(self, request: HttpRequest, raw_name: str, limit: int) -> tuple[str, str]:
        """Store the file sent and return its path and name; raise BadRequest when there is none.

        A raw body sent in chunks (``curl -T -`` or a pipe) has no
        Content-Length, and Django reads no byte of it. gunicorn decodes the
        chunks and sets ``wsgi.input_terminated``; the body is then
        read from the server's stream up to ``limit`` bytes. A server that
        does not decode them gets 411 with the remedy.
        """
        if request.content_type == "multipart/form-data":
            uploads = [upload for field in request.FILES for upload in request.FILES.getlist(field)]
            if not uploads:
                raise BadRequest("The request has no file: send it as the body or as 'file'.")
            if len(uploads) > 1:
                raise BadRequest(
                    f"The request has {len(uploads)} files. Send one file per request."
                )
            upload = uploads[0]
            if upload.size == 0:
                raise BadRequest(f"The file {upload.name!r} is empty.")
            return save_upload(upload), upload.name
        name = raw_name or "upload"
        stream = request
        if _chunked(request) and not request.META.get("CONTENT_LENGTH"):
            if not request.META.get("wsgi.input_terminated"):
                raise LengthRequired(
                    "The body was sent in chunks (Transfer-Encoding: chunked), which this web "
                    "server does not read. Send it with a Content-Length: curl --data-binary "
                    "@FILE, or --data-binary @- to read standard input."
                )
            stream = request.META["wsgi.input"]
        handle, path = tempfile.mkstemp(prefix="import-", dir=background.upload_directory())
        size = 0
        try:
            with os.fdopen(handle, "wb") as target:
                while chunk := stream.read(COPY_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(limit)
                    target.write(chunk)
        except BodyTooLarge:
            Path(path).unlink(missing_ok=True)
            raise
        if size == 0:
            Path(path).unlink(missing_ok=True)
            raise BadRequest("The request body is empty: send the file as the body or as 'file'.")
        return path, name
