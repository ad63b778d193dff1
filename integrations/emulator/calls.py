"""The API calls: each takes the state and a call's parameters and returns a Reply.

Only the routing, authentication, limits and faults live in the handler.
This module builds what Qualys would return for a valid, authorised call.
Errors are raised as ApiError and turned into SIMPLE_RETURN bodies by the
handler.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from lxml import etree

from lumeta_qualys.ipset import (
    IPV6_PLACEHOLDERS,
    AddressError,
    IPSet,
    canonical_address,
    parse_address,
)

from . import xmlout
from .params import (
    ApiError,
    check_names,
    flag,
    id_ranges,
    in_id_ranges,
    invalid,
    ip_set,
    require,
    truncation_limit,
    whole_number,
)
from .state import TITLE_MAX_LENGTH, AssetGroup, EmulatorState, Host, Mapping, fast_tokens

DETAILS = {"None", "Basic", "Basic/AGs", "All", "All/AGs"}
HOST_PAGE_DEFAULT = 1000
GROUP_PAGE_DEFAULT = 1000
MAPPING_PAGE_DEFAULT = 5000
WRITE_ACTIONS = {"add", "edit", "delete"}


@dataclass
class Call:
    """One authorised API call as the calls see it."""

    endpoint: str
    action: str
    path: str
    params: dict[str, str]
    user: str
    base_url: str
    method: str = "GET"


@dataclass
class Reply:
    """A reply to send: a status, a body (whole or in pieces) and extra headers."""

    status: int
    body: str | Iterator[str]
    content_type: str = "application/xml"
    headers: dict[str, str] = field(default_factory=dict)


def next_page_url(call: Call, id_min: int) -> str:
    """Return the URL of the next page: the call's parameters plus the next ``id_min``."""
    params = {name: value for name, value in call.params.items() if name != "id_min"}
    params["id_min"] = str(id_min)
    path = call.path if call.path.endswith("/") else call.path + "/"
    return f"{call.base_url}{path}?{urlencode(params)}"


def page_number(ids: list[int], params: dict[str, str], default_limit: int) -> int:
    """Return the page number a paged list call requests: 1 without ``id_min``.

    The page is counted by the position of ``id_min`` among all records, so
    it is exact when no filter is set. It only serves to aim faults.
    """
    id_min = params.get("id_min", "").strip()
    limit_text = params.get("truncation_limit", "").strip()
    limit = int(limit_text) if limit_text.isdigit() else default_limit
    if not id_min.isdigit() or limit == 0:
        return 1
    return bisect.bisect_left(ids, int(id_min)) // limit + 1


def echo(call: Call) -> str:
    """Return the REQUEST block when the call has ``echo_request=1``, else nothing."""
    if not flag(call.params, "echo_request"):
        return ""
    # Qualys's sample echoes the call's parameters without echo_request itself.
    params = {name: value for name, value in call.params.items() if name != "echo_request"}
    return xmlout.request_block(call.user, call.base_url + call.path, params)


def success(call: Call, message: str, items: list[tuple[str, list[object]]] | None = None) -> Reply:
    return Reply(200, xmlout.simple_return(message, items=items or (), request=echo(call)))


# Host list ----------------------------------------------------------------------

HOST_LIST_PARAMS = {
    "action",
    "echo_request",
    "details",
    "ids",
    "id_min",
    "id_max",
    "ips",
    "ipv6",
    "ag_ids",
    "ag_titles",
    "network_ids",
    "truncation_limit",
    "vm_scan_since",
    "no_vm_scan_since",
    "show_asset_id",
    "show_tags",
}


