"""The sync: fetch S and M from Qualys, store them, push the gap. One service, named steps.

Steps, in order (each is a method and the name published as progress):

1. ``connect``: build the Qualys client from the settings.
2. ``fetch_subscription``: the subscription's IP list and IPv6 mapping records, as S.
3. ``fetch_scanned_hosts``: the scanned-host list, as M, spooled to a file.
4. ``load_inventory``: every indexed host, stale included, as I.
5. ``compute``: what to add and what the asset group should hold.
6. ``read_asset_group``: the asset group's ID and contents (skipped by a preview).
7. ``store``: replace the stored S and M in one transaction (skipped by a preview).
8. ``add_to_subscription``: Auto-Subscribe only, add I − S (skipped by a preview).
9. ``update_asset_group``: set the asset group (skipped by a preview).
10. ``record``: the run's counts and outcome.

Nothing is written to Qualys before every fetch and the store succeeded, so
a sync that fails early leaves Qualys, the stored tables and the dashboard as
they were. A write that fails after Qualys changed is followed by a re-read
of the subscription and the asset group, whose result is stored and recorded.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from socket import AF_INET, inet_pton
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings as django_settings
from django.utils import timezone

from inventory.models import Host
from lumeta_qualys.ipset import (
    EMPTY,
    IPV6_PLACEHOLDERS,
    AddressError,
    IPSet,
    address_key,
    format_address,
    merge,
    parse_address,
    parse_key,
)

from .. import constants
from ..fields import is_unreadable
from ..models import QualysSettings, SyncRun
from ..qualys import (
    AccountUnavailable,
    InvalidRequest,
    QualysClient,
    QualysError,
)
from . import store
from .lock import LockError, SyncLock
from .progress import Listener, ProgressReporter

logger = logging.getLogger(__name__)

# How many tokens, warnings and addresses a run's details keep for display.
DISPLAY_TOKENS = 200
MAX_WARNINGS = 100
SAMPLE_SIZE = 20
# The first sentence of a message: up to a full stop followed by a space or the end.
FIRST_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)", re.S)


COUNT_FIELDS = (
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


class SyncFailed(Exception):
    """The sync stopped; the message is shown to the user as it is."""


class NotConfigured(SyncFailed):
    """The integration lacks a server, username or password."""


UNREADABLE_PASSWORD = (
    "The stored Qualys password cannot be decrypted with CREDENTIALS_KEY: the key changed or "
    "was lost. Set CREDENTIALS_KEY to the key the password was saved with (several keys, "
    "separated by commas, are tried in turn), or enter the password again on Settings > "
    "Integrations > Qualys."
)


@dataclass
class Subscription:
    """S as this product counts it, with what Qualys lists.

    ``addresses`` has every IPv6 placeholder replaced by the IPv6 address its
    mapping record names. Placeholders with no mapping are in ``unmapped``
    and in no count. ``placeholder_of`` maps an IPv6 address (as an int) to
    its placeholder, so an asset group can be given the placeholder Qualys
    scans. ``address_of`` maps the placeholder of every mapping record, in S
    or not, to its IPv6 address.
    """

    listed: IPSet
    addresses: IPSet
    unmapped: IPSet
    placeholder_of: dict[int, int]
    rejected: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    address_of: dict[int, int] = field(default_factory=dict)
    # True when the mapping records were read with S: only when S lists placeholders.
    mappings_read: bool = True


@dataclass
class Plan:
    """The push plan: addresses to add to the subscription and the asset group's target contents."""

    to_add: IPSet
    not_pushable: IPSet
    group_target: IPSet


def build_client(qualys_settings: QualysSettings, *, call_guard=None) -> QualysClient:
    """Return a Qualys client for the saved settings."""
    if is_unreadable(qualys_settings.password):
        raise NotConfigured(UNREADABLE_PASSWORD)
    if not qualys_settings.is_configured:
        raise NotConfigured(
            "The Qualys integration is not configured: enter the API server, username and "
            "password on Settings > Integrations > Qualys."
        )
    server = qualys_settings.server.strip().rstrip("/")
    if "://" not in server:
        server = f"https://{server}"
    return QualysClient(
        server,
        qualys_settings.username,
        qualys_settings.password,
        ca_bundle=django_settings.QUALYS_CA_BUNDLE,
        connect_timeout=django_settings.QUALYS_CONNECT_TIMEOUT,
        read_timeout=django_settings.QUALYS_READ_TIMEOUT,
        max_wait_seconds=django_settings.QUALYS_MAX_WAIT_SECONDS,
        host_list_version=qualys_settings.host_list_version,
        call_guard=call_guard,
    )


def resolve_subscription(listing, mappings) -> Subscription:
    """Turn the IP list and the IPv6 mapping records into S.

    A placeholder counts as the IPv6 address it maps to only when the
    placeholder itself is in the subscription. A mapping record that does not
    parse is skipped with a warning.
    """
    placeholders = listing.ips & IPV6_PLACEHOLDERS
    placeholder_of: dict[int, int] = {}
    warnings: list[str] = []
    # A scanned host may be listed by a placeholder outside S (M ⊆ S does not
    # hold), so every record names an address for the host list.
    address_of = mapped_addresses(mappings, warnings)
    subscribed = {v4: v6 for v4, v6 in address_of.items() if placeholders.contains(4, v4)}
    for v4, v6 in subscribed.items():
        # The first placeholder of an address is the one an asset group is sent.
        placeholder_of.setdefault(v6, v4)

    uses = Counter(subscribed.values())
    shared = [v6 for v6, number in uses.items() if number > 1]
    for v6 in shared[:SAMPLE_SIZE]:
        others = sorted(v4 for v4, address in subscribed.items() if address == v6)
        warnings.append(
            f"{format_address(6, v6)} has {len(others)} placeholders in the subscription "
            f"({', '.join(format_address(4, v4) for v4 in others)}); it counts once, and an "
            f"asset group is sent {format_address(4, placeholder_of[v6])}."
        )
    mapped_v4 = IPSet.from_intervals(v4=[(v4, v4) for v4 in subscribed])
    mapped_v6 = IPSet.from_intervals(v6=[(v6, v6) for v6 in placeholder_of])
    return Subscription(
        listed=listing.ips,
        addresses=(listing.ips - IPV6_PLACEHOLDERS) | mapped_v6,
        unmapped=placeholders - mapped_v4,
        placeholder_of=placeholder_of,
        rejected=list(listing.rejected),
        warnings=warnings,
        address_of=address_of,
    )


