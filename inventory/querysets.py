"""Named queries over indexed hosts.

Address queries run on ``Host.key`` (fixed-width sortable text, see
``lumeta_qualys.ipset.address_key``): a CIDR block or range is one
``BETWEEN`` on its unique index, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import ipaddress
import re

from django.db import models
from django.db.models.functions import Cast

from lumeta_qualys.ipset import AddressError, address_key, parse_address, parse_range

# The start of a dotted IPv4 address, ending with a dot: "10.", "192.0.2.".
IPV4_START = re.compile(r"(?:[0-9]{1,3}\.){1,3}")
# Two or three groups of an IPv4 address without the final dot: "192.0.2".
IPV4_PART = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){1,2}")
# The start of an IPv6 address in whole groups, ending with a colon: "2001:db8:".
IPV6_START = re.compile(r"(?:[0-9A-Fa-f]{1,4}:){1,7}")
# Digits with dots, or hexadecimal with colons, possibly with "/" or "-": meant as an
# address, a block or a range, never as a host name.
ADDRESS_LIKE = re.compile(r"[0-9]+(?:\.[0-9]*)+(?:[/-].*)?|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?:[/-].*)?")


class HostQuerySet(models.QuerySet):
    def in_range(self, start: str, end: str) -> HostQuerySet:
        """Hosts from address ``start`` to address ``end``, both included.

        Raises AddressError when either is not an address or the two are of
        different IP versions.
        """
        start_version, start_value = parse_address(start)
        end_version, end_value = parse_address(end)
        if start_version != end_version:
            raise AddressError(f"{start}-{end}", "the range mixes IPv4 and IPv6")
        return self._between(start_version, start_value, end_value)

    def in_cidr(self, text: str) -> HostQuerySet:
        """Hosts inside a CIDR block, an ``a-b`` range or equal to one address.

        The block must not have host bits set (``192.0.2.0/28``, not
        ``192.0.2.7/28``); raises AddressError otherwise.
        """
        version, start, end = parse_range(text)
        return self._between(version, start, end)

    def matching(self, query: str) -> HostQuerySet:
        """Hosts matching a search box entry.

        An address matches that host, a CIDR block or ``a-b`` range matches
        the hosts inside it, and any other text matches hosts with a host
        name that starts with it (case-insensitive). An empty query matches
        every host. A search is no import, so it reads what a user means
        where an import would reject: ``192.0.2.7/24`` is the block
        ``192.0.2.0/24``, and ``192.0.2.`` or ``2001:db8:`` the addresses
        that start so.
        """
        text = query.strip()
        if not text:
            return self.all()
        try:
            return self.in_cidr(text)
        except AddressError:
            pass
        block = typed_block(text)
        if block is not None:
            return self._between(*block)
        name = text.lower()
        # Names are stored lower case, the first one also in the indexed
        # hostname column. The others are found in the JSON text of the
        # list, where each name follows a double quote: a scan of the table,
        # about 0.2 s for a million hosts. The text is compared as stored,
        # because PostgreSQL's case-insensitive match upper-cases every row.
        return self.alias(names_text=Cast("hostnames", models.TextField())).filter(
            models.Q(hostname__startswith=name) | models.Q(names_text__contains='"' + name)
        )

    def is_name_search(self, query: str) -> bool:
        """Return whether :meth:`matching` reads ``query`` as the start of a host name."""
        text = query.strip()
        if not text or typed_block(text) is not None:
            return False
        try:
            parse_range(text)
        except AddressError:
            return True
        return False

    def stale(self) -> HostQuerySet:
        """Hosts the latest complete import of their source no longer listed."""
        return self.filter(stale=True)

    def current(self) -> HostQuerySet:
        """Hosts listed by the latest import of their source."""
        return self.filter(stale=False)

    def after_key(self, key: str | None) -> HostQuerySet:
        """Hosts ordered by address after ``key``: one keyset-pagination step."""
        queryset = self.order_by("key")
        return queryset.filter(key__gt=key) if key else queryset

    def _between(self, version: int, start: int, end: int) -> HostQuerySet:
        return self.filter(key__gte=address_key(version, start), key__lte=address_key(version, end))


def address_search_error(query: str) -> str | None:
    """Return why a search that looks like an address, block or range is invalid, else None.

    Such a search falls back to host names and finds nothing, so the page
    says why, for example for ``192.0.2.7/33`` or ``192.0.2.300``.
    """
    text = query.strip()
    if not ADDRESS_LIKE.fullmatch(text) or typed_block(text) is not None:
        return None
    if IPV4_PART.fullmatch(text):
        return (
            f"“{text}” is not a complete IPv4 address. Enter {text}. (with the final dot) for "
            f"the addresses that start so, or a block such as "
            f"{'.'.join((text.split('.') + ['0', '0', '0'])[:4])}/{8 * len(text.split('.'))}."
        )
    try:
        parse_range(text)
    except AddressError as error:
        return f"“{text}” is not a valid address, block or range: {error.reason}."
    return None


def typed_block(text: str) -> tuple[int, int, int] | None:
    """Return (version, start, end) of a block with host bits set or of a typed address start."""
    if "/" in text:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return None
    elif IPV4_START.fullmatch(text):
        octets = text.rstrip(".").split(".")
        if any(int(octet) > 255 or (len(octet) > 1 and octet[0] == "0") for octet in octets):
            return None
        prefix = 8 * len(octets)
        network = ipaddress.ip_network(".".join(octets + ["0"] * (4 - len(octets))) + f"/{prefix}")
    elif IPV6_START.fullmatch(text):
        groups = text.rstrip(":").split(":")
        network = ipaddress.ip_network(f"{':'.join(groups)}::/{16 * len(groups)}")
    else:
        return None
    return network.version, int(network.network_address), int(network.broadcast_address)
