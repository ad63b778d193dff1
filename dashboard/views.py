"""Dashboard pages: thin views over the named sets, the lists and the state of the sync."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.generic import TemplateView

from accounts.middleware import accepts_api_token, script_get
from integrations.models import ScannedAddress, ScannedHost, SubscribedRange
from inventory.models import Host
from lumeta_qualys.ipset import AddressError, address_key, format_address, parse_address

from . import exports, lists, status, widgets
from .lists import (
    COVERAGE_SETS,
    SORTS,
    STATES,
    AddressFilter,
    CursorError,
    FilterError,
    apply_state,
    read_page,
    stale_selected,
)
from .querysets import (
    coverage_counts,
    stale_host_count,
    unmanaged_ipv6_count,
    unmanaged_stale_ipv4_count,
)

PERMISSION_SYNC = "integrations.change_qualyssettings"


def unknown_list(slug: str) -> str:
    """Return the 404 message for a dashboard list that does not exist, naming the lists."""
    lists = ", ".join(COVERAGE_SETS)
    return f"There is no dashboard list named “{slug}”. The lists are: {lists}."


def iso_utc(value: datetime | None) -> str | None:
    """Return ``value`` as ISO 8601 in UTC with a Z suffix (None stays None)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class DashboardView(TemplateView):
    """The Qualys Management dashboard: three counts, the diagram, the trend and the sync state."""

    template_name = "dashboard/index.html"

    @staticmethod
    def _add_hints(coverage, sync_status: widgets.SyncStatusWidget) -> list[str]:
        """Return the I − S card's sentences on what the next sync adds."""
        settings = sync_status.settings
        parts = widgets.UnmanagedParts(coverage.unmanaged_by_qualys)
        if parts.count:
            parts.ipv6 = unmanaged_ipv6_count()
            if settings is not None and settings.auto_subscribe and not settings.add_stale_hosts:
                parts.stale_ipv4 = unmanaged_stale_ipv4_count()
        return widgets.add_hints(parts, settings, sync_status.held_back_add)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        coverage = coverage_counts()
        sync_status = widgets.SyncStatusWidget(
            settings=status.settings_row(),
            last_sync=status.last_sync(),
            last_success=status.last_successful_sync(),
            running=status.running_sync(),
            data_from=status.last_stored_sync(),
            next_run=status.next_run(),
            can_sync=self.request.user.has_perm(PERMISSION_SYNC),
        )
        context.update(
            coverage=coverage,
            stale_hosts=stale_host_count(),
            count_widgets=widgets.count_widgets(coverage, self._add_hints(coverage, sync_status)),
            sync_status=sync_status,
            venn=widgets.VennWidget(coverage),
            trend=widgets.TrendWidget(status.trend_runs()),
        )
        return context


# A list filtered by address counts its rows up to this number and shows "more than" past
# it. The count reads the key index, like the page.
MATCH_COUNT_CAP = 10_000


def list_filter(query: str, coverage_set) -> AddressFilter | None:
    """Return the parsed ``q`` of a list; raise FilterError when the list cannot take it."""
    address_filter = AddressFilter.parse(query)
    if address_filter is not None and address_filter.field and coverage_set.side != "host":
        raise FilterError(
            f"“{query.strip()}” searches the inventory's hosts, and no address of this list is "
            "in the inventory. Filter this list by address, block or name."
        )
    return address_filter


def list_state(request: HttpRequest, coverage_set) -> str:
    """Return the request's ``state`` (current or stale hosts) for a list of indexed hosts.

    A list of Qualys-only addresses gives "" (every address); raises
    FilterError for another value than current or stale.
    """
    state = request.GET.get("state", "")
    if state not in STATES:
        raise FilterError(
            f"state must be current or stale, not “{state}”. Leave it out for every host."
        )
    if state and coverage_set.side != "host":
        raise FilterError(
            "state applies to the lists of indexed hosts; no address of this list is in the "
            "inventory. Leave it out."
        )
    return state