def _placeholder_alone(record) -> bool:
    """Return whether a host-list record gives an IPv6 placeholder and no IPv6 address."""
    text = (record.ip or "").strip()
    # Every placeholder starts with "0.", so the check ends there for other hosts.
    if record.ipv6 or not text.startswith("0."):
        return False
    try:
        value = int.from_bytes(inet_pton(AF_INET, text), "big")
    except OSError:
        return False
    return IPV6_PLACEHOLDERS.contains(4, value)


def mapped_addresses(mappings, warnings: list[str]) -> dict[int, int]:
    """Return each IPv6 mapping record's placeholder and IPv6 address, as ints.

    A record that does not parse is skipped with a warning in ``warnings``.
    """
    address_of: dict[int, int] = {}
    for mapping in mappings:
        try:
            v4_version, v4 = parse_address(mapping.v4)
            v6_version, v6 = parse_address(mapping.v6)
        except AddressError as error:
            warnings.append(f"IPv6 mapping record {mapping.id} skipped: {error}")
            continue
        if v4_version != 4 or v6_version != 6:
            warnings.append(
                f"IPv6 mapping record {mapping.id} skipped: {mapping.v4} -> {mapping.v6} "
                "is not an IPv4 placeholder mapped to an IPv6 address"
            )
            continue
        address_of[v4] = v6
    return address_of


def plan_push(
    indexed: IPSet,
    subscription: Subscription,
    scanned: IPSet,
    *,
    auto_subscribe: bool,
    held_out: IPSet = EMPTY,
) -> Plan:
    """Compute what to add and the asset group's contents from I, S and M.

    Auto-Subscribe on: add the IPv4 part of I − S (IPv6 needs mapping records,
    which this product does not create, so it is reported as not pushable),
    less ``held_out`` (the stale hosts, when the settings leave them out);
    the group is S′ − M with S′ = S plus what is added. Off: nothing is added
    and the group is (I ∩ S) − M. The addresses that cannot be pushed are
    reported in both modes, so that a user who keeps Auto-Subscribe off
    still learns which indexed hosts it would never bring to Qualys.
    """
    missing = indexed - subscription.addresses
    # An indexed address in the placeholder range would be read by Qualys as
    # an IPv6 stand-in, so it is never added.
    not_pushable = missing.only(6) | (missing & IPV6_PLACEHOLDERS)
    if not auto_subscribe:
        return Plan(EMPTY, not_pushable, (indexed & subscription.addresses) - scanned)
    to_add = missing.only(4) - IPV6_PLACEHOLDERS - held_out
    return Plan(to_add, not_pushable, (subscription.addresses | to_add) - scanned)


def group_ips_for_qualys(target: IPSet, subscription: Subscription) -> IPSet:
    """Return the asset group's IPs as Qualys takes them: IPv6 addresses as their placeholders.

    IPv6 text that Qualys listed directly in the subscription (not through a
    mapping) is passed on as it is.
    """
    placeholders = [
        (v4, v4) for v6, v4 in subscription.placeholder_of.items() if target.contains(6, v6)
    ]
    mapped = IPSet.from_intervals(v6=[(v6, v6) for v6 in subscription.placeholder_of])
    return target.only(4) | IPSet.from_intervals(v4=placeholders) | (target.only(6) - mapped)


def load_inventory(hosts=None) -> IPSet:
    """Return I: every indexed host, stale included, as merged intervals.

    ``hosts`` reads a part of the inventory instead, such as its stale hosts.
    """
    hosts = Host.objects.all() if hosts is None else hosts
    intervals: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    current: list[int] | None = None  # [version, start, end] of the open interval
    for key in hosts.order_by("key").values_list("key", flat=True).iterator(10_000):
        version, value = parse_key(key)
        if current is not None and current[0] == version and current[2] + 1 == value:
            current[2] = value
            continue
        if current is not None:
            intervals[current[0]].append((current[1], current[2]))
        current = [version, value, value]
    if current is not None:
        intervals[current[0]].append((current[1], current[2]))
    return IPSet.from_intervals(intervals[4], intervals[6])


def sample(ips: IPSet, limit: int = SAMPLE_SIZE) -> list[str]:
    """Return up to ``limit`` range tokens of ``ips`` for display."""
    tokens = []
    for token in ips.qualys_tokens():
        if len(tokens) >= limit:
            break
        tokens.append(token)
    return tokens


def count(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value)