def _host_filter(state: EmulatorState, params: dict[str, str]):
    """Return a predicate for the host filters of a host list call."""
    ids = id_ranges(params, "ids")
    ips = ip_set(params, "ips")
    if ips is not None and ips.v6:
        first = next(ips.only(6).qualys_tokens())
        raise invalid("ips", first, "IPv6 addresses go in the ipv6 parameter")
    ipv6 = ip_set(params, "ipv6")
    if ipv6 is not None:
        filters = {"ids", "ips", "ag_ids", "ag_titles", "network_ids", "vm_scan_since"}
        if filters & set(params) or ipv6.v4:
            raise ApiError(
                400, 1907, "The ipv6 parameter takes IPv6 addresses and no other host filter."
            )
    groups: IPSet | None = None
    if "ag_ids" in params or "ag_titles" in params:
        groups = _groups_ips(state, params)
    network_ids = None
    if "network_ids" in params:
        network_ids = _network_ids(params)
    since = params.get("vm_scan_since")
    not_since = params.get("no_vm_scan_since")

    def keep(host: Host) -> bool:
        if ids is not None and not in_id_ranges(host.id, ids):
            return False
        if ips is not None and not ips.contains(4, host.ip_value):
            return False
        if ipv6 is not None and (host.ipv6 is None or host.ipv6 not in ipv6):
            return False
        if groups is not None and not groups.contains(4, host.ip_value):
            return False
        if network_ids is not None and (host.network_id or 0) not in network_ids:
            return False
        if since is not None and (host.last_vuln_scan is None or host.last_vuln_scan < since):
            return False
        if not_since is not None and host.last_vuln_scan is not None:
            return host.last_vuln_scan < not_since
        return True

    return keep


def _network_ids(params: dict[str, str]) -> set[int]:
    values = set()
    for token in params["network_ids"].split(","):
        token = token.strip()
        if not token.isdigit():
            raise invalid("network_ids", params["network_ids"], f"not a whole number: {token}")
        values.add(int(token))
    return values


def _groups_ips(state: EmulatorState, params: dict[str, str]) -> IPSet:
    result = IPSet()
    with state.lock:
        groups = list(state.asset_groups.values())
    wanted_ids = id_ranges(params, "ag_ids")
    titles = params.get("ag_titles")
    wanted_titles = {title.strip() for title in titles.split(",")} if titles else None
    for group in groups:
        if wanted_ids is not None and in_id_ranges(group.id, wanted_ids):
            result = result | group.ips
        elif wanted_titles is not None and group.title in wanted_titles:
            result = result | group.ips
    return result


def host_list(state: EmulatorState, call: Call) -> Reply:
    params = call.params
    check_names(params, HOST_LIST_PARAMS)
    details = params.get("details", "Basic")
    if details not in DETAILS:
        raise invalid("details", details, f"use one of {', '.join(sorted(DETAILS))}")
    limit = truncation_limit(params, HOST_PAGE_DEFAULT)
    id_min = whole_number(params, "id_min", minimum=1) or 1
    id_max = whole_number(params, "id_max", minimum=1)
    keep = _host_filter(state, params)
    return Reply(200, _host_list_body(state, call, details, limit, id_min, id_max, keep))


def _host_list_body(state, call, details, limit, id_min, id_max, keep) -> Iterator[str]:
    yield xmlout.prolog("HOST_LIST_OUTPUT")
    yield "<HOST_LIST_OUTPUT>\n"
    yield echo(call)
    yield "  <RESPONSE>\n"
    yield f"    <DATETIME>{xmlout.now_text()}</DATETIME>\n"

    groups_by_host = details.endswith("/AGs")
    group_sets = []
    if groups_by_host:
        with state.lock:
            group_sets = [(group.id, group.ips) for group in state.asset_groups.values()]

    hosts = state.hosts
    index = bisect.bisect_left(state.host_ids, id_min)
    written = 0
    next_id: int | None = None
    id_run: list[int] = []
    opened = False
    for position in range(index, len(hosts)):
        host = hosts[position]
        if id_max is not None and host.id > id_max:
            break
        if not keep(host):
            continue
        if limit and written == limit:
            next_id = host.id
            break
        if not opened:
            yield "    <ID_SET>\n" if details == "None" else "    <HOST_LIST>\n"
            opened = True
        written += 1
        if details == "None":
            # Consecutive IDs are written as ID_RANGE, as Qualys does.
            if id_run and host.id == id_run[-1] + 1:
                id_run.append(host.id)
                continue
            yield from _id_run(id_run)
            id_run = [host.id]
        else:
            ag_ids = [gid for gid, ips in group_sets if ips.contains(4, host.ip_value)]
            yield _host_element(host, details, ag_ids if groups_by_host else None)
    if opened:
        if details == "None":
            yield from _id_run(id_run)
            yield "    </ID_SET>\n"
        else:
            yield "    </HOST_LIST>\n"
    if next_id is not None:
        yield xmlout.truncation_warning(limit, next_page_url(call, next_id))
    yield "  </RESPONSE>\n</HOST_LIST_OUTPUT>\n"


