"""Named queries over indexed hosts.

Address queries run on ``Host.key`` (fixed-width sortable text, see
``lumeta_qualys.ipset.address_key``): a CIDR block or range is one
``BETWEEN`` on its unique index, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import ipaddress
import json
import re

from django.db import models
from django.db.models.functions import Cast

from lumeta_qualys.ipset import AddressError, address_key, parse_address, parse_range

from .importers.base import ipv4_of_mapped, normalise_mac

# The start of a dotted IPv4 address, ending with a dot: "10.", "192.0.2.".
IPV4_START = re.compile(r"(?:[0-9]{1,3}\.){1,3}")
# Two or three groups of an IPv4 address without the final dot: "192.0.2".
IPV4_PART = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){1,2}")
# The start of an IPv6 address in whole groups, ending with a colon: "2001:db8:".
IPV6_START = re.compile(r"(?:[0-9A-Fa-f]{1,4}:){1,7}")
# Digits with dots, or hexadecimal with colons, possibly with "/" or "-": meant as an
# address, a block or a range, never as a host name.
ADDRESS_LIKE = re.compile(r"[0-9]+(?:\.[0-9]*)+(?:[/-].*)?|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?:[/-].*)?")
# A search that names a field: "os:windows". Each field's name contains a
# letter beyond "f", so no IPv6 address reads as a field search.
FIELD_SEARCH = re.compile(r"([A-Za-z]+)\s*:(.*)", re.DOTALL)
# An IPv6 address with a zone: "fe80::1%eth0".
ZONED_ADDRESS = re.compile(r"([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)%[\w.-]+")
# A field search's value that names a second field: "pci os:windows".
SECOND_FIELD = re.compile(r"\s([A-Za-z]+)\s*:")
SEARCH_FIELDS = ("ip", "mac", "os", "vendor", "tag", "source", "name")
# Other names that people type for a field.
FIELD_ALIASES = {"address": "ip", "host": "name", "hostname": "name", "tags": "tag"}
# Separators of the groups of a typed MAC address's start.
MAC_SEPARATORS = re.compile(r"[\s:.-]")
HEX_DIGITS = re.compile(r"[0-9A-Fa-f]{1,12}")
SEARCH_HELP = (
    "An address, a CIDR block (192.0.2.0/28), a range (a-b), the start of an address "
    "(192.0.2. or 2001:db8:), a MAC address or the start of any of a host's names. To search "
    "another field, name it: os:windows, vendor:cisco, tag:pci, source:scan.xml, or mac:00:1A:2B "
    "for a MAC address's start."
)


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
        the hosts inside it, a MAC address the hosts with that MAC, and any
        other text matches hosts with a host name that starts with it
        (case-insensitive). A field named before a colon searches that
        field (see :func:`field_search`). An empty query matches every host.
        A search is no import, so it reads what a user means where an import
        would reject: ``192.0.2.7/24`` is the block ``192.0.2.0/24``, and
        ``192.0.2.`` or ``2001:db8:`` the addresses that start so.
        """
        text = search_text(query)
        if not text:
            return self.all()
        field = field_search(text)
        if field is not None:
            return self._field_matching(*field)
        mac = normalise_mac(text)
        if mac is not None:
            # A hyphenated MAC address, or twelve hexadecimal digits, can also
            # be the start of a host name.
            return self.alias(names_text=NAMES_TEXT).filter(
                models.Q(mac=mac) | _name_condition(text)
            )
        try:
            return self.in_cidr(text)
        except AddressError:
            pass
        block = typed_block(text)
        if block is not None:
            return self._between(*block)
        return self._name_matching(text)

    def _field_matching(self, field: str, value: str) -> HostQuerySet:
        """Hosts whose ``field`` (one of SEARCH_FIELDS) matches ``value``; none for an empty value.

        Text fields match case-insensitively anywhere in the text, a tag and
        a source match whole in any case, and a MAC address by its start in
        any notation.
        """
        if not value:
            return self.none()
        if field == "ip":
            value = search_text(value)
            try:
                return self.in_cidr(value)
            except AddressError:
                block = typed_block(value)
                return self.none() if block is None else self._between(*block)
        if field == "name":
            return self._name_matching(value)
        if field == "os":
            return self.filter(os_name__icontains=value)
        if field == "vendor":
            return self.filter(mac_vendor__icontains=value)
        if field == "source":
            return self.filter(source__iexact=value)
        if field == "tag":
            # Tags are stored as a JSON list. SQLite keeps the text that
            # json.dumps wrote, with non-ASCII letters escaped, and PostgreSQL
            # writes jsonb out unescaped: either form is looked for.
            forms = {json.dumps(value), '"' + value + '"'}
            condition = models.Q()
            for form in forms:
                condition |= models.Q(tags_text__icontains=form)
            return self.alias(tags_text=Cast("tags", models.TextField())).filter(condition)
        prefix = mac_prefix(value)
        if prefix is None:
            return self.none()
        if len(prefix) == 17:
            return self.filter(mac=prefix)
        return self.filter(mac__startswith=prefix)

    def _name_matching(self, text: str) -> HostQuerySet:
        return self.alias(names_text=NAMES_TEXT).filter(_name_condition(text))

    def reads_every_row(self, query: str) -> bool:
        """Return whether :meth:`matching` reads ``query`` as text that no index serves.

        That is a host name's start, a MAC address or a field search:
        anything but an address, block or range.
        """
        text = search_text(query)
        if not text:
            return False
        field = field_search(text)
        if field is not None:
            return field[0] != "ip"
        return normalise_mac(text) is not None or not _is_address_search(text)

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
        # The importers store ::ffff:192.0.2.1 as 192.0.2.1, so a search finds it so.
        mapped = ipv4_of_mapped(version, start, end)
        if mapped is not None:
            version, (start, end) = 4, mapped
        return self.filter(key__gte=address_key(version, start), key__lte=address_key(version, end))


