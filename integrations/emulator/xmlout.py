"""Text builders for the XML bodies the emulator sends.

Bodies are built as strings (or yielded in pieces for long lists) in the
layout of recorded Qualys responses: an XML declaration, a DOCTYPE line with a
platform-style DTD address, two-space indentation, and CDATA sections for
free-text fields such as DNS names, NetBIOS names, operating systems and
asset group titles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from xml.sax.saxutils import escape

DECLARATION = '<?xml version="1.0" encoding="UTF-8" ?>\n'

# Platform host written into DOCTYPE lines. Clients must never fetch it.
DTD_HOST = "https://qualysapi.qualys.com"

DTD_PATHS = {
    "SIMPLE_RETURN": "/api/2.0/simple_return.dtd",
    "HOST_LIST_OUTPUT": "/api/2.0/fo/asset/host/host_list_output.dtd",
    "IP_LIST_OUTPUT": "/api/2.0/fo/asset/ip/ip_list_output.dtd",
    "IP_MAP_LIST_OUTPUT": "/api/2.0/fo/asset/ip/v4_v6/ip_map_list_output.dtd",
    "ASSET_GROUP_LIST_OUTPUT": "/api/2.0/fo/asset/group/asset_group_list_output.dtd",
    "ABOUT": "/msp/about.dtd",
}

# Comments that evaluation subscriptions put around the root element.
BANNER_COMMENT = "<!-- This report was generated with an evaluation version of Qualys //--> \n"
COPYRIGHT_COMMENT = (
    "<!-- CONFIDENTIAL AND PROPRIETARY INFORMATION. Qualys provides the QualysGuard Service "
    '"As Is," without any warranty of any kind. This body was written by a local emulator. //--> \n'
)


def now_text() -> str:
    """Return the current UTC time in the Qualys format ``YYYY-MM-DDTHH:MM:SSZ``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def text(value: object) -> str:
    """Escape a value for element content."""
    return escape(str(value))


def cdata(value: object) -> str:
    """Wrap a value in a CDATA section, splitting any ``]]>`` it contains."""
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def prolog(root: str, declaration: bool = True) -> str:
    """Return the declaration (optional) and DOCTYPE line for a root element."""
    doctype = f'<!DOCTYPE {root} SYSTEM "{DTD_HOST}{DTD_PATHS[root]}">\n'
    return (DECLARATION if declaration else "") + doctype


def request_block(user: str, resource: str, params: dict[str, str]) -> str:
    """Return the REQUEST element that ``echo_request=1`` puts before RESPONSE."""
    lines = [
        "  <REQUEST>\n",
        f"    <DATETIME>{now_text()}</DATETIME>\n",
        f"    <USER_LOGIN>{text(user)}</USER_LOGIN>\n",
        f"    <RESOURCE>{text(resource)}</RESOURCE>\n",
    ]
    if params:
        lines.append("    <PARAM_LIST>\n")
        for key, value in params.items():
            lines.append(
                f"      <PARAM>\n        <KEY>{text(key)}</KEY>\n"
                f"        <VALUE>{text(value)}</VALUE>\n      </PARAM>\n"
            )
        lines.append("    </PARAM_LIST>\n")
    lines.append("  </REQUEST>\n")
    return "".join(lines)


def simple_return(
    message: str,
    code: int | None = None,
    items: Iterable[tuple[str, Iterable[object]]] = (),
    declaration: bool = True,
    request: str = "",
) -> str:
    """Return a SIMPLE_RETURN body: an error when ``code`` is set, else a success."""
    lines = [prolog("SIMPLE_RETURN", declaration), "<SIMPLE_RETURN>\n", request, "  <RESPONSE>\n"]
    lines.append(f"    <DATETIME>{now_text()}</DATETIME>\n")
    if code is not None:
        lines.append(f"    <CODE>{code}</CODE>\n")
    lines.append(f"    <TEXT>{text(message)}</TEXT>\n")
    item_list = list(items)
    if item_list:
        lines.append("    <ITEM_LIST>\n")
        for key, values in item_list:
            lines.append("      <ITEM>\n")
            lines.append(f"        <KEY>{text(key)}</KEY>\n")
            for value in values:
                lines.append(f"        <VALUE>{text(value)}</VALUE>\n")
            lines.append("      </ITEM>\n")
        lines.append("    </ITEM_LIST>\n")
    lines.append("  </RESPONSE>\n</SIMPLE_RETURN>\n")
    return "".join(lines)


def ip_set(tokens: Iterable[str], indent: str) -> Iterator[str]:
    """Yield an IP_SET of ``IP`` and ``IP_RANGE`` lines, or nothing for an empty set.

    Qualys leaves IP_SET out entirely when a set is empty, so this yields no
    opening tag until it has seen the first token.
    """
    opened = False
    for token in tokens:
        if not opened:
            yield f"{indent}<IP_SET>\n"
            opened = True
        if "-" in token:
            yield f"{indent}  <IP_RANGE>{token}</IP_RANGE>\n"
        else:
            yield f"{indent}  <IP>{token}</IP>\n"
    if opened:
        yield f"{indent}</IP_SET>\n"


def truncation_warning(limit: int, url: str, indent: str = "    ") -> str:
    """Return the WARNING block (CODE 1980) that points to the next page."""
    return (
        f"{indent}<WARNING>\n"
        f"{indent}  <CODE>1980</CODE>\n"
        f"{indent}  <TEXT>{limit} record limit exceeded. Use URL to get next batch of results."
        "</TEXT>\n"
        f"{indent}  <URL>{cdata(url)}</URL>\n"
        f"{indent}</WARNING>\n"
    )


def html_error_page(status: int, reason: str, detail: str) -> str:
    """Return an HTML error page like those a web server or gateway sends."""
    return (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n'
        f"<html><head>\n<title>{status} {text(reason)}</title>\n</head><body>\n"
        f"<h1>{text(reason)}</h1>\n<p>{text(detail)}</p>\n</body></html>\n"
    )