def _id_run(run: list[int]) -> Iterator[str]:
    if len(run) == 1:
        yield f"      <ID>{run[0]}</ID>\n"
    elif run:
        yield f"      <ID_RANGE>{run[0]}-{run[-1]}</ID_RANGE>\n"


def _host_element(host: Host, details: str, ag_ids: list[int] | None) -> str:
    parts = ["      <HOST>\n", f"        <ID>{host.id}</ID>\n", f"        <IP>{host.ip}</IP>\n"]
    if host.ipv6 is not None:
        parts.append(f"        <IPV6>{host.ipv6}</IPV6>\n")
    parts.append(f"        <TRACKING_METHOD>{host.tracking_method}</TRACKING_METHOD>\n")
    if host.network_id is not None:
        parts.append(f"        <NETWORK_ID>{host.network_id}</NETWORK_ID>\n")
    if host.dns is not None:
        parts.append(f"        <DNS>{xmlout.cdata(host.dns)}</DNS>\n")
    if host.netbios is not None:
        parts.append(f"        <NETBIOS>{xmlout.cdata(host.netbios)}</NETBIOS>\n")
    if host.os is not None:
        parts.append(f"        <OS>{xmlout.cdata(host.os)}</OS>\n")
    if host.last_vuln_scan is not None:
        scan = xmlout.text(host.last_vuln_scan)
        parts.append(f"        <LAST_VULN_SCAN_DATETIME>{scan}</LAST_VULN_SCAN_DATETIME>\n")
        if details.startswith("All"):
            parts.append(f"        <LAST_VM_SCANNED_DATE>{scan}</LAST_VM_SCANNED_DATE>\n")
    if details.startswith("All"):
        if host.last_compliance_scan is not None:
            value = xmlout.text(host.last_compliance_scan)
            parts.append(
                f"        <LAST_COMPLIANCE_SCAN_DATETIME>{value}</LAST_COMPLIANCE_SCAN_DATETIME>\n"
            )
        if host.owner is not None:
            parts.append(f"        <OWNER>{xmlout.text(host.owner)}</OWNER>\n")
    if ag_ids:
        parts.append(f"        <ASSET_GROUP_IDS>{','.join(map(str, ag_ids))}</ASSET_GROUP_IDS>\n")
    parts.append("      </HOST>\n")
    return "".join(parts)


# IP list and add -------------------------------------------------------------------

IP_LIST_PARAMS = {"action", "echo_request", "ips", "network_id", "tracking_method"}
IP_ADD_PARAMS = {
    "action",
    "echo_request",
    "ips",
    "enable_vm",
    "enable_pc",
    "enable_sca",
    "enable_certview",
    "tracking_method",
    "owner",
    "ud1",
    "ud2",
    "ud3",
    "comment",
    "ag_title",
}
MODULE_FLAGS = ("enable_vm", "enable_pc", "enable_sca", "enable_certview")


def ip_list(state: EmulatorState, call: Call) -> Reply:
    params = call.params
    check_names(params, IP_LIST_PARAMS)
    if params.get("network_id", "0").strip() != "0":
        raise invalid("network_id", params["network_id"], "only the global network 0 exists")
    tracking = params.get("tracking_method", "IP").strip()
    if tracking not in ("IP", "DNS", "NETBIOS"):
        raise invalid("tracking_method", tracking, "use IP, DNS or NETBIOS")
    subscription = state.subscription
    wanted = ip_set(params, "ips")
    if wanted is not None:
        subscription = subscription & wanted
    if tracking != "IP":
        # Every subscribed address is tracked by IP in the emulator.
        subscription = IPSet()
    return Reply(200, _ip_list_body(call, subscription))


