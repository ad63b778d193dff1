"""The Qualys VM API v2 client used by the sync, the settings page and the push.

Settings come in as arguments; no Django imports. Every call uses Basic
auth (no session, so nothing is left open when a sync fails), sends the
trailing slash, and returns records from ``records`` or raises an error from
``errors``. Values that cannot be parsed inside an otherwise good reply are
skipped and described in ``warnings``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

from lxml import etree

from integrations.qualys.errors import (
    InvalidRequest,
    MalformedResponse,
    QualysError,
    UnexpectedResponse,
)
from integrations.qualys.parsing import (
    Warning1980,
    host_records,
    ip_set_ranges,
    ipv6_mapping,
    parse_int,
    read_warning,
    text_of,
)
from integrations.qualys.records import (
    ApiBudget,
    AssetGroup,
    IPv6Mapping,
    ScannedHostRecord,
    SimpleReturn,
    SubscriptionList,
)
from integrations.qualys.transport import CallGuard, OpenResponse, Transport
from lumeta_qualys.ipset import AddressError, IPSet, IPSetBuilder

logger = logging.getLogger(__name__)

IP_PATH = "/api/2.0/fo/asset/ip/"
IP_MAP_PATH = "/api/2.0/fo/asset/ip/v4_v6/"
GROUP_PATH = "/api/2.0/fo/asset/group/"
HOST_LIST_VERSIONS = ("2.0", "3.0")
HOST_DETAILS = ("Basic", "Basic/AGs", "All", "All/AGs")
MAX_TRUNCATION_LIMIT = 1_000_000
MAX_TITLE_LENGTH = 255


@dataclass(frozen=True)
class ListShape:
    """The layout of a list reply: ``root/RESPONSE/container/record``."""

    root: str
    container: str
    records: frozenset[str]
    # Elements under RESPONSE that mean the reply has the wrong shape.
    forbidden: tuple[str, ...] = ()
    # Whether the list follows WARNING 1980 pages.
    paged: bool = True
    # Whether ``collect`` gets the records' texts instead of their elements.
    texts: bool = False


IP_LIST = ListShape(
    "IP_LIST_OUTPUT", "IP_SET", frozenset({"IP", "IP_RANGE"}), paged=False, texts=True
)
IP_MAP_LIST = ListShape("IP_MAP_LIST_OUTPUT", "IP_MAP_LIST", frozenset({"IP_MAP"}))
IP_RECORDS = frozenset({"IP", "IP_RANGE"})
ASSET_GROUP_LIST = ListShape(
    "ASSET_GROUP_LIST_OUTPUT", "ASSET_GROUP_LIST", frozenset({"ASSET_GROUP"})
)
HOST_LIST = ListShape("HOST_LIST_OUTPUT", "HOST_LIST", frozenset({"HOST"}), forbidden=("ID_SET",))
HOST_ID_SET = ListShape("HOST_LIST_OUTPUT", "ID_SET", frozenset({"ID", "ID_RANGE"}))
# Detailed warnings kept per client; later ones are only counted.
MAX_WARNINGS = 200


class QualysClient:
    """A client for the Qualys VM API v2 calls this product makes.

    ``budget`` contains the call count and the last limit headers seen;
    ``warnings`` lists, in plain English, the values that were skipped or
    cleaned in otherwise good replies since the client was made.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        ca_bundle: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        max_wait_seconds: int = 300,
        max_retries: int = 3,
        max_body_bytes: int = 4_000_000,
        host_list_version: str = "2.0",
        user_agent: str = "lumeta-qualys",
        call_guard: CallGuard | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if host_list_version not in HOST_LIST_VERSIONS:
            raise ValueError(
                f"Host list API version {host_list_version!r} is not supported; use "
                f"{' or '.join(HOST_LIST_VERSIONS)}."
            )
        if max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes must be at least 1024, not {max_body_bytes}.")
        self._transport = Transport(
            base_url,
            username,
            password,
            ca_bundle=ca_bundle,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_wait_seconds=max_wait_seconds,
            max_retries=max_retries,
            user_agent=user_agent,
            call_guard=call_guard,
            sleep=sleep,
        )
        self.max_body_bytes = max_body_bytes
        self.host_list_version = host_list_version
        self.warnings: list[str] = []
        self.suppressed_warnings = 0
        # Write calls sent, and those Qualys confirmed: a caller tells from them
        # whether Qualys may have changed, even when a later call failed.
        self.writes_sent = 0
        self.writes_confirmed = 0

    @property
    def budget(self) -> ApiBudget:
        return self._transport.budget

    def report_retries(self, callback: Callable[[str, int, int, float], None] | None) -> None:
        """Call ``callback(message, retry, retries, delay)`` before each retry of a failed call."""
        self._transport.on_retry = callback

    @property
    def host_list_path(self) -> str:
        return f"/api/{self.host_list_version}/fo/asset/host/"

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> QualysClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Warnings -------------------------------------------------------------

    def _warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            logger.warning("Qualys data: %s", message)
            self.warnings.append(message)
        else:
            self.suppressed_warnings += 1

    def _note_cleaning(self, response: OpenResponse, path: str) -> None:
        removed = response.stream.removed_control_bytes
        if removed:
            self._warn(
                f"{removed} control character(s) such as NUL were removed from the reply to "
                f"{path}, because XML does not allow them in text."
            )

    def _finish_warnings(self) -> None:
        """Add or update one closing line that counts the warnings past MAX_WARNINGS."""
        if not self.suppressed_warnings:
            return
        summary = (
            f"{self.suppressed_warnings} more values were skipped or cleaned; only the first "
            f"{MAX_WARNINGS} are listed."
        )
        logger.warning("Qualys data: %s", summary)
        if len(self.warnings) > MAX_WARNINGS:
            self.warnings[-1] = summary
        else:
            self.warnings.append(summary)

    # Credential check ----------------------------------------------------------

    def check_credentials(self) -> None:
        """Make one cheap call that needs valid credentials; raise the QualysError if it fails.

        The call is the host list with ``details=None&truncation_limit=1``: a
        documented v2 call under the same authentication as the sync, which
        returns at most one host ID. It counts against the host-list rate
        limit. Nothing is retried and no rate-limit wait is slept, so the
        settings page gets its result at once.
        """
        params = {"action": "list", "details": "None", "truncation_limit": "1"}
        with self._transport.open(
            "GET", self.host_list_path, params, expect=("HOST_LIST_OUTPUT",), retries=0
        ) as response:
            response.stream.read_all()

    # Subscription IP list ------------------------------------------------------

    def list_subscription(self) -> SubscriptionList:
        """Return the subscription's IP list as merged intervals.

        An IP or IP_RANGE that is not a valid address or range is left out,
        kept in ``rejected`` and described in ``warnings``; the rest loads. A
        reply without IP_SET is an empty subscription.
        """
        builder = IPSetBuilder()
        rejected: list[str] = []

        def collect(texts: list[str]) -> None:
            for error in builder.add_texts(texts):
                rejected.append(error.value.strip())
                self._warn(
                    f"Subscription IP list: {error.value!r} was skipped because it is "
                    f"not a valid address or range ({error.reason})."
                )

        for _ in self._pages(IP_PATH, {"action": "list"}, IP_LIST, collect):
            pass
        self._finish_warnings()
        ips = builder.build()
        return SubscriptionList(ips=ips, rejected=rejected)

    def list_ipv6_mappings(self) -> list[IPv6Mapping]:
        """Return the IPv6 mapping records (placeholder IPv4 address to IPv6 address)."""
        params = {
            "action": "list",
            "output_format": "xml",
            "truncation_limit": str(MAX_TRUNCATION_LIMIT),
        }
        mappings: list[IPv6Mapping] = []

        def collect(elements: list[etree._Element]) -> None:
            for element in elements:
                mapping = ipv6_mapping(element, self._warn)
                if mapping is not None:
                    mappings.append(mapping)

        for _ in self._pages(IP_MAP_PATH, params, IP_MAP_LIST, collect):
            pass
        self._finish_warnings()
        return mappings

    # Adding IPs ---------------------------------------------------------------

    def add_ips(self, ips: IPSet, *, enable_vm: bool = True) -> None:
        """Add IPv4 addresses to the subscription with VM enabled.

        The addresses go as merged ``a-b`` tokens in POST form bodies, one
        call per ``max_body_bytes`` of body. Qualys's IP list takes no IPv6
        text (IPv6 hosts are added as placeholders plus mapping records), so
        a set with IPv6 addresses raises ValueError before any call.
        """
        if not enable_vm:
            raise ValueError(
                "add_ips needs enable_vm: Qualys rejects an add with no module enabled."
            )
        if ips.v6:
            raise ValueError(
                f"{ips.size_v6} IPv6 address(es) cannot be added to the Qualys IP list; "
                "Qualys takes IPv6 hosts only as placeholders with IPv6 mapping records. "
                "Pass the IPv4 part with ips.only(4)."
            )
        base = {"action": "add", "enable_vm": "1"}
        for chunk in self._chunks(base, "ips", ips):
            self._write(IP_PATH, {**base, "ips": chunk})

    # Asset groups -------------------------------------------------------------

    def list_asset_groups(self, *, title: str | None = None) -> list[AssetGroup]:
        """Return asset groups, all or only those whose title is exactly ``title``."""
        params = {"action": "list"}
        if title is not None:
            params["title"] = title
        groups = self._list_groups(params)
        if title is not None:
            groups = [group for group in groups if group.title == title]
        return groups

    def find_asset_group_ids(self, title: str) -> list[int]:
        """Return the IDs of the asset groups whose title is exactly ``title``.

        Asks only for each group's ID and title (``show_attributes=ID,TITLE``),
        because a group that contains hundreds of thousands of ranges would
        otherwise be read and parsed only to learn its ID. A server that
        rejects the parameter is asked again without it.
        """
        params = {"action": "list", "title": title, "show_attributes": "ID,TITLE"}
        try:
            groups = self._list_groups(params)
        except InvalidRequest:
            groups = self._list_groups({"action": "list", "title": title})
        return [group.id for group in groups if group.title == title]

    def add_asset_group(self, title: str, ips: IPSet) -> int | None:
        """Create an asset group; return its ID, or ``None`` when Qualys gives none.

        When the IPs do not fit in one body, the group is created with the
        first chunk and the rest are added with edit calls; the ID is then
        looked up by title if the reply had none, and returned.
        """
        _check_title(title)
        base = {"action": "add", "title": title}
        chunks = list(self._chunks(base, "ips", ips))
        params = {**base, "ips": chunks[0]} if chunks else base
        reply = self._write(GROUP_PATH, params, idempotent=False)
        group_id = _reply_id(reply)
        if len(chunks) > 1:
            if group_id is None:
                group_id = self._group_id_by_title(title)
            for chunk in chunks[1:]:
                self._write(GROUP_PATH, {"action": "edit", "id": str(group_id), "add_ips": chunk})
        return group_id

    def edit_asset_group(
        self,
        group_id: int,
        *,
        set_ips: IPSet | None = None,
        add_ips: IPSet | None = None,
        remove_ips: IPSet | None = None,
    ) -> None:
        """Change an asset group's IPs.

        ``set_ips`` replaces the contents: the first chunk goes as ``set_ips``
        and later chunks as ``add_ips``. Qualys does not document what an
        empty ``set_ips`` does, so setting the empty set lists the group and
        sends ``remove_ips`` with its current contents. ``add_ips`` and
        ``remove_ips`` may be combined (adds first) but must not overlap.
        """
        if set_ips is None and add_ips is None and remove_ips is None:
            raise ValueError("edit_asset_group needs set_ips, add_ips or remove_ips.")
        if set_ips is not None and (add_ips is not None or remove_ips is not None):
            raise ValueError("set_ips cannot be combined with add_ips or remove_ips.")
        if add_ips is not None and remove_ips is not None and add_ips & remove_ips:
            raise ValueError(
                f"add_ips and remove_ips overlap ({add_ips & remove_ips!r}); the result "
                "would depend on the order of the calls."
            )
        base = {"action": "edit", "id": str(int(group_id))}

        if set_ips is not None:
            if not set_ips:
                current = self.asset_group_ips(group_id)
                for chunk in self._chunks(base, "remove_ips", current):
                    self._write(GROUP_PATH, {**base, "remove_ips": chunk})
                return
            for index, chunk in enumerate(self._chunks(base, "set_ips", set_ips)):
                field = "set_ips" if index == 0 else "add_ips"
                self._write(GROUP_PATH, {**base, field: chunk})
            return

        for field, ips in (("add_ips", add_ips), ("remove_ips", remove_ips)):
            if ips is None:
                continue
            for chunk in self._chunks(base, field, ips):
                self._write(GROUP_PATH, {**base, field: chunk})

    def delete_asset_group(self, group_id: int) -> None:
        """Delete an asset group."""
        self._write(GROUP_PATH, {"action": "delete", "id": str(int(group_id))}, idempotent=False)

    def _list_groups(self, params: dict[str, str]) -> list[AssetGroup]:
        groups: list[AssetGroup] = []

        def collect(elements: list[etree._Element]) -> None:
            for element in elements:
                group = self._asset_group(element)
                if group is not None:
                    groups.append(group)

        for _ in self._pages(GROUP_PATH, params, ASSET_GROUP_LIST, collect):
            pass
        self._finish_warnings()
        return groups

    def _asset_group(self, element: etree._Element) -> AssetGroup | None:
        id_text = text_of(element.find("ID"))
        group_id = parse_int(id_text)
        if group_id is None:
            self._warn(f"An asset group with ID {id_text!r} was skipped: the ID is not a number.")
            return None

        def reject(text: str, error: AddressError) -> None:
            self._warn(
                f"Asset group {group_id}: {error.value!r} was skipped because it is not a "
                f"valid address or range ({error.reason})."
            )

        title_element = element.find("TITLE")
        title = title_element.text or "" if title_element is not None else ""
        network_text = text_of(element.find("NETWORK_ID"))
        return AssetGroup(
            id=group_id,
            title=title,
            ips=IPSet.from_ranges(ip_set_ranges(element.find("IP_SET"), reject)),
            network_id=parse_int(network_text) if network_text else None,
        )

    def asset_group_ips(self, group_id: int) -> IPSet:
        """Return the IPs of one asset group, read as a stream.

        The group's IP and IP_RANGE elements are taken from its IP_SET a
        chunk at a time, as the subscription's IP list is, so a group of
        hundreds of thousands of ranges never sits in memory as one tree.
        The reply must hold that group and no other: a server that ignored
        ``ids`` would otherwise mix in the addresses of other groups.
        """
        path = GROUP_PATH
        params = {"action": "list", "ids": str(int(group_id))}
        builder = IPSetBuilder()
        found = False
        container: etree._Element | None = None

        def take(count: int) -> None:
            texts = _record_texts(container, count, IP_RECORDS)
            for error in builder.add_texts(texts):
                self._warn(
                    f"Asset group {group_id}: {error.value.strip()!r} was skipped because it "
                    f"is not a valid address or range ({error.reason})."
                )
            del container[:count]

        with self._transport.open(
            "GET", path, params, expect=(ASSET_GROUP_LIST.root,), tags=("ASSET_GROUP", "IP_SET")
        ) as response:
            for batch in response.stream.batches():
                for _, element in batch:
                    if element.tag == "ASSET_GROUP":
                        if found:
                            raise UnexpectedResponse(
                                f"Qualys listed more than one asset group for ids={group_id}, "
                                "so the group's addresses are unknown. Try again, and report "
                                "it to Qualys Support if it repeats."
                            )
                        found = True
                        continue
                    if element.tag != "IP_SET":
                        # The stream reports the root element too.
                        continue
                    if container is not None:
                        take(len(container))
                    # ID comes before IP_SET in each ASSET_GROUP, so it is parsed here.
                    listed_id = parse_int(text_of(element.getparent().find("ID")))
                    if listed_id != group_id:
                        raise UnexpectedResponse(
                            f"Qualys listed asset group {listed_id} when asked for group "
                            f"{group_id}, so the group's addresses are unknown. Try again."
                        )
                    container = element
                if container is not None and len(container) > 1:
                    take(len(container) - 1)
            if container is not None:
                take(len(container))
            self._note_cleaning(response, path)
        self._finish_warnings()
        if not found:
            raise InvalidRequest(
                f"Asset group {group_id} was not found in Qualys. It may have been deleted; "
                "run the sync again to recreate it."
            )
        return builder.build()

    def _group_id_by_title(self, title: str) -> int:
        ids = self.find_asset_group_ids(title)
        if len(ids) != 1:
            raise UnexpectedResponse(
                f"The asset group {title!r} was created but {len(ids)} groups have that "
                "title, so its ID is unknown. Check the asset groups in Qualys."
            )
        return ids[0]

    # Scanned hosts ----------------------------------------------------------

    def iter_scanned_hosts(
        self, *, page_size: int = 5000, details: str = "Basic"
    ) -> Iterator[ScannedHostRecord]:
        """Yield every scanned host, following the paging WARNING (code 1980) to the end.

        Hosts are yielded while each page is still being read. The iterator
        raises when a page fails, repeats or is cut short, so a partial list
        is never returned as complete. ``page_size`` is Qualys's
        ``truncation_limit`` (0 means everything in one reply).
        """
        if not 0 <= page_size <= MAX_TRUNCATION_LIMIT:
            raise ValueError(
                f"page_size {page_size} is out of range; use 0 to {MAX_TRUNCATION_LIMIT}."
            )
        if details not in HOST_DETAILS:
            raise ValueError(
                f"details={details!r} is not supported: the host list needs one of "
                f"{', '.join(HOST_DETAILS)} to include IP addresses."
            )
        params = {"action": "list", "details": details, "truncation_limit": str(page_size)}
        found: list[ScannedHostRecord] = []
        last_id: list[int] = []
        warn = self._warn

        def collect(elements: list[etree._Element]) -> None:
            found.extend(host_records(elements, warn))

        pages = self._pages(
            self.host_list_path,
            params,
            HOST_LIST,
            collect,
            resume_from=lambda: last_id[-1] if last_id else None,
        )
        for _ in pages:
            # A page that breaks off is resumed only from inside ``pages``,
            # after every record found so far has been yielded.
            yield from found
            if found:
                last_id[:] = [found[-1].id]
            found.clear()
        self._finish_warnings()

    def iter_host_ids(self, *, page_size: int = 0) -> Iterator[int]:
        """Yield the IDs of all scanned hosts (``details=None``), ranges expanded.

        ID_SET may hold single IDs and ``a-b`` ID ranges. This is a cheap
        count of the host list; it has no addresses.
        """
        if not 0 <= page_size <= MAX_TRUNCATION_LIMIT:
            raise ValueError(
                f"page_size {page_size} is out of range; use 0 to {MAX_TRUNCATION_LIMIT}."
            )
        params = {"action": "list", "details": "None", "truncation_limit": str(page_size)}
        found: list[int] = []

        def collect(elements: list[etree._Element]) -> None:
            for element in elements:
                found.extend(self._host_ids(element))

        for _ in self._pages(self.host_list_path, params, HOST_ID_SET, collect):
            yield from found
            found.clear()
        self._finish_warnings()

    def _host_ids(self, element: etree._Element) -> list[int]:
        text = text_of(element)
        first, _, last = text.partition("-")
        start = parse_int(first)
        end = parse_int(last) if last else start
        if start is None or end is None or end < start:
            self._warn(f"Host ID {text!r} was skipped because it is not a number or a range.")
            return []
        return list(range(start, end + 1))

    # Paging -------------------------------------------------------------------

    def _pages(
        self,
        path: str,
        params: dict[str, str],
        shape: ListShape,
        collect: Callable[[list[Any]], None],
        resume_from: Callable[[], int | None] | None = None,
    ) -> Iterator[None]:
        """Read every page of a list, passing its record elements to ``collect`` in batches.

        The generator yields after each batch, so a caller can pass records
        on while the page is still being read. The next page re-sends the
        caller's own parameters with the ``id_min`` read from the WARNING's URL.
        """
        page_params = dict(params)
        seen: set[str] = set()
        page = 1
        resumes = 0
        while True:
            progress = {"opened": False}
            try:
                warning = yield from self._read_page(path, page_params, shape, collect, progress)
            except QualysError as error:
                # A reply that breaks off after it started is resumed after the
                # last record passed on, because hosts come sorted by ID.
                delay = self._transport.retry_delay(error, resumes, self._transport.max_retries)
                if resume_from is None or not progress["opened"] or delay is None:
                    raise
                last_id = resume_from()
                if last_id is not None:
                    page_params["id_min"] = str(last_id + 1)
                # Recorded on the run: the list is complete, but it took a second read.
                self._warn(
                    f"Page {page} of {path} broke off ({error.message}); it was read again "
                    f"from id_min={page_params.get('id_min', '(start)')} after {delay:.0f} s, "
                    "after the last host already read, so no host was lost."
                )
                self._transport.sleep(delay)
                resumes += 1
                continue
            if warning is None:
                return
            if not shape.paged:
                raise UnexpectedResponse(
                    f"Qualys marked the reply to {path} as incomplete (code {warning.code}: "
                    f"{warning.text}), and this list has no pages. The list was not used; "
                    "try again later."
                )
            page_params["id_min"] = self._next_id_min(warning, path, page, seen)
            page += 1

    def _read_page(
        self,
        path: str,
        params: dict[str, str],
        shape: ListShape,
        collect: Callable[[list[Any]], None],
        progress: dict[str, bool],
    ) -> Generator[None, None, Warning1980 | None]:
        """Read one page, passing record elements to ``collect``; return its WARNING, if any.

        The parser reports start events only for the container, WARNING and
        the forbidden tags, not for each record. End events are not requested
        at all, because lxml then runs a handler at the end of every element.
        After each chunk, the complete records are taken from the container
        in one slice and deleted: every child but the last of an open
        element is complete, because XML opens a sibling only after the
        previous one has closed. The last record therefore waits for the
        next chunk, for a later child of RESPONSE to start (which happens
        only after the container has closed) or for the end of the document.
        """
        warning_element: etree._Element | None = None
        container: etree._Element | None = None
        tags = (shape.container, "WARNING", *shape.forbidden)
        with self._transport.open("GET", path, params, expect=(shape.root,), tags=tags) as response:
            progress["opened"] = True
            for batch in response.stream.batches():
                for _, element in batch:
                    if _parent_tag(element) != "RESPONSE":
                        continue
                    if container is not None:
                        self._take(container, len(container), shape, collect)
                        container = None
                    tag = element.tag
                    if tag == "WARNING":
                        warning_element = element
                    elif tag in shape.forbidden:
                        raise UnexpectedResponse(
                            f"Qualys returned host IDs only ({tag}) for {path}, without "
                            "addresses. The list was not used; check that the call asks "
                            "for details=Basic."
                        )
                    elif tag == shape.container:
                        container = element
                if container is not None and len(container) > 1:
                    self._take(container, len(container) - 1, shape, collect)
                yield
            # The document is complete here, and so are the container and WARNING.
            if container is not None:
                self._take(container, len(container), shape, collect)
                yield
            self._note_cleaning(response, path)
        return read_warning(warning_element) if warning_element is not None else None

    @staticmethod
    def _take(
        container: etree._Element,
        count: int,
        shape: ListShape,
        collect: Callable[[list[Any]], None],
    ) -> None:
        """Pass on the records among the first ``count`` children, then delete those children."""
        if shape.texts:
            collect(_record_texts(container, count, shape.records))
        else:
            collect(_records(container, count, shape.records))
        del container[:count]

    @staticmethod
    def _next_id_min(warning: Warning1980, path: str, page: int, seen: set[str]) -> str:
        if warning.code != "1980":
            raise UnexpectedResponse(
                f"Page {page} of {path} ended with Qualys warning {warning.code!r} "
                f"({warning.text}) instead of a paging warning. The list was not used; "
                "try again, and report the warning to Qualys Support if it repeats."
            )
        next_id = warning.next_id_min()
        if next_id is None or parse_int(next_id) is None:
            raise MalformedResponse(
                f"Page {page} of {path} is truncated but its WARNING URL has no numeric "
                f"id_min ({warning.url!r}), so the next page cannot be requested. The list "
                "was not used; try again later."
            )
        if next_id in seen:
            raise MalformedResponse(
                f"Page {page} of {path} points again at id_min={next_id}, a page already "
                "read; Qualys is repeating itself. The list was not used; try again later."
            )
        seen.add(next_id)
        return next_id

    # Writes -----------------------------------------------------------------

    def _write(self, path: str, params: dict[str, str], *, idempotent: bool = True) -> SimpleReturn:
        self.writes_sent += 1
        with self._transport.open(
            "POST", path, params, expect=("SIMPLE_RETURN",), idempotent=idempotent
        ) as response:
            if response.simple is None:
                raise UnexpectedResponse(
                    f"Qualys returned <{response.root_tag}> for the write call {path} "
                    "instead of SIMPLE_RETURN. Check the asset in Qualys before retrying."
                )
            self.writes_confirmed += 1
            return response.simple

    def _chunks(self, base: dict[str, str], field: str, ips: IPSet) -> Iterator[str]:
        """Yield comma-joined token lists whose form body stays within ``max_body_bytes``."""
        room = self.max_body_bytes - len(urlencode(base)) - len(f"&{field}=")
        chunk: list[str] = []
        size = 0
        for token in ips.qualys_tokens():
            # Form encoding leaves digits, "." and "-" as they are, so an
            # IPv4 token's encoded size is its length; IPv6 colons grow.
            token_size = len(quote_plus(token)) if ":" in token else len(token)
            if token_size > room:
                raise ValueError(
                    f"max_body_bytes {self.max_body_bytes} is too small for one IP token "
                    f"({token}); raise it."
                )
            separator = len(quote_plus(",")) if chunk else 0
            if chunk and size + separator + token_size > room:
                yield ",".join(chunk)
                chunk, size = [], 0
                separator = 0
            chunk.append(token)
            size += separator + token_size
        if chunk:
            yield ",".join(chunk)