class SyncService:
    """One sync (or preview) of the integration, recorded on ``run``.

    ``lock`` is the lease this run holds; every write to Qualys checks it.
    ``client`` may be given (tests); by default it is built from the
    settings in the ``connect`` step.
    """

    def __init__(
        self,
        run: SyncRun,
        *,
        lock: SyncLock | None = None,
        client: QualysClient | None = None,
        listener: Listener | None = None,
        call_guard=None,
    ):
        self.run = run
        self.lock = lock
        self.client = client
        self.call_guard = call_guard
        self.progress = ProgressReporter(run, listener)
        self.warnings: list[str] = []
        # Where the warning of scanned hosts outside the subscription is in
        # ``warnings``, with its host count and examples, for rewording after an add.
        self.outside_warning: tuple[int, int, list[str]] | None = None
        self.done: list[str] = []
        self.not_done: list[str] = []
        # True when an add was sent but the subscription could not be read
        # again, so the group's target is not known.
        self.subscription_unknown = False
        self.details: dict[str, Any] = {}

    # The steps ---------------------------------------------------------------

    def run_sync(self) -> SyncRun:
        """Run every step and record the outcome; never raises for a failed sync."""
        run = self.run
        started = time.monotonic()
        logger.info(
            "Sync %s started (trigger %s%s)",
            run.pk,
            run.trigger,
            ", preview" if run.dry_run else "",
        )
        try:
            self._run_steps()
        except (SyncFailed, QualysError, LockError) as error:
            self._fail(str(error))
        except SoftTimeLimitExceeded:
            self._fail(
                "The sync ran longer than its time limit of "
                f"{django_settings.SYNC_SOFT_TIME_LIMIT} s (SYNC_SOFT_TIME_LIMIT) and was "
                "stopped. Raise SYNC_SOFT_TIME_LIMIT and SYNC_TIME_LIMIT."
            )
        except Exception as error:  # noqa: BLE001 - a sync failure is recorded, never lost
            logger.exception("Sync %s failed with an unexpected error", run.pk)
            self._fail(f"The sync failed with an unexpected error: {type(error).__name__}: {error}")
        else:
            run.status = SyncRun.Status.FAILED if self.not_done else SyncRun.Status.SUCCEEDED
        finally:
            if self.client is not None:
                self.client.close()
        self._record(time.monotonic() - started)
        return run

    def _run_steps(self) -> None:
        qualys_settings = QualysSettings.load()
        self.run.auto_subscribe = qualys_settings.auto_subscribe
        # What the run page shows beside Auto-Subscribe.
        self.details["add_settings"] = {
            "limit": qualys_settings.max_add_per_sync,
            "add_stale_hosts": qualys_settings.add_stale_hosts,
        }
        SyncRun.objects.filter(pk=self.run.pk).update(auto_subscribe=qualys_settings.auto_subscribe)

        self.connect(qualys_settings)
        subscription = self.fetch_subscription()
        with store.HostSpool() as spool:
            scanned = self.fetch_scanned_hosts(subscription, spool, qualys_settings.page_size)
            indexed = self.load_inventory()
            held_out = EMPTY
            if qualys_settings.auto_subscribe and not qualys_settings.add_stale_hosts:
                held_out = load_inventory(Host.objects.filter(stale=True))
            plan = self.compute(
                indexed, subscription, scanned, qualys_settings.auto_subscribe, held_out
            )
            if self.run.dry_run:
                self._count(indexed, subscription.addresses, scanned)
                limit = qualys_settings.max_add_per_sync
                if self._held_back(plan.to_add, limit):
                    self.warnings.append(
                        f"A sync would add none of the {plan.to_add.size:,} addresses and would "
                        f"fail: that is more than the Auto-Subscribe limit of {limit:,} per sync. "
                        "It would write nothing to Qualys, so the asset group would stay as it is."
                    )
                    # No group target: the sync it previews leaves the group alone.
                    self.details.pop("group", None)
                    self.run.group_size = None
                    self.run.group_ranges = ""
                    return
                # A preview reads the group as a sync would, and counts the change.
                self._count_group_changes(
                    group_ips_for_qualys(plan.group_target, subscription),
                    self.read_asset_group(),
                )
                return
            group = None
            if not over_limit(plan.to_add, qualys_settings.max_add_per_sync):
                # A sync that the limit holds back leaves the group alone.
                group = self.read_asset_group()
            self.store(subscription, spool, scanned)

        subscribed_before = subscription.addresses
        subscription = self.add_to_subscription(
            plan, subscription, scanned, limit=qualys_settings.max_add_per_sync
        )
        if subscription.addresses != subscribed_before:
            self._recount_outside(scanned, subscribed_before, subscription.addresses)
        if not qualys_settings.auto_subscribe:
            target = plan.group_target
        else:
            target = subscription.addresses - scanned
        self._count(indexed, subscription.addresses, scanned)
        if self.subscription_unknown:
            self.not_done.append("The asset group was not updated.")
            return
        if self.details["add"].get("held_back"):
            # The limit guards the licence against a mistaken import. A sync it
            # stops writes nothing, so that its failure means Qualys is as it was.
            self.not_done.append(
                "The asset group was left as it is: a sync whose add the limit holds back "
                "writes nothing to Qualys."
            )
            return
        # After a failed add the group still follows the subscription as
        # Qualys lists it, so that an add that keeps failing (a full licence)
        # does not also freeze the group.
        self.update_asset_group(target, subscription, group)

    def connect(self, qualys_settings: QualysSettings) -> None:
        self.progress.step("connect")
        if self.client is None:
            self.client = build_client(qualys_settings, call_guard=self.call_guard)
        self.client.report_retries(self._retrying)

    def _retrying(self, message: str, retry: int, retries: int, delay: float) -> None:
        """Show on the run's progress that a Qualys call failed and is tried again.

        Only the message's first sentence is shown: the rest advises what to
        do, and the sync is doing it.
        """
        self.progress.update(
            retry=f"A Qualys call failed and is tried again in {delay:.0f} s "
            f"(retry {retry} of {retries}): {first_sentence(message)}"
        )

    def fetch_subscription(self) -> Subscription:
        self.progress.step("fetch_subscription")
        subscription = self._read_subscription()
        self.progress.update(subscribed=str(subscription.addresses.size))
        return subscription

    def _read_subscription(self) -> Subscription:
        listing = self.client.list_subscription()
        subscription = resolve_subscription(listing, self._read_ipv6_mappings(listing.ips))
        subscription.mappings_read = bool(listing.ips & IPV6_PLACEHOLDERS)
        # The client lists rejected entries in its own warnings, merged at the end.
        self.warnings.extend(subscription.warnings)
        return subscription

    def _read_ipv6_mappings(self, listed: IPSet) -> list:
        """Read the IPv6 mapping records, only when the subscription lists placeholders.

        Most subscriptions have no IPv6 feature, and the mapping list is open
        to Managers only, so a subscription without placeholders costs no call
        and a refused call leaves the placeholders unmapped with a warning
        instead of failing the sync.
        """
        if not listed & IPV6_PLACEHOLDERS:
            return []
        try:
            return self.client.list_ipv6_mappings()
        except (InvalidRequest, AccountUnavailable) as error:
            self.warnings.append(
                f"The IPv6 mapping records could not be read ({error}); the subscription's IPv6 "
                "placeholders are counted as unmapped. Give the API user the Manager role to "
                "count the IPv6 addresses they stand for."
            )
            return []

    def _scanned_records(self, subscription: Subscription, page_size: int) -> Iterator:
        """Yield the host list's records; those listed by a placeholder alone come last.

        When S lists no placeholder, its mapping records were not read. Such
        hosts then wait for the end of the host list, whose page keeps a
        Qualys call slot while it is read, and one more call reads the records
        for all of them.
        """
        waiting = []
        for record in self.client.iter_scanned_hosts(page_size=page_size, details="Basic"):
            if not subscription.mappings_read and _placeholder_alone(record):
                waiting.append(record)
                continue
            yield record
        if waiting:
            subscription.address_of.update(self._late_mappings())
            subscription.mappings_read = True
            yield from waiting

    def _late_mappings(self) -> dict[int, int]:
        """Read the IPv6 mapping records for the hosts listed by a placeholder alone."""
        try:
            mappings = self.client.list_ipv6_mappings()
        except (InvalidRequest, AccountUnavailable) as error:
            self.warnings.append(
                f"The IPv6 mapping records could not be read ({error}); scanned hosts listed by "
                "an IPv6 placeholder alone count as hosts without an address. Give the API "
                "user the Manager role to count the IPv6 addresses they stand for."
            )
            return {}
        return mapped_addresses(mappings, self.warnings)

    def fetch_scanned_hosts(
        self, subscription: Subscription, spool: store.HostSpool, page_size: int
    ) -> IPSet:
        """Read every scanned host into ``spool`` and return M as addresses."""
        self.progress.step("fetch_scanned_hosts", hosts_read=0)
        v4: list[int] = []
        v6: list[int] = []
        no_address: list[int] = []
        outside: list[str] = []
        outside_count = 0
        s = subscription.addresses
        mapped_to = subscription.address_of

        for record in self._scanned_records(subscription, page_size):
            ipv4_text, ipv4_key, v4_value = self._address(record.ip, 4, record.id)
            ipv6_text, ipv6_key, v6_value = self._address(record.ipv6, 6, record.id)
            if v4_value is not None and IPV6_PLACEHOLDERS.contains(4, v4_value):
                # A placeholder stands for the host's IPv6 address, never for an
                # IPv4 host. A host listed by its placeholder alone is the IPv6
                # address that the placeholder's mapping record names.
                if v6_value is None and v4_value in mapped_to:
                    v6_value = mapped_to[v4_value]
                    ipv6_text = format_address(6, v6_value)
                    ipv6_key = address_key(6, v6_value)
                ipv4_key, v4_value = "", None
            if v4_value is not None:
                v4.append(v4_value)
            if v6_value is not None:
                v6.append(v6_value)
            if v4_value is None and v6_value is None:
                no_address.append(record.id)
            elif v4_value is not None and not s.contains(4, v4_value):
                outside_count += 1
                # A host listed in several networks is one example.
                if len(outside) < SAMPLE_SIZE and ipv4_text not in outside:
                    outside.append(ipv4_text)
            elif v6_value is not None and not s.contains(6, v6_value):
                # The host's IPv4 address may be subscribed: name the one that is not.
                outside_count += 1
                if len(outside) < SAMPLE_SIZE and ipv6_text not in outside:
                    outside.append(ipv6_text)

            spool.append(
                (
                    record.id,
                    ipv4_text,
                    ipv4_key,
                    ipv6_text,
                    ipv6_key,
                    store.truncate(record.dns or "", "dns"),
                    store.truncate(record.netbios or "", "netbios"),
                    store.truncate(record.os or "", "os"),
                    store.truncate(record.tracking_method or "", "tracking_method"),
                    record.last_vuln_scan,
                    record.network_id,
                )
            )
            self.progress.hosts(spool.count)

        self._note_odd_hosts(no_address, outside_count, outside)
        scanned = IPSet(tuple(merge((v, v) for v in v4)), tuple(merge((v, v) for v in v6)))
        self.progress.update(hosts_read=spool.count, scanned=str(scanned.size))
        self.details["scanned_hosts"] = spool.count
        return scanned

    def _address(self, text: str | None, version: int, host_id: int) -> tuple[str, str, int | None]:
        """Return ``(canonical text, key, value)`` of a host's address, or blanks."""
        if not text:
            return "", "", None
        if version == 4:
            # The client passes on canonical dotted quads, and inet_pton reads
            # them several times faster than parse_address. Other text, such as
            # an IPv6 address in the IPv4 field, takes parse_address for its warning.
            try:
                value = int.from_bytes(inet_pton(AF_INET, text), "big")
            except (OSError, ValueError):
                pass
            else:
                return text, address_key(4, value), value
        try:
            parsed_version, value = parse_address(text)
        except AddressError as error:
            self.warnings.append(f"Scanned host {host_id}: address skipped: {error}")
            return "", "", None
        if parsed_version != version:
            self.warnings.append(
                f"Scanned host {host_id}: {text!r} given as IPv{version} is an IPv{parsed_version} "
                "address; it was skipped."
            )
            return "", "", None
        # An IPv4 text that parses is canonical once stripped (leading zeros are
        # rejected), which saves formatting half a million addresses again.
        canonical = text.strip() if version == 4 else format_address(version, value)
        return canonical, address_key(version, value), value

    def _note_odd_hosts(
        self, no_address: list[int], outside_count: int, outside: list[str]
    ) -> None:
        if no_address:
            hosts = (
                "1 scanned host has"
                if len(no_address) == 1
                else f"{len(no_address):,} scanned hosts have"
            )
            ids = ", ".join(map(str, no_address[:SAMPLE_SIZE]))
            message = (
                f"{hosts} no IP address (or only an IPv6 placeholder without a mapping record) "
                f"and {'was' if len(no_address) == 1 else 'were'} left out of M "
                f"(Qualys host {'ID' if len(no_address) == 1 else 'IDs'} {ids})."
            )
            self.warnings.append(message)
            logger.warning("Sync %s: %s", self.run.pk, message)
        if outside_count:
            single = outside_count == 1
            hosts = "1 scanned host is" if single else f"{outside_count:,} scanned hosts are"
            message = (
                f"{hosts} outside the subscription (for example {', '.join(outside[:5])}); "
                f"{'it still counts' if single else 'they still count'} in M."
            )
            self.outside_warning = (len(self.warnings), outside_count, outside[:5])
            self.warnings.append(message)
            logger.warning("Sync %s: %s", self.run.pk, message)
        self.details["scanned_outside_subscription"] = outside_count
        self.details["scanned_without_address"] = len(no_address)

    def _recount_outside(self, scanned: IPSet, before: IPSet, after: IPSet) -> None:
        """Reword the warning of scanned hosts outside the subscription after this sync's add.

        The hosts were counted against the subscription as this sync read it
        (``before``), and the add may have subscribed those of them that are
        in I. The subscription read again is ``after``.
        """
        if self.outside_warning is None:
            return
        index, outside_count, examples = self.outside_warning
        was_outside = (scanned - before).size
        remaining = scanned - after
        if remaining.size == was_outside:
            # The add took in none of them, so the warning stays as it was.
            return
        single = outside_count == 1
        hosts = "1 scanned host was" if single else f"{outside_count:,} scanned hosts were"
        message = (
            f"{hosts} outside the subscription when this sync read it (for example "
            f"{', '.join(examples)}). "
        )
        if not remaining:
            message += (
                f"This sync's add subscribed {'it' if single else 'all of them'}. "
                f"{'It counts' if single else 'They count'} in M."
            )
        else:
            still = [text for text in examples if remaining.contains(*parse_address(text))]
            message += (
                f"This sync's add subscribed {was_outside - remaining.size:,} of their "
                f"addresses, and {_addresses(remaining.size)} of M "
                f"{'is' if remaining.size == 1 else 'are'} still outside it"
                + (f" (for example {', '.join(still)})" if still else "")
                + ". They count in M."
            )
        self.warnings[index] = message
        self.details["scanned_outside_after_add"] = str(remaining.size)

    def load_inventory(self) -> IPSet:
        self.progress.step("load_inventory")
        indexed = load_inventory()
        self.progress.update(indexed=str(indexed.size))
        return indexed

    def compute(
        self,
        indexed: IPSet,
        subscription: Subscription,
        scanned: IPSet,
        auto_subscribe: bool,
        held_out: IPSet = EMPTY,
    ) -> Plan:
        self.progress.step("compute")
        plan = plan_push(
            indexed, subscription, scanned, auto_subscribe=auto_subscribe, held_out=held_out
        )
        stale_outside = (held_out - subscription.addresses).only(4).size
        self.details["stale_held_out"] = stale_outside
        if stale_outside:
            self.warnings.append(
                f"{stale_outside:,} stale indexed IPv4 "
                f"{'address was' if stale_outside == 1 else 'addresses were'} left out of the "
                "add to the subscription, because the setting Add stale hosts is off."
            )
        if subscription.unmapped:
            unmapped = subscription.unmapped.size
            placeholders = (
                "1 IPv6 placeholder in the subscription has no mapping record and counts"
                if unmapped == 1
                else f"{unmapped:,} IPv6 placeholders in the subscription have no mapping record "
                "and count"
            )
            message = (
                f"{placeholders} as no address (for example "
                f"{', '.join(sample(subscription.unmapped, 5))})."
            )
            self.warnings.append(message)
            logger.warning("Sync %s: %s", self.run.pk, message)
        self.details["unmapped_placeholders"] = subscription.unmapped.size
        self.details["unmapped_placeholders_sample"] = sample(subscription.unmapped)
        self.details["not_pushable_sample"] = sample(plan.not_pushable)
        self.run.ipv6_not_pushable = count(plan.not_pushable.size)
        if plan.not_pushable:
            size = plan.not_pushable.size
            logger.warning(
                "Sync %s: %s indexed IPv6 %s outside the subscription cannot be added to it",
                self.run.pk,
                f"{size:,}",
                "address" if size == 1 else "addresses",
            )
        if self.run.dry_run:
            self._describe_add(plan.to_add)
            self._describe_group(plan.group_target)
        return plan

    def store(
        self, subscription: Subscription, spool: store.HostSpool, scanned: IPSet | None = None
    ) -> None:
        self.progress.step("store")
        store.replace_qualys_tables(subscription.addresses, spool, scanned)

    def add_to_subscription(
        self,
        plan: Plan,
        subscription: Subscription,
        scanned: IPSet | None = None,
        *,
        limit: int = 0,
    ) -> Subscription:
        """Add ``plan.to_add`` and return the subscription as Qualys stores it afterwards.

        With ``limit`` above 0, more than ``limit`` addresses to add are held
        back whole: nothing is added and the run fails, saying so. Sets
        ``subscription_unknown`` when the subscription cannot be read again
        after an add.
        """
        self._describe_add(plan.to_add)
        if not plan.to_add:
            self.run.ips_added = count(0)
            return subscription
        if self._held_back(plan.to_add, limit):
            self.run.ips_added = count(0)
            self.not_done.append(
                f"{plan.to_add.size:,} addresses were not added to the subscription: that is "
                f"more than the Auto-Subscribe limit of {limit:,} per sync. Check the indexed "
                "hosts outside the subscription (I − S), then raise the limit on Settings > "
                "Integrations > Qualys, or set it to 0, to add them."
            )
            logger.warning(
                "Sync %s: %s addresses to add exceed the limit of %s; none added",
                self.run.pk,
                plan.to_add.size,
                limit,
            )
            return subscription
        self.progress.step("add_to_subscription", adding=str(plan.to_add.size))
        self._check_lock()

        failure: QualysError | None = None
        try:
            self.client.add_ips(plan.to_add, enable_vm=True)
        except QualysError as error:
            self.details["add"]["failed"] = True
            failure = error

        self.progress.step("reread_subscription")
        try:
            updated = self._read_subscription()
        except QualysError as error:
            if failure is not None:
                self.not_done.append(
                    f"Adding {_addresses(plan.to_add.size)} to the subscription failed: {failure}"
                )
            else:
                # Every call of the add returned success, so Qualys accepted
                # the addresses, though the subscription cannot confirm it now.
                self.run.ips_added = count(plan.to_add.size)
                self.details["add"]["unconfirmed"] = True
                self._wrote(
                    f"Added {_addresses(plan.to_add.size)} to the subscription: Qualys accepted "
                    "the add, and the next sync reads the subscription to confirm it."
                )
            self.subscription_unknown = True
            self.not_done.append(
                f"The subscription could not be read again after the add: {error} "
                "The stored subscription is the one read before the add; "
                "the next sync reads it again."
            )
            return subscription

        added = updated.addresses - subscription.addresses
        self.run.ips_added = count(added.size)
        if added:
            self._wrote(f"Added {_addresses(added.size)} to the subscription.")
        missing = plan.to_add - updated.addresses
        if failure is not None and not missing:
            # The reply failed (a timeout, a dropped connection) after Qualys
            # had stored every address: the add is done.
            self.details["add"]["failed"] = False
            self.warnings.append(
                f"Adding {_addresses(plan.to_add.size)} to the subscription reported an error, "
                "but the subscription read again holds every one of them, so nothing needs "
                f"doing: {first_sentence(str(failure))}"
            )
        elif failure is not None:
            # The client adds a large set in several calls, and the calls before
            # the failed one have landed: report how many, as the subscription shows.
            landed = plan.to_add.size - missing.size
            self.details["add"]["landed"] = str(landed)
            if landed:
                done = "1 of them was added" if landed == 1 else f"{landed:,} of them were added"
                rest = "one was" if missing.size == 1 else f"{missing.size:,} were"
                outcome = f"after {done}; the other {rest} not"
            else:
                outcome = "and none of them was added"
            self.not_done.append(
                f"Adding {_addresses(plan.to_add.size)} to the subscription failed {outcome}: "
                f"{failure}"
            )
        elif missing:
            self.warnings.append(
                f"{_addresses(missing.size)} sent to the subscription "
                f"{'is' if missing.size == 1 else 'are'} not in it after the add "
                f"(for example {', '.join(sample(missing, 5))})."
            )
        if updated.addresses != subscription.addresses:
            store.replace_subscription(updated.addresses, subscription.addresses, scanned)
        return updated

    def read_asset_group(self) -> tuple[int, IPSet] | None:
        """Return the asset group's ID and addresses, or None when it does not exist.

        Read with the other fetches, before anything is written, so that a
        group that cannot be read fails the sync with Qualys as it was.
        """
        self.progress.step("read_asset_group")
        try:
            return self._find_group()
        except QualysError as error:
            raise SyncFailed(
                f"Reading the asset group {constants.ASSET_GROUP_TITLE} failed, so nothing was "
                f"written to Qualys: {error}"
            ) from error

    def _count_group_changes(self, ips: IPSet, group: tuple[int, IPSet] | None) -> None:
        """Record what setting the group to ``ips`` would add to it and remove from it."""
        if group is None:
            self.details["group_changes"] = {"created": True}
            return
        current = group[1]
        self.details["group_changes"] = {
            "added": str((ips - current).size),
            "removed": str((current - ips).size),
        }

    def update_asset_group(
        self, target: IPSet, subscription: Subscription, group: tuple[int, IPSet] | None
    ) -> None:
        """Create the asset group or bring its contents, ``group`` as read, to ``target``.

        For an existing group only the difference is sent: first
        ``add_ips`` with what it lacks, then ``remove_ips`` with what it has
        beyond the target. A large ``set_ips`` takes several calls, the first
        of which replaces the contents, so a failure after it would leave part
        of the target and none of the earlier contents. In this order a failed
        call leaves the earlier contents, or the whole target beside some of
        them: never fewer of the hosts to scan. A group that already contains
        the target is not written at all.
        """
        self.progress.step("update_asset_group", group_size=str(target.size))
        self._describe_group(target)
        self._check_lock()
        ips = group_ips_for_qualys(target, subscription)
        title = constants.ASSET_GROUP_TITLE
        writes_before = self.client.writes_sent
        try:
            if group is None:
                group_id = self.client.add_asset_group(title, ips)
                self._wrote(f"Created the asset group {title} with {_addresses(target.size)}.")
                self.details["group_created"] = True
            else:
                group_id, current = group
                to_add, to_remove = ips - current, current - ips
                if to_add or to_remove:
                    self.client.edit_asset_group(
                        group_id, add_ips=to_add or None, remove_ips=to_remove or None
                    )
                    self._wrote(
                        f"Set the asset group {title} to {_addresses(target.size)}: "
                        f"{_addresses(to_add.size)} added to it, {_addresses(to_remove.size)} "
                        "removed."
                    )
                else:
                    self.done.append(
                        f"The asset group {title} already held the {_addresses(target.size)}; "
                        "it was left as it was."
                    )
                self.details["group_changes"] = {
                    "added": str(to_add.size),
                    "removed": str(to_remove.size),
                }
            self.details["group_id"] = group_id
            self.run.group_size = count(target.size)
        except QualysError as error:
            if not self._group_holds(ips, error, title):
                return
            self.run.group_size = count(target.size)
            reason = first_sentence(str(error))
            if self.client.writes_sent == writes_before:
                # The write failed before it was sent.
                self.warnings.append(
                    f"Updating the asset group {title} failed before anything was sent, but "
                    f"reading it again showed that it holds its target: {reason}"
                )
                self.done.append(
                    f"The asset group {title} already held the {_addresses(target.size)}, as "
                    "reading it again showed; it was left as it was."
                )
                return
            # The write landed although its reply failed, so the group is done.
            self.warnings.append(
                f"Updating the asset group {title} reported an error, but the group read "
                f"again holds its target, so nothing needs doing: {reason}"
            )
            self._wrote(
                f"Set the asset group {title} to {_addresses(target.size)}, as reading it "
                "again showed."
            )

    def _find_group(self) -> tuple[int, IPSet] | None:
        """Return the asset group's ID and addresses, or None when it does not exist.

        The lookup requests IDs and titles only, and the addresses are then
        read as a stream, so a group of a million addresses builds no tree.
        """
        found = self.client.find_asset_group_ids(constants.ASSET_GROUP_TITLE)
        if not found:
            return None
        return found[0], self.client.asset_group_ips(found[0])

    def _group_holds(self, ips: IPSet, update_error: QualysError, title: str) -> bool:
        """Read the group again after a failed update; return whether it equals ``ips``.

        Otherwise the failure, and how far the group is from ``ips``, are
        recorded as not done.
        """
        failed = f"Updating the asset group {title} failed: {update_error}"
        try:
            group = self._find_group()
        except QualysError as error:
            self.not_done.append(failed)
            if str(error) == str(update_error):
                self.not_done.append(
                    "The asset group could not be read again, for the same reason."
                )
            else:
                self.not_done.append(f"The asset group could not be read again: {error}")
            return False
        if group is None:
            self.details["group_held"] = None
            self.not_done.extend([failed, "Read again, the asset group does not exist."])
            return False
        current = group[1]
        lacking, beyond = ips - current, current - ips
        if not lacking and not beyond:
            return True
        self.details["group_held"] = current.size
        self.not_done.append(failed)
        parts = []
        if lacking:
            verb = "is" if lacking.size == 1 else "are"
            parts.append(f"{_addresses(lacking.size)} of the target {verb} missing")
        if beyond:
            verb = "is" if beyond.size == 1 else "are"
            parts.append(f"{_addresses(beyond.size)} beyond the target {verb} still in it")
        self.not_done.append(
            f"Read again, the asset group holds {_addresses(current.size)}: "
            f"{' and '.join(parts)}. The next sync completes the change."
        )
        return False

    # Helpers -----------------------------------------------------------------

    def _wrote(self, message: str) -> None:
        """Record ``message`` as done, for a step that changed what Qualys stores."""
        self.done.append(message)
        self.details["wrote"] = True

    def _check_lock(self) -> None:
        if self.lock is not None and self.lock.lost:
            raise SyncFailed(
                "The sync lock lapsed before Qualys was written to, so another sync may be "
                "running; nothing was written. The next sync starts over."
            )

    def _held_back(self, to_add: IPSet, limit: int) -> bool:
        """Return whether a ``limit`` above 0 holds back the add of ``to_add``, and record it."""
        if not over_limit(to_add, limit):
            return False
        self.details["add"]["held_back"] = True
        return True

    def _describe_add(self, to_add: IPSet) -> None:
        tokens = list(to_add.qualys_tokens())
        self.details["add"] = {
            "addresses": str(to_add.size),
            "ranges": len(tokens),
            "sample": tokens[:DISPLAY_TOKENS],
        }
        self.run.add_ranges = "\n".join(tokens)

    def _describe_group(self, target: IPSet) -> None:
        tokens = list(target.qualys_tokens())
        self.details["group"] = {
            "addresses": str(target.size),
            "ranges": len(tokens),
            "sample": tokens[:DISPLAY_TOKENS],
            # Qualys stores these in the group as their IPv4 placeholders (0.0.0.x).
            "ipv6": str(target.only(6).size),
        }
        self.run.group_ranges = "\n".join(tokens)
        if self.run.dry_run:
            # A real run records the size only once Qualys has taken the group.
            self.run.group_size = count(target.size)

    def _count(self, indexed: IPSet, subscribed: IPSet, scanned: IPSet) -> None:
        run = self.run
        run.indexed = count(indexed.size)
        run.subscribed = count(subscribed.size)
        run.scanned = count(scanned.size)
        run.unmanaged_by_qualys = count((indexed - subscribed).size)
        run.unmanaged_by_lumeta = count((scanned - indexed).size)
        run.managed_by_both = count((indexed & scanned).size)

    def _fail(self, message: str) -> None:
        self.run.status = SyncRun.Status.FAILED
        parts = [message]
        if self.done:
            parts.append("Done: " + " ".join(self.done))
        self.run.error = " ".join(parts)

    def _record(self, seconds: float) -> None:
        run = self.run
        self.progress.step("record")
        if self.client is not None and self.client.writes_confirmed:
            # A write Qualys confirmed, though a later step failed.
            self.details["wrote"] = True
        if self.not_done and not run.error:
            run.error = " ".join(self.not_done)
        if self.client is not None:
            budget = self.client.budget
            run.qualys_calls = budget.calls
            # The API closest to its limit is the one that holds up the next sync.
            # Without a calls-left figure from any API, the last limit seen is kept.
            lowest = budget.lowest()
            if lowest is not None:
                self.details["rate_limit_api"], remaining, limit = lowest
                run.rate_limit_remaining, run.rate_limit_limit = remaining, limit
            else:
                run.rate_limit_remaining = budget.rate_remaining
                run.rate_limit_limit = budget.rate_limit
            self.warnings = list(getattr(self.client, "warnings", [])) + self.warnings
        self.details.update(
            {
                "warnings": self.warnings[:MAX_WARNINGS],
                "warning_count": len(self.warnings),
                "done": self.done,
                "not_done": self.not_done,
            }
        )
        # NOTE: SQLite keeps 15 significant digits of a decimal column, so an
        # IPv6-sized count is also kept exactly, as text, in the details.
        self.details["counts"] = {
            name: str(getattr(run, name)) for name in COUNT_FIELDS if getattr(run, name) is not None
        }
        run.details = {**run.details, **self.details}
        run.finished_at = timezone.now()
        run.step = ""
        run.save()
        logger.info(
            "Sync %s %s in %.1f s: I=%s S=%s M=%s I-S=%s M-I=%s I&M=%s added=%s group=%s "
            "ipv6_not_pushable=%s calls=%s warnings=%s",
            run.pk,
            run.status,
            seconds,
            # "-" for a count the run did not reach, as in the summary.
            _n(run.indexed),
            _n(run.subscribed),
            _n(run.scanned),
            _n(run.unmanaged_by_qualys),
            _n(run.unmanaged_by_lumeta),
            _n(run.managed_by_both),
            _n(run.ips_added),
            _n(run.group_size),
            _n(run.ipv6_not_pushable),
            run.qualys_calls,
            len(self.warnings),
        )
        if run.error:
            logger.warning("Sync %s: %s", run.pk, run.error)