def _ip_list_body(call: Call, subscription: IPSet) -> Iterator[str]:
    yield xmlout.prolog("IP_LIST_OUTPUT")
    yield "<IP_LIST_OUTPUT>\n"
    yield echo(call)
    yield "  <RESPONSE>\n"
    yield f"    <DATETIME>{xmlout.now_text()}</DATETIME>\n"
    yield from xmlout.ip_set(fast_tokens(subscription), "    ")
    yield "  </RESPONSE>\n</IP_LIST_OUTPUT>\n"


def subscribed_ips(state: EmulatorState, params: dict[str, str], name: str) -> IPSet | None:
    """Parse an IP list that must lie inside the subscription (1905 otherwise)."""
    ips = ip_set(params, name)
    if ips is not None and ips - state.subscription:
        raise ApiError(400, 1905, "IP(s) do not exist.")
    return ips


def ip_add(state: EmulatorState, call: Call) -> Reply:
    params = call.params
    check_names(params, IP_ADD_PARAMS)
    require(params, "ips")
    modules = {name: flag(params, name) for name in MODULE_FLAGS}
    if not any(modules.values()):
        raise ApiError(
            400,
            1922,
            "At least one of these parameters must be set to 1: " + ", ".join(MODULE_FLAGS),
        )
    tracking = params.get("tracking_method", "IP").strip()
    if tracking not in ("IP", "DNS", "NETBIOS"):
        raise invalid("tracking_method", tracking, "use IP, DNS or NETBIOS")
    ips = ip_set(params, "ips")
    assert ips is not None
    if ips.v6:
        first = next(ips.only(6).qualys_tokens())
        raise invalid("ips", first, "IPv6 hosts are added through IPv6 mapping records")
    placeholders = ips & IPV6_PLACEHOLDERS
    if placeholders and not state.ipv6_enabled:
        first = next(placeholders.qualys_tokens())
        raise invalid("ips", first, "IPv6 mapping addresses need IPv6 support in the subscription")

    with state.lock:
        group = None
        if params.get("ag_title"):
            group = state.group_by_title(params["ag_title"])
            if group is None:
                raise invalid("ag_title", params["ag_title"], "no asset group has this title")
        merged = state.subscription | ips
        if state.licence_limit is not None and merged.size > state.licence_limit:
            in_use = state.subscription.size
            raise ApiError(
                400,
                1905,
                f"Adding these IPs would exceed the IP limit of the subscription: "
                f"{in_use} in use, {merged.size - in_use} new, limit {state.licence_limit}.",
            )
        state.subscription = merged
        if group is not None:
            group.ips = group.ips | ips
        state.log_write("asset/ip add", params, call.user)
        state.save()
    if modules["enable_vm"]:
        return success(call, "IPs successfully added to Vulnerability Management")
    return success(call, "IPs successfully added to Policy Compliance")


# Asset groups --------------------------------------------------------------------

GROUP_LIST_PARAMS = {
    "action",
    "echo_request",
    "ids",
    "id_min",
    "id_max",
    "truncation_limit",
    "title",
    "show_attributes",
    "network_ids",
    "output_format",
}
GROUP_ADD_PARAMS = {"action", "echo_request", "title", "ips", "comments", "business_impact"}
GROUP_EDIT_PARAMS = {
    "action",
    "echo_request",
    "id",
    "set_title",
    "set_ips",
    "add_ips",
    "remove_ips",
    "set_comments",
    "set_business_impact",
}
GROUP_DELETE_PARAMS = {"action", "echo_request", "id"}
GROUP_ATTRIBUTES = (
    "ID",
    "TITLE",
    "NETWORK_ID",
    "LAST_UPDATE",
    "BUSINESS_IMPACT",
    "COMMENTS",
    "IP_SET",
)
GROUP_DEFAULT_ATTRIBUTES = ("ID", "TITLE", "NETWORK_ID", "IP_SET")
BUSINESS_IMPACTS = {"Critical", "High", "Medium", "Low", "Minor"}


