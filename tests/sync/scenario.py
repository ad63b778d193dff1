"""One small subscription used by several sync tests, with its expected sets worked out by hand.

S as Qualys lists it: 192.0.2.1, 192.0.2.10-192.0.2.30, 198.51.100.0/24, and the
IPv6 placeholders 0.0.0.7 and 0.0.0.8 (mapped to 2001:db8::7 and 2001:db8::8)
and 0.0.0.9 (no mapping record). A mapping for 0.0.0.20 exists but 0.0.0.20 is
not subscribed. So S = 1 + 21 + 256 + 2 = 280 addresses.

M: hosts 192.0.2.10 (twice, in two networks), 192.0.2.11, 203.0.113.5 (outside
S), the placeholder host 0.0.0.7 with IPv6 2001:db8::7, and a host with no
address. So M = {192.0.2.10, 192.0.2.11, 203.0.113.5, 2001:db8::7}.

I: 192.0.2.1, 192.0.2.10, 192.0.2.12, 192.0.2.40, 203.0.113.5, 2001:db8::7,
2001:db8::8, 2001:db8::99.
"""

from .conftest import FakeQualys, index
from .qualys_xml import FakeHost

INDEXED = [
    "192.0.2.1",
    "192.0.2.10",
    "192.0.2.12",
    "192.0.2.40",
    "203.0.113.5",
    "2001:db8::7",
    "2001:db8::8",
    "2001:db8::99",
]
SUBSCRIBED_TOKENS = ["192.0.2.1", "192.0.2.10-192.0.2.30", "198.51.100.0-198.51.100.255"]
PLACEHOLDERS = ["0.0.0.7", "0.0.0.8", "0.0.0.9"]
MAPPINGS = [
    (1, "0.0.0.7", "2001:db8::7"),
    (2, "0.0.0.8", "2001:db8::8"),
    (3, "0.0.0.20", "2001:db8::20"),
]
HOSTS = [
    FakeHost(101, ip="192.0.2.10", dns="host-a.example.test", netbios="HOST-A", os="Linux 5.x"),
    FakeHost(102, ip="192.0.2.11", os="Windows Server 2022"),
    FakeHost(103, ip="203.0.113.5", dns="outside.example.test"),
    FakeHost(104, ip="0.0.0.7", ipv6="2001:db8::7", tracking_method="IP"),
    FakeHost(105, ip="192.0.2.10", network_id=3, last_scan="2026-11-25T10:00:00Z"),
    FakeHost(106, tracking_method="AGENT", dns="agent-only.example.test", last_scan=None),
]

SUBSCRIBED_SIZE = 280
SCANNED_SIZE = 4


def load(qualys: FakeQualys) -> None:
    """Put the scenario's S and M in the fake Qualys and its I in the inventory."""
    qualys.subscribe(*SUBSCRIBED_TOKENS, *PLACEHOLDERS)
    qualys.mappings = list(MAPPINGS)
    qualys.scan(*HOSTS)
    index(*INDEXED)