def _records(
    container: etree._Element, count: int, records: frozenset[str]
) -> list[etree._Element]:
    """Return the record elements among the first ``count`` children of ``container``.

    ``iterchildren`` filters the tags in C, so children of other tags cost
    no Python object; a list can hold a million records.
    """
    elements = list(container.iterchildren(*records))
    beyond = sum(1 for child in container[count:] if child.tag in records)
    if beyond:
        del elements[-beyond:]
    return elements


def _record_texts(container: etree._Element, count: int, records: frozenset[str]) -> list[str]:
    """Return the texts of the records among the first ``count`` children, "" for none."""
    texts = [child.text or "" for child in container.iterchildren(*records)]
    beyond = sum(1 for child in container[count:] if child.tag in records)
    if beyond:
        del texts[-beyond:]
    return texts


def _parent_tag(element: etree._Element) -> str | None:
    parent = element.getparent()
    return parent.tag if parent is not None else None


def _reply_id(reply: SimpleReturn) -> int | None:
    for value in reply.items.get("ID", []):
        number = parse_int(value)
        if number is not None:
            return number
    return None


def _check_title(title: str) -> None:
    if not title or not title.strip():
        raise ValueError("An asset group title must not be empty.")
    if len(title) > MAX_TITLE_LENGTH:
        raise ValueError(
            f"The asset group title is {len(title)} characters long; Qualys allows at most "
            f"{MAX_TITLE_LENGTH}."
        )