def group_list(state: EmulatorState, call: Call) -> Reply:
    params = call.params
    check_names(params, GROUP_LIST_PARAMS)
    if params.get("output_format", "XML").upper() != "XML":
        raise invalid("output_format", params["output_format"], "the emulator writes XML only")
    if "network_ids" in params and _network_ids(params) - {0}:
        raise invalid("network_ids", params["network_ids"], "only the global network 0 exists")
    limit = truncation_limit(params, GROUP_PAGE_DEFAULT)
    ids = id_ranges(params, "ids")
    id_min = whole_number(params, "id_min", minimum=1) or 1
    id_max = whole_number(params, "id_max", minimum=1)
    title = params.get("title")
    attributes = _attributes(params)

    with state.lock:
        groups = sorted(
            (
                AssetGroup(g.id, g.title, g.ips, g.comments, g.business_impact, g.last_update)
                for g in state.asset_groups.values()
            ),
            key=lambda group: group.id,
        )
    selected = [
        group
        for group in groups
        if group.id >= id_min
        and (id_max is None or group.id <= id_max)
        and (ids is None or in_id_ranges(group.id, ids))
        and (title is None or group.title == title)
    ]
    next_id = None
    if limit and len(selected) > limit:
        next_id = selected[limit].id
        selected = selected[:limit]
    return Reply(200, _group_list_body(call, selected, attributes, limit, next_id))


def _attributes(params: dict[str, str]) -> tuple[str, ...]:
    raw = params.get("show_attributes")
    if raw is None:
        return GROUP_DEFAULT_ATTRIBUTES
    names = [name.strip().upper() for name in raw.split(",") if name.strip()]
    if names == ["ALL"]:
        return GROUP_ATTRIBUTES
    unknown = [name for name in names if name not in GROUP_ATTRIBUTES]
    if unknown or not names:
        raise invalid("show_attributes", raw, f"use ALL or a list of {', '.join(GROUP_ATTRIBUTES)}")
    return tuple(name for name in GROUP_ATTRIBUTES if name in names or name == "ID")


def _group_list_body(call, groups, attributes, limit, next_id) -> Iterator[str]:
    yield xmlout.prolog("ASSET_GROUP_LIST_OUTPUT")
    yield "<ASSET_GROUP_LIST_OUTPUT>\n"
    yield echo(call)
    yield "  <RESPONSE>\n"
    yield f"    <DATETIME>{xmlout.now_text()}</DATETIME>\n"
    if groups:
        yield "    <ASSET_GROUP_LIST>\n"
        for group in groups:
            yield "      <ASSET_GROUP>\n"
            yield f"        <ID>{group.id}</ID>\n"
            if "TITLE" in attributes:
                yield f"        <TITLE>{xmlout.cdata(group.title)}</TITLE>\n"
            if "NETWORK_ID" in attributes:
                yield "        <NETWORK_ID>0</NETWORK_ID>\n"
            if "LAST_UPDATE" in attributes and group.last_update:
                yield f"        <LAST_UPDATE>{xmlout.text(group.last_update)}</LAST_UPDATE>\n"
            if "BUSINESS_IMPACT" in attributes:
                impact = xmlout.cdata(group.business_impact)
                yield f"        <BUSINESS_IMPACT>{impact}</BUSINESS_IMPACT>\n"
            if "COMMENTS" in attributes and group.comments:
                yield f"        <COMMENTS>{xmlout.cdata(group.comments)}</COMMENTS>\n"
            if "IP_SET" in attributes:
                yield from xmlout.ip_set(fast_tokens(group.ips), "        ")
            yield "      </ASSET_GROUP>\n"
        yield "    </ASSET_GROUP_LIST>\n"
    if next_id is not None:
        yield xmlout.truncation_warning(limit, next_page_url(call, next_id))
    yield "  </RESPONSE>\n</ASSET_GROUP_LIST_OUTPUT>\n"


