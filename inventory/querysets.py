"""Named queries over indexed hosts.

Address queries run on ``Host.key`` (fixed-width sortable text, see
``lumeta_qualys.ipset.address_key``): a CIDR block or range is one
``BETWEEN`` on its unique index, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from django.db import models

from lumeta_qualys.ipset import AddressError, address_key, parse_address, parse_range


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
        the hosts inside it, and any other text matches host names that start
        with it (case-insensitive). An empty query matches every host.
        """
        text = query.strip()
        if not text:
            return self.all()
        try:
            return self.in_cidr(text)
        except AddressError:
            return self.filter(hostname__startswith=text.lower())

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