# The host-name list as JSON text, for _name_condition.
NAMES_TEXT = Cast("hostnames", models.TextField())


def _name_condition(text: str) -> models.Q:
    """Hosts with a name that starts with ``text``; needs the ``names_text`` alias (NAMES_TEXT)."""
    name = text.lower()
    # Names are stored lower case, the first one also in the indexed
    # hostname column. The others are found in the JSON text of the list,
    # where each name follows a double quote: a scan of the table, about
    # 0.2 s for a million hosts. The text is compared as stored, because
    # PostgreSQL's case-insensitive match upper-cases every row.
    return models.Q(hostname__startswith=name) | models.Q(names_text__contains='"' + name)


def field_search(text: str) -> tuple[str, str] | None:
    """Return (field, value) of a search that names one of SEARCH_FIELDS, such as ``os:linux``."""
    match = FIELD_SEARCH.fullmatch(text)
    if match is None:
        return None
    name = match[1].lower()
    name = FIELD_ALIASES.get(name, name)
    if name not in SEARCH_FIELDS:
        return None
    return name, match[2].strip()


def mac_prefix(text: str) -> str | None:
    """Return the start of a MAC address in stored form (``00:1A:2B``), or None for other text.

    Any notation is read: colons, hyphens, dots, or none between the digits.
    """
    groups = MAC_SEPARATORS.split(text.strip())
    if len(groups) > 1 and "." not in text:
        # Groups of one digit, as arp on macOS and BSD writes them, are padded;
        # the last group may be the start of one.
        groups = [group.zfill(2) for group in groups[:-1]] + groups[-1:]
    digits = "".join(groups)
    if not HEX_DIGITS.fullmatch(digits):
        return None
    digits = digits.upper()
    return ":".join(digits[start : start + 2] for start in range(0, len(digits), 2))


def search_text(query: str) -> str:
    """Return a search box entry as the search reads it.

    An IPv6 address is taken as URLs write it, in brackets, and without the
    zone that ``ip`` and ``ping`` print (``fe80::1%eth0``): addresses are
    stored without one.
    """
    text = query.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    zoned = ZONED_ADDRESS.fullmatch(text)
    return zoned[1] if zoned else text


def search_error(query: str) -> str | None:
    """Return why a search box entry cannot be searched as typed, else None."""
    text = search_text(query)
    if normalise_mac(text) is not None:
        # A MAC address whose first group is letters, DC:A6:32:..., also looks like a field.
        return None
    match = FIELD_SEARCH.fullmatch(text)
    if match is not None:
        fields = ", ".join(f"{name}:" for name in SEARCH_FIELDS)
        field = field_search(text)
        if field is None:
            if re.fullmatch(r"[0-9A-Fa-f]+", match[1]):
                # The first group of an IPv6 address.
                return address_search_error(text)
            return (
                f"“{match[1]}:” is not a search field. Name one of {fields} before the text "
                "to find, or leave the colon out to search host names."
            )
        name, value = field
        if not value:
            return f"Enter what to find after {name}:, for example {SEARCH_EXAMPLES[name]}."
        second = SECOND_FIELD.search(value)
        if second is not None and field_search(value[second.start() :].strip()) is not None:
            return (
                f"“{text}” searches more than one field. Search one field at a time, such as "
                f"{name}:{value[: second.start()].strip()}."
            )
        if name == "ip":
            value = search_text(value)
            problem = address_search_error(value)
            if problem is None and not _is_address_search(value):
                problem = (
                    f"“{value}” is not an address, a CIDR block or a range. Enter for example "
                    "ip:192.0.2.7, ip:192.0.2.0/24 or ip:192.0.2."
                )
            return problem
        if name == "mac" and mac_prefix(value) is None:
            return (
                f"“{value}” is not the start of a MAC address. Enter up to 12 hexadecimal "
                "digits, with or without separators, for example mac:00:1A:2B."
            )
        return None
    return address_search_error(text)


# An example of each search field, for its error message.
SEARCH_EXAMPLES = {
    "ip": "ip:192.0.2.0/24",
    "mac": "mac:00:1A:2B",
    "os": "os:windows",
    "vendor": "vendor:cisco",
    "tag": "tag:pci",
    "source": "source:scan.xml",
    "name": "name:web",
}


def _is_address_search(text: str) -> bool:
    """Return whether ``text`` is an address, a block, a range or the start of an address."""
    if typed_block(text) is not None:
        return True
    try:
        parse_range(text)
    except AddressError:
        return False
    return True


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
