"""Small helpers for talking to the emulator with plain ``requests`` and reading with lxml.

These deliberately do not use the product's Qualys client or parser.
"""

from __future__ import annotations

from typing import Any

import requests
from lxml import etree

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
HOST_LIST = "/api/2.0/fo/asset/host/"
IP = "/api/2.0/fo/asset/ip/"
GROUP = "/api/2.0/fo/asset/group/"
MAPPING = "/api/2.0/fo/asset/ip/v4_v6/"
LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Window-Sec",
    "X-RateLimit-Remaining",
    "X-RateLimit-ToWait-Sec",
    "X-Concurrency-Limit-Limit",
    "X-Concurrency-Limit-Running",
)


def parse(response: requests.Response) -> etree._Element:
    """Parse a response body as bytes (lxml rejects a str with an encoding declaration)."""
    return etree.fromstring(response.content, PARSER)


def call(emu, path: str, method: str = "GET", session=None, **params: Any) -> requests.Response:
    """Call the emulator; GET sends the parameters in the query, POST in a form body."""
    session = session or emu.session()
    if method == "GET":
        return session.get(emu.url + path, params=params, timeout=60)
    return session.post(emu.url + path, data=params, timeout=60)


def error_of(response: requests.Response) -> tuple[str, str]:
    """Return (CODE, TEXT) of a SIMPLE_RETURN body."""
    root = parse(response)
    assert root.tag == "SIMPLE_RETURN", response.text[:500]
    return root.findtext("RESPONSE/CODE") or "", (root.findtext("RESPONSE/TEXT") or "").strip()


def ip_tokens(element: etree._Element | None) -> list[str]:
    """Return the IP and IP_RANGE texts of the IP_SET under ``element``, in order."""
    if element is None:
        return []
    return [item.text for item in element.iterfind("IP_SET/*")]


def host_ids(root: etree._Element) -> list[int]:
    """Return host IDs from a HOST_LIST or an ID_SET (expanding ID_RANGE)."""
    ids = [int(text) for text in root.xpath("RESPONSE/HOST_LIST/HOST/ID/text()")]
    for item in root.iterfind("RESPONSE/ID_SET/*"):
        if item.tag == "ID":
            ids.append(int(item.text))
        else:
            first, last = item.text.split("-")
            ids.extend(range(int(first), int(last) + 1))
    return ids


def next_url(root: etree._Element) -> str | None:
    """Return the WARNING 1980 URL of a paged list, or None on the last page."""
    warning = root.find("RESPONSE/WARNING")
    if warning is None:
        return None
    assert warning.findtext("CODE") == "1980"
    return warning.findtext("URL")


def hosts_state(count: int, start_id: int = 1) -> list[dict[str, Any]]:
    """Return ``count`` hosts with IDs from ``start_id``, in 10.0.0.0/8 (data only)."""
    hosts = []
    for offset in range(count):
        number = 10 << 24 | (offset + 1)
        ip = ".".join(str(number >> shift & 255) for shift in (24, 16, 8, 0))
        hosts.append({"id": start_id + offset, "ip": ip, "dns": f"h{offset}.example.test"})
    return hosts