def _check_title(state: EmulatorState, name: str, title: str, own_id: int | None = None) -> str:
    if not title.strip():
        raise ApiError(400, 1903, f"Missing required parameter(s): {name}")
    if len(title) > TITLE_MAX_LENGTH:
        raise invalid(name, title[:40] + "…", f"longer than {TITLE_MAX_LENGTH} characters")
    existing = state.group_by_title(title)
    if existing is not None and existing.id != own_id:
        raise ApiError(
            400, 1905, f"Asset Group title '{title}' already exists. Please use a different title."
        )
    return title


def _business_impact(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and value not in BUSINESS_IMPACTS:
        raise invalid(name, value, f"use one of {', '.join(sorted(BUSINESS_IMPACTS))}")
    return value


def group_add(state: EmulatorState, call: Call) -> Reply:
    params = call.params
    check_names(params, GROUP_ADD_PARAMS)
    require(params, "title")
    title = params["title"]
    impact = _business_impact(params, "business_impact")
    with state.lock:
        _check_title(state, "title", title)
        ips = subscribed_ips(state, params, "ips") if params.get("ips", "").strip() else None
        group = AssetGroup(
            id=state.next_group_id(),
            title=title,
            ips=ips or IPSet(),
            comments=params.get("comments"),
            business_impact=impact or "High",
            last_update=xmlout.now_text(),
        )
        state.asset_groups[group.id] = group
        state.log_write("asset/group add", params, call.user)
        state.save()
    return success(call, "Asset Group successfully added.", [("ID", [group.id])])


def _group_for(state: EmulatorState, params: dict[str, str]) -> AssetGroup:
    raw = require(params, "id")
    if not raw.isdigit() or int(raw) not in state.asset_groups:
        raise invalid("id", raw, "no asset group has this ID")
    return state.asset_groups[int(raw)]


def group_edit(state: EmulatorState, call: Call) -> Reply:
    params = call.params
    check_names(params, GROUP_EDIT_PARAMS)
    changes = set(params) - {"action", "echo_request", "id"}
    if not changes:
        raise ApiError(
            400,
            1922,
            "At least one of these parameters is required: "
            + ", ".join(sorted(GROUP_EDIT_PARAMS - {"action", "echo_request", "id"})),
        )
    if "set_ips" in params and ("add_ips" in params or "remove_ips" in params):
        raise ApiError(400, 1904, "Only one of these parameters is allowed: set_ips, add_ips")
    if "set_ips" in params and not params["set_ips"].strip():
        raise invalid("set_ips", "(empty)", "an asset group IP list cannot be set to nothing")
    impact = _business_impact(params, "set_business_impact")
    with state.lock:
        group = _group_for(state, params)
        title = group.title
        if "set_title" in params:
            title = _check_title(state, "set_title", params["set_title"], own_id=group.id)
        ips = group.ips
        if "set_ips" in params:
            ips = subscribed_ips(state, params, "set_ips") or IPSet()
        if "add_ips" in params:
            ips = ips | (subscribed_ips(state, params, "add_ips") or IPSet())
        if "remove_ips" in params:
            ips = ips - (ip_set(params, "remove_ips") or IPSet())
        group.title = title
        group.ips = ips
        if "set_comments" in params:
            group.comments = params["set_comments"]
        if impact is not None:
            group.business_impact = impact
        group.last_update = xmlout.now_text()
        state.log_write("asset/group edit", params, call.user)
        state.save()
    return success(call, "Asset Group Updated Successfully")


def group_delete(state: EmulatorState, call: Call) -> Reply:
    params = call.params
    check_names(params, GROUP_DELETE_PARAMS)
    with state.lock:
        group = _group_for(state, params)
        del state.asset_groups[group.id]
        state.log_write("asset/group delete", params, call.user)
        state.save()
    return success(call, "Asset Group Deleted Successfully")


# IPv6 mapping records ------------------------------------------------------------

MAPPING_LIST_PARAMS = {
    "action",
    "echo_request",
    "id_min",
    "id_max",
    "ipv4_filter",
    "ipv6_network",
    "output_format",
    "truncation_limit",
}


def mapping_list(state: EmulatorState, call: Call) -> Reply:
    params = call.params
    check_names(params, MAPPING_LIST_PARAMS)
    output_format = params.get("output_format", "CSV").upper()
    if output_format not in ("CSV", "XML"):
        raise invalid("output_format", params["output_format"], "use CSV or XML")
    limit = truncation_limit(params, MAPPING_PAGE_DEFAULT)
    if "truncation_limit" in params and limit == 0:
        raise invalid("truncation_limit", "0", "use 1 to 1,000,000")
    id_min = whole_number(params, "id_min", minimum=1) or 1
    id_max = whole_number(params, "id_max", minimum=1)
    v4_filter = ip_set(params, "ipv4_filter")
    v6_filter = ip_set(params, "ipv6_network")
    with state.lock:
        mappings = sorted(state.mappings, key=lambda m: m.id)
    selected = [
        m
        for m in mappings
        if m.id >= id_min
        and (id_max is None or m.id <= id_max)
        and (v4_filter is None or m.v4 in v4_filter)
        and (v6_filter is None or m.v6 in v6_filter)
    ]
    next_id = None
    if len(selected) > limit:
        next_id = selected[limit].id
        selected = selected[:limit]
    if output_format == "CSV":
        return Reply(200, _mapping_csv(selected, next_id, call), content_type="text/csv")
    return Reply(200, _mapping_xml(selected, next_id, limit, call))


def _mapping_xml(mappings, next_id, limit, call) -> Iterator[str]:
    yield xmlout.prolog("IP_MAP_LIST_OUTPUT")
    yield "<IP_MAP_LIST_OUTPUT>\n"
    yield echo(call)
    yield "  <RESPONSE>\n"
    yield f"    <DATETIME>{xmlout.now_text()}</DATETIME>\n"
    if mappings:
        yield "    <IP_MAP_LIST>\n"
        for m in mappings:
            yield (
                f"      <IP_MAP>\n        <ID>{m.id}</ID>\n        <V4>{m.v4}</V4>\n"
                f"        <V6>{m.v6}</V6>\n      </IP_MAP>\n"
            )
        yield "    </IP_MAP_LIST>\n"
    if next_id is not None:
        yield xmlout.truncation_warning(limit, next_page_url(call, next_id))
    yield "  </RESPONSE>\n</IP_MAP_LIST_OUTPUT>\n"


def _mapping_csv(mappings, next_id, call) -> Iterator[str]:
    # NOTE: the real CSV layout was not seen; this header and footer are a guess.
    yield '"ID","IPV4","IPV6"\r\n'
    for m in mappings:
        yield f'"{m.id}","{m.v4}","{m.v6}"\r\n'
    if next_id is not None:
        yield f'"WARNING","1980","{next_page_url(call, next_id)}"\r\n'


MAPPING_ADD_PARAMS = {"action", "echo_request", "csv_data", "xml_data", "all_or_nothing"}
MAPPING_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _mapping_records(params: dict[str, str]) -> list[tuple[str, str]]:
    """Read ``(v4, v6)`` text pairs from ``csv_data`` (one ``V4,V6`` a line) or ``xml_data``."""
    if "csv_data" in params:
        records = []
        for line in params["csv_data"].splitlines():
            fields = [field.strip().strip('"') for field in line.split(",")]
            if not any(fields):
                continue
            if len(fields) != 2:
                raise invalid("csv_data", line, "each line must be V4,V6")
            if fields[0].upper() in ("V4", "IPV4"):
                continue
            records.append((fields[0], fields[1]))
        return records
    try:
        root = etree.fromstring(params["xml_data"].encode("utf-8"), MAPPING_XML_PARSER)
    except etree.XMLSyntaxError as error:
        raise invalid("xml_data", "(XML)", f"not well-formed: {error}") from None
    return [
        ((item.findtext("V4") or "").strip(), (item.findtext("V6") or "").strip())
        for item in root.iter("IP_MAP")
    ]


def _mapping_problem(state: EmulatorState, v4: str, v6: str, taken: set[str]) -> str | None:
    """Return why a mapping record cannot be added, or None."""
    try:
        version, value = parse_address(v4)
        v6_version, v6_value = parse_address(v6)
    except AddressError as error:
        return f"{error.value!r} is not an address"
    if version != 4 or not IPV6_PLACEHOLDERS.contains(4, value):
        return f"{v4} is not an IPv6 mapping address (0.0.0.1-0.254.255.255)"
    if v6_version != 6:
        return f"{v6} is not an IPv6 address"
    if not state.subscription.contains(4, value):
        return f"{v4} is not in the subscription"
    if v4 in taken or canonical_address(v6) in taken:
        return f"{v4} or {v6} already has a mapping record"
    return None


def mapping_add(state: EmulatorState, call: Call) -> Reply:
    params = call.params
    check_names(params, MAPPING_ADD_PARAMS)
    if "csv_data" in params and "xml_data" in params:
        raise ApiError(400, 1904, "Only one of these parameters is allowed: csv_data, xml_data")
    if not params.get("csv_data", "").strip() and not params.get("xml_data", "").strip():
        raise ApiError(400, 1903, "Missing required parameter(s): csv_data or xml_data")
    all_or_nothing = flag(params, "all_or_nothing")
    records = _mapping_records(params)
    with state.lock:
        if not state.ipv6_enabled:
            raise ApiError(400, 1905, "IPv6 mapping records are not enabled for this subscription.")
        taken = {m.v4 for m in state.mappings} | {m.v6 for m in state.mappings}
        accepted: list[Mapping] = []
        problems: list[str] = []
        next_id = max((m.id for m in state.mappings), default=0) + 1
        for v4, v6 in records:
            problem = _mapping_problem(state, v4, v6, taken)
            if problem is not None:
                problems.append(problem)
                continue
            mapping = Mapping(next_id, canonical_address(v4), canonical_address(v6))
            taken.update((mapping.v4, mapping.v6))
            accepted.append(mapping)
            next_id += 1
        if problems and all_or_nothing is not False:
            raise ApiError(400, 1905, f"No IPv6 mapping record was added: {problems[0]}.")
        state.mappings.extend(accepted)
        state.log_write("asset/ip/v4_v6 add", params, call.user)
        state.save()
    return success(
        call,
        f"{len(accepted)} IPv6 mapping record(s) added, {len(problems)} rejected.",
        [("REJECTED", problems)] if problems else None,
    )


# About ---------------------------------------------------------------------------


def about(state: EmulatorState, call: Call) -> Reply:
    body = (
        xmlout.prolog("ABOUT")
        + "<ABOUT>\n"
        + '  <API-VERSION MAJOR="2" MINOR="0" />\n'
        + "  <WEB-VERSION>emulator</WEB-VERSION>\n"
        + f"  <DATETIME>{xmlout.now_text()}</DATETIME>\n"
        + "</ABOUT>\n"
    )
    return Reply(200, body)


# Routing --------------------------------------------------------------------------

CALLS = {
    ("asset/host", "list"): host_list,
    ("asset/ip", "list"): ip_list,
    ("asset/ip", "add"): ip_add,
    ("asset/group", "list"): group_list,
    ("asset/group", "add"): group_add,
    ("asset/group", "edit"): group_edit,
    ("asset/group", "delete"): group_delete,
    ("asset/ip/v4_v6", "list"): mapping_list,
    ("asset/ip/v4_v6", "add"): mapping_add,
}


def dispatch(state: EmulatorState, call: Call) -> Reply:
    """Run the call named by endpoint and action, or raise the Qualys error for it."""
    if call.endpoint == "msp/about":
        return about(state, call)
    if not call.action:
        raise ApiError(400, 1903, "Missing required parameter(s): action")
    handler = CALLS.get((call.endpoint, call.action))
    if handler is None:
        raise invalid("action", call.action, f"not supported on {call.path}")
    # Checked here because list bodies read it while streaming, after the headers.
    flag(call.params, "echo_request")
    if call.action in WRITE_ACTIONS and call.method != "POST":
        raise ApiError(
            400,
            1908,
            f"HTTP method {call.method} is not allowed for action={call.action}. Use POST.",
        )
    return handler(state, call)
