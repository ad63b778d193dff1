"""Plain records returned by the Qualys client. No lxml objects leave the package."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lumeta_qualys.ipset import IPSet


@dataclass(frozen=True)
class SubscriptionList:
    """The subscription's IP list.

    ``ips`` is the set exactly as Qualys lists it, IPv6 placeholders
    (0.0.0.1-0.254.255.255) included; ``rejected`` contains the texts of
    IP and IP_RANGE elements that were not valid addresses or ranges.
    """

    ips: IPSet
    rejected: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IPv6Mapping:
    """One IPv6 mapping record: the placeholder IPv4 address ``v4`` scans stand for ``v6``."""

    id: int
    v4: str
    v6: str


@dataclass(frozen=True)
class AssetGroup:
    """An asset group; ``ips`` is empty when Qualys lists the group without an IP_SET."""

    id: int
    title: str
    ips: IPSet
    network_id: int | None = None


@dataclass(slots=True)
class ScannedHostRecord:
    """One host from the scanned-host list (``details=Basic``).

    Text fields are empty strings when Qualys leaves the element out;
    ``ip``/``ipv6`` are canonical address texts or ``None``. Not frozen: a
    frozen dataclass takes several times longer to build, which shows on
    host lists of hundreds of thousands of records.
    """

    id: int
    ip: str | None
    ipv6: str | None
    dns: str
    netbios: str
    os: str
    tracking_method: str
    last_vuln_scan: datetime | None
    network_id: int | None


@dataclass(frozen=True)
class SimpleReturn:
    """A SIMPLE_RETURN body without an error code: the reply to a write call."""

    text: str
    items: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ApiBudget:
    """Calls made by one client and the last Qualys limit headers it saw.

    ``rate_limit`` is ``None`` when Qualys sent no usable figure: absent, or
    "0" next to a concurrency limit, which Qualys sends when the concurrency
    limit, not the rate limit, stopped the call.
    """

    calls: int = 0
    rate_limit: int | None = None
    rate_remaining: int | None = None
    rate_window_seconds: int | None = None
    rate_to_wait_seconds: int | None = None
    concurrency_limit: int | None = None
    concurrency_running: int | None = None
    updated_at: datetime | None = None
    # Qualys counts calls per API. Per API path: the calls left in its window
    # and its limit, as its last reply gave them.
    by_api: dict[str, tuple[int, int | None]] = field(default_factory=dict)

    def lowest(self) -> tuple[str, int, int | None] | None:
        """Return the API with the fewest calls left, its calls left and its limit, or None."""
        if not self.by_api:
            return None
        path = min(self.by_api, key=lambda name: self.by_api[name][0])
        remaining, limit = self.by_api[path]
        return path, remaining, limit