# The suffix of a preview's summary when the sync it previews would fail on the limit.
WOULD_FAIL_ON_LIMIT = "; a sync would fail: the add is over the Auto-Subscribe limit"


def first_sentence(message: str) -> str:
    """Return the first sentence of ``message``, which states what failed.

    The sentences after it advise what to do, which does not fit where the
    step succeeded after all or the sync retries by itself.
    """
    match = FIRST_SENTENCE.match(message)
    return match[1] if match else message


def summarize(run: SyncRun) -> str:
    """Return a one-line summary of a finished run, for logs and the command."""
    if run.status == SyncRun.Status.SKIPPED:
        return f"Sync {run.pk} skipped: {run.error}"
    parts = [
        f"Sync {run.pk} {run.get_status_display().lower()}{' (preview)' if run.dry_run else ''}"
        + (WOULD_FAIL_ON_LIMIT if run.dry_run and run.held_back else ""),
        f"I={_n(run.indexed)} S={_n(run.subscribed)} M={_n(run.scanned)}",
        f"I−S={_n(run.unmanaged_by_qualys)} M−I={_n(run.unmanaged_by_lumeta)} "
        f"I∩M={_n(run.managed_by_both)}",
        _added_part(run) + f"group={_n(run.group_size)} "
        f"IPv6 not pushable={_n(run.ipv6_not_pushable)}",
        f"Qualys calls={run.qualys_calls}",
    ]
    if run.error:
        parts.append(f"error: {run.error}")
    return "; ".join(parts)


def _added_part(run: SyncRun) -> str:
    """Return the summary's count of added addresses, with those the limit held back."""
    planned = (run.details.get("add") or {}).get("addresses", "-")
    if run.held_back:
        return f"{'would add' if run.dry_run else 'added'}=0 ({planned} held back) "
    return f"would add={planned} " if run.dry_run else f"added={_n(run.ips_added)} "


def over_limit(to_add: IPSet, limit: int) -> bool:
    """Return whether the Auto-Subscribe ``limit`` (0 for none) holds back the add of ``to_add``."""
    return bool(limit) and to_add.size > limit


def _addresses(size: int) -> str:
    """Return "1 address" or "12,345 addresses"."""
    return "1 address" if size == 1 else f"{size:,} addresses"


def _n(value: Decimal | int | None) -> str:
    return "-" if value is None else f"{int(value):,}"