class CoverageListView(TemplateView):
    """One set's hosts with details from both sides, filtered, sorted and paginated by keyset."""

    template_name = "dashboard/list.html"

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        coverage_set = COVERAGE_SETS.get(slug)
        if coverage_set is None:
            raise Http404(unknown_list(slug))
        query = request.GET.get("q", "").strip()
        sort = request.GET.get("sort", "address")
        if sort not in SORTS:
            sort = "address"
        state_error: FilterError | None = None
        try:
            state = list_state(request, coverage_set)
        except FilterError as error:
            # Shown as the export words it, in place of the list.
            state, state_error = "", error
        stale = stale_selected(state)
        filters = {name: value for name, value in (("q", query), ("state", state)) if value}
        described = [f"“{query}”"] if query else []
        if state:
            described.append(f"the state “{STATES[state]}”")
        context = {
            "coverage_set": coverage_set,
            "q": query,
            "sort": sort,
            "sorts": SORTS,
            "state": state,
            "states": STATES if coverage_set.side == "host" else {},
            # The filters as a query string for the page and export links.
            "filters": urlencode(filters),
            "filter_text": " and ".join(described),
            "page": None,
            "error": "",
            # The whole set's size, from the stored counts; a filtered list has no total.
            "total": (
                None if query or state else getattr(coverage_counts(), slug.replace("-", "_"))
            ),
        }
        try:
            if state_error is not None:
                raise state_error
            address_filter = list_filter(query, coverage_set)
            context["name_filter"] = address_filter is not None and address_filter.is_name
            by_key = address_filter is not None and not (
                address_filter.is_name or address_filter.field
            )
            if by_key or (address_filter is None and stale is not None):
                # Counted up to a cap, so that a broad block stays as quick as a page. A
                # name filter gets no count: counting a prefix that many hosts share walks
                # the list, and at a million hosts counting host-9 took 140 to 170 ms on
                # PostgreSQL where its page took 18 ms.
                matching = coverage_set.queryset()
                if address_filter is not None:
                    matching = address_filter.apply(matching, coverage_set.side)
                matching = apply_state(matching, coverage_set.side, stale)
                found = matching.order_by()[: MATCH_COUNT_CAP + 1].count()
                context["matching"] = min(found, MATCH_COUNT_CAP)
                context["matching_capped"] = found > MATCH_COUNT_CAP
            after = request.GET.get("after") or None
            before = request.GET.get("before") or None
            page = context["page"] = read_page(
                coverage_set,
                sort=sort,
                after=after,
                before=before,
                address_filter=address_filter,
                size=lists.PAGE_SIZE,
                stale=stale,
            )
            if "matching" not in context and (query or state) and not (after or before):
                # Name and field searches get no count query; their first page
                # gives one when it is the only page, and a lower bound otherwise.
                context["matching"] = len(page.rows)
                context["matching_capped"] = page.next_cursor is not None
        except FilterError as error:
            context["error"] = str(error)
            return self.render_to_response(context, status=400)
        except CursorError:
            context["error"] = (
                "The page link is not valid for this list (it was edited or made for another "
                "sort order). Start again from the first page."
            )
            return self.render_to_response(context, status=400)
        return self.render_to_response(context)


@accepts_api_token
@script_get("q", "state")
def coverage_export(request: HttpRequest, slug: str) -> HttpResponse:
    """Stream the whole filtered list as CSV, in address order."""
    coverage_set = COVERAGE_SETS.get(slug)
    if coverage_set is None:
        raise Http404(unknown_list(slug))
    try:
        address_filter = list_filter(request.GET.get("q", ""), coverage_set)
        stale = stale_selected(list_state(request, coverage_set))
    except FilterError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        exports.csv_lines(coverage_set, address_filter, stale),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{slug}-{stamp}.csv"'
    return response


class HostDetailView(TemplateView):
    """Everything known about one address: the inventory row, Qualys's hosts, the subscription."""

    template_name = "dashboard/host.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        try:
            version, value = parse_address(kwargs["address"])
        except AddressError as error:
            raise Http404(f"“{kwargs['address']}” is not an IP address: {error.reason}.") from None
        key = address_key(version, value)
        candidate = (
            SubscribedRange.objects.filter(start_key__lte=key).order_by("-start_key").first()
        )
        subscribed_range = candidate if candidate is not None and candidate.end_key >= key else None
        host = Host.objects.filter(key=key).first()
        scanned_address = ScannedAddress.objects.filter(key=key).first()
        # The dashboard lists that hold the address, by the sets' definitions.
        held_by = {
            "unmanaged-by-qualys": host is not None and subscribed_range is None,
            "managed-by-both": host is not None and scanned_address is not None,
            "unmanaged-by-lumeta": host is None and scanned_address is not None,
        }
        context.update(
            address=format_address(version, value),
            host=host,
            scanned_address=scanned_address,
            lists=[COVERAGE_SETS[slug] for slug, held in held_by.items() if held],
            scanned_hosts=ScannedHost.objects.filter(
                **({"address_key": key} if version == 4 else {"ipv6_key": key})
            ).order_by("network_id", "qualys_id"),
            subscribed_range=subscribed_range,
        )
        return context


def _run_facts(run, *, started_and_error: bool) -> dict | None:
    """Return a sync run's ID, status and times as summary.json writes them, or None."""
    if run is None:
        return None
    facts = {"id": run.pk, "status": run.status}
    if started_and_error:
        facts["started_at"] = iso_utc(run.started_at)
    facts["finished_at"] = iso_utc(run.finished_at)
    if started_and_error:
        facts["error"] = run.error
    return facts


def summary_payload() -> dict:
    """Return the figures of ``/dashboard/summary.json``: exact integers and the last sync."""
    coverage = coverage_counts()
    last = status.last_sync()
    stored = status.last_stored_sync()
    return {
        "indexed": coverage.indexed,
        "subscribed": coverage.subscribed,
        "scanned": coverage.scanned,
        "unmanaged_by_qualys": coverage.unmanaged_by_qualys,
        "unmanaged_by_lumeta": coverage.unmanaged_by_lumeta,
        "managed_by_both": coverage.managed_by_both,
        "coverage": coverage.coverage,
        "regions": coverage.regions(),
        "last_sync": _run_facts(last, started_and_error=True),
        # The Qualys sets above come from this run, so after a failed sync a
        # monitoring script can tell how old they are.
        "qualys_data_from": _run_facts(stored, started_and_error=False),
        "generated_at": iso_utc(timezone.now()),
    }


@accepts_api_token
@script_get(json_errors=True)
def summary_json(request: HttpRequest) -> HttpResponse:
    """The counts for scripts and monitoring; a session or an API token is required.

    A request whose token fails gets a 401 JSON reply from ApiTokenMiddleware.
    """
    # json.dumps writes Python integers exactly, however large: IPv6 counts
    # pass 2**53 and must not become floats.
    body = json.dumps(summary_payload(), indent=2)
    return HttpResponse(body + "\n", content_type="application/json")
