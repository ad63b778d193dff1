"""Request parameters: merging query and body, and validating values the Qualys way.

Rule for duplicates: the query string is read first, then the form body, and
when a name appears more than once the last occurrence wins. So a parameter
in the body replaces the same parameter in the query string.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from lumeta_qualys.ipset import AddressError, IPSet, parse_range

MAX_TRUNCATION_LIMIT = 1_000_000


@dataclass
class ApiError(Exception):
    """An error the emulator returns as a SIMPLE_RETURN body with CODE and TEXT."""

    status: int
    code: int
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def merge_parameters(query: str, body: str) -> dict[str, str]:
    """Merge query-string and form-body parameters; the last duplicate wins."""
    merged: dict[str, str] = {}
    for source in (query, body):
        for name, value in parse_qsl(source, keep_blank_values=True, encoding="utf-8"):
            merged.pop(name, None)
            merged[name] = value
    return merged


def check_names(params: dict[str, str], allowed: Iterable[str]) -> None:
    """Reject parameters the call does not take, with CODE 1901 like Qualys."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ApiError(
            400,
            1901,
            f"Unrecognized parameter(s): {', '.join(unknown)}. "
            "The emulator implements only the parameters this product uses.",
        )


def require(params: dict[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise ApiError(400, 1903, f"Missing required parameter(s): {name}")
    return value


def invalid(name: str, value: str, reason: str) -> ApiError:
    return ApiError(400, 1905, f"parameter {name} has invalid value: {value} ({reason})")


def whole_number(params: dict[str, str], name: str, minimum: int = 0) -> int | None:
    """Return an optional whole-number parameter, or raise 1905 naming the value."""
    if name not in params:
        return None
    value = params[name].strip()
    if not value.isdigit() or int(value) < minimum:
        raise invalid(name, value, f"not a whole number >= {minimum}")
    return int(value)


def flag(params: dict[str, str], name: str) -> bool | None:
    """Return an optional 0/1 parameter as a bool."""
    if name not in params:
        return None
    value = params[name].strip()
    if value not in ("0", "1"):
        raise invalid(name, value, "must be 0 or 1")
    return value == "1"


def truncation_limit(params: dict[str, str], default: int) -> int:
    """Return the page size: ``default`` when absent, 0 for everything, at most 1,000,000."""
    value = whole_number(params, "truncation_limit")
    if value is None:
        return default
    if value > MAX_TRUNCATION_LIMIT:
        raise invalid("truncation_limit", str(value), f"more than {MAX_TRUNCATION_LIMIT:,}")
    return value


def id_ranges(params: dict[str, str], name: str) -> list[tuple[int, int]] | None:
    """Parse a list of IDs and ``a-b`` ID ranges such as ``101,200-203``."""
    if name not in params:
        return None
    ranges: list[tuple[int, int]] = []
    for token in params[name].split(","):
        token = token.strip()
        first, separator, last = token.partition("-")
        if not first.isdigit() or (separator and not last.isdigit()):
            raise invalid(name, params[name], f"neither a positive integer nor a range: {token}")
        start = int(first)
        end = int(last) if separator else start
        if start < 1 or end < start:
            raise invalid(name, params[name], f"not an ascending range of positive IDs: {token}")
        ranges.append((start, end))
    return ranges


def in_id_ranges(value: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= value <= end for start, end in ranges)


def ip_set(params: dict[str, str], name: str) -> IPSet | None:
    """Parse a comma-separated list of IPs, CIDR blocks and ``a-b`` ranges."""
    if name not in params:
        return None
    raw = params[name]
    ranges = []
    for token in raw.split(","):
        token = token.strip()
        if not token:
            raise invalid(name, raw if len(raw) < 200 else raw[:200] + "…", "empty entry in list")
        try:
            ranges.append(parse_range(token))
        except AddressError as error:
            raise invalid(name, token, error.reason) from None
    return IPSet.from_ranges(ranges)
