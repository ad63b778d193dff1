"""Qualys reply bodies in the shapes the real API returns (DOCTYPE, DATETIME, CDATA, comments)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import escape

DATETIME = "2026-12-01T08:00:00Z"
HOST = "https://qualysapi.example.test"
BANNER = "<!-- This is an evaluation subscription. -->\n"
COPYRIGHT = (
    "\n<!-- CONFIDENTIAL AND PROPRIETARY INFORMATION. "
    "Qualys provides the QualysGuard Service. -->\n"
)


def _document(root: str, dtd: str, inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        f'<!DOCTYPE {root} SYSTEM "{HOST}{dtd}">\n'
        f"{BANNER}<{root}>\n  <RESPONSE>\n    <DATETIME>{DATETIME}</DATETIME>\n"
        f"{inner}  </RESPONSE>\n"
        f"</{root}>{COPYRIGHT}"
    ).encode()


def ip_set(tokens: Iterable[str]) -> str:
    items = [
        f"      <IP_RANGE>{token}</IP_RANGE>\n" if "-" in token else f"      <IP>{token}</IP>\n"
        for token in tokens
    ]
    if not items:
        return ""
    return "    <IP_SET>\n" + "".join(items) + "    </IP_SET>\n"


def ip_list(tokens: Iterable[str]) -> bytes:
    """An IP_LIST_OUTPUT; IP_SET is left out when there are no tokens, as Qualys does."""
    return _document("IP_LIST_OUTPUT", "/api/2.0/fo/asset/ip/ip_list_output.dtd", ip_set(tokens))


def ip_map_list(mappings: Iterable[tuple[int, str, str]]) -> bytes:
    records = "".join(
        f"      <IP_MAP>\n        <ID>{number}</ID>\n        <V4>{v4}</V4>\n        <V6>{v6}</V6>\n"
        "      </IP_MAP>\n"
        for number, v4, v6 in mappings
    )
    inner = f"    <IP_MAP_LIST>\n{records}    </IP_MAP_LIST>\n" if records else ""
    return _document(
        "IP_MAP_LIST_OUTPUT", "/api/2.0/fo/asset/ip/v4_v6/ip_map_list_output.dtd", inner
    )


@dataclass
class FakeHost:
    id: int
    ip: str | None = None
    ipv6: str | None = None
    dns: str = ""
    netbios: str = ""
    os: str = ""
    tracking_method: str = "IP"
    last_scan: str | None = "2026-11-20T10:00:00Z"
    network_id: int | None = None


def _host(host: FakeHost) -> str:
    parts = [f"<ID>{host.id}</ID>"]
    if host.ip:
        parts.append(f"<IP>{host.ip}</IP>")
    if host.ipv6:
        parts.append(f"<IPV6>{host.ipv6}</IPV6>")
    parts.append(f"<TRACKING_METHOD>{host.tracking_method}</TRACKING_METHOD>")
    if host.network_id is not None:
        parts.append(f"<NETWORK_ID>{host.network_id}</NETWORK_ID>")
    if host.dns:
        parts.append(f"<DNS><![CDATA[{host.dns}]]></DNS>")
    if host.netbios:
        parts.append(f"<NETBIOS><![CDATA[{host.netbios}]]></NETBIOS>")
    if host.os:
        parts.append(f"<OS><![CDATA[{host.os}]]></OS>")
    if host.last_scan:
        parts.append(f"<LAST_VULN_SCAN_DATETIME>{host.last_scan}</LAST_VULN_SCAN_DATETIME>")
    return "      <HOST>" + "".join(parts) + "</HOST>\n"


def host_list(hosts: list[FakeHost], *, next_url: str | None = None, version: str = "2.0") -> bytes:
    inner = ""
    if hosts:
        inner += "    <HOST_LIST>\n" + "".join(_host(host) for host in hosts) + "    </HOST_LIST>\n"
    if next_url:
        inner += (
            "    <WARNING>\n      <CODE>1980</CODE>\n"
            f"      <TEXT>{len(hosts)} record limit exceeded. "
            "Use URL to get next batch of results.</TEXT>\n"
            f"      <URL><![CDATA[{next_url}]]></URL>\n    </WARNING>\n"
        )
    return _document(
        "HOST_LIST_OUTPUT", f"/api/{version}/fo/asset/host/host_list_output.dtd", inner
    )


def asset_group_list(groups: Iterable[tuple[int, str, list[str]]]) -> bytes:
    records = ""
    for number, title, tokens in groups:
        records += (
            f"      <ASSET_GROUP>\n        <ID>{number}</ID>\n"
            f"        <TITLE><![CDATA[{title}]]></TITLE>\n        <NETWORK_ID>0</NETWORK_ID>\n"
            + ip_set(tokens).replace("    <", "        <")
            + "      </ASSET_GROUP>\n"
        )
    inner = f"    <ASSET_GROUP_LIST>\n{records}    </ASSET_GROUP_LIST>\n" if records else ""
    return _document(
        "ASSET_GROUP_LIST_OUTPUT", "/api/2.0/fo/asset/group/asset_group_list_output.dtd", inner
    )


def simple_return(
    text: str, *, code: int | None = None, items: dict[str, str] | None = None
) -> bytes:
    inner = f"    <TEXT>{escape(text)}</TEXT>\n"
    if code is not None:
        inner = f"    <CODE>{code}</CODE>\n" + inner
    if items:
        inner += (
            "    <ITEM_LIST>\n"
            + "".join(
                f"      <ITEM>\n        <KEY>{key}</KEY>\n"
                f"        <VALUE>{value}</VALUE>\n      </ITEM>\n"
                for key, value in items.items()
            )
            + "    </ITEM_LIST>\n"
        )
    return _document("SIMPLE_RETURN", "/api/2.0/simple_return.dtd", inner)
