"""Fault injection: the schema of a fault and the rule that picks the faults for a call.

A fault is a JSON object such as::

    {"endpoint": "asset/host", "action": "list", "kind": "truncated", "times": 1, "page": 2}

``kind`` is required. ``endpoint`` and ``action`` narrow the calls it hits,
and absent or ``"*"`` means every call. ``page`` narrows a paged list to one
page (1 is the page without ``id_min``). ``times`` is how many calls it hits
before it is used up, and absent means every matching call. The other keys
depend on the kind; ``KINDS`` lists them with their defaults.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

# Session login and logout take no faults, as they are also exempt from limits.
ENDPOINTS = {"asset/ip", "asset/ip/v4_v6", "asset/group", "asset/host", "msp/about"}

# Kind -> (stage, default options). The stage is the step of the handler at
# which the fault applies.
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "bad_credentials": ("auth", {}),
    "expired": ("account", {}),
    "registration_incomplete": ("account", {}),
    "concurrency_limit": ("limit", {"calls_to_finish": 1}),
    "rate_limit": ("limit", {"seconds_to_wait": 60}),
    "slow": ("delay", {"delay": 2.0}),
    "server_error": ("reply", {"status": 503, "code": 999}),
    "html": ("reply", {"status": 502}),
    "truncated": ("body", {"drop_connection": False}),
    "malformed": ("body", {}),
    "comments": ("body", {}),
    "no_declaration": ("body", {}),
}
COMMON_KEYS = {"kind", "endpoint", "action", "times", "page"}


class FaultError(ValueError):
    """A fault description with an unknown kind, key or value."""


@dataclass
class Fault:
    """One injected fault; ``times`` counts down as calls hit it."""

    kind: str
    endpoint: str | None = None
    action: str | None = None
    times: int | None = None
    page: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        return KINDS[self.kind][0]

    def option(self, name: str) -> Any:
        return self.options.get(name, KINDS[self.kind][1].get(name))

    def matches(self, endpoint: str, action: str, page: int) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.endpoint not in (None, "*", endpoint):
            return False
        if self.action not in (None, "*", action):
            return False
        return self.page is None or self.page == page

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for name in ("endpoint", "action", "times", "page"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        data.update(self.options)
        return data


def parse_fault(item: Any) -> Fault:
    """Validate one fault object and return it as a Fault."""
    if not isinstance(item, dict):
        raise FaultError(f"a fault must be an object, not {item!r}")
    kind = item.get("kind")
    if kind not in KINDS:
        raise FaultError(f"unknown fault kind {kind!r}; use one of {', '.join(sorted(KINDS))}")
    allowed = COMMON_KEYS | set(KINDS[kind][1])
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise FaultError(
            f"fault kind {kind!r} does not take {', '.join(unknown)}; "
            f"it takes {', '.join(sorted(allowed))}"
        )
    endpoint = item.get("endpoint")
    if endpoint not in (None, "*") and endpoint not in ENDPOINTS:
        raise FaultError(
            f"unknown endpoint {endpoint!r}; use one of {', '.join(sorted(ENDPOINTS))}"
        )
    for name in ("times", "page"):
        value = item.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise FaultError(f"{name} must be a whole number >= 0, not {value!r}")
    options = {key: item[key] for key in KINDS[kind][1] if key in item}
    for key, value in options.items():
        default = KINDS[kind][1][key]
        expected = (int, float) if isinstance(default, float) else type(default)
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise FaultError(f"{key} of a {kind} fault must be like {default!r}, not {value!r}")
    return Fault(
        kind=kind,
        endpoint=endpoint,
        action=item.get("action"),
        times=item.get("times"),
        page=item.get("page"),
        options=options,
    )


def _scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def parse_fault_flag(text: str) -> Fault:
    """Parse a ``--fault`` value: a JSON object, or ``KIND[:key=value,...]``.

    Example: ``truncated:endpoint=asset/host,page=2,times=1``.
    """
    text = text.strip()
    if text.startswith("{"):
        try:
            return parse_fault(json.loads(text))
        except json.JSONDecodeError as error:
            raise FaultError(f"--fault {text!r} is not valid JSON: {error.msg}") from None
    kind, _, rest = text.partition(":")
    item: dict[str, Any] = {"kind": kind.strip()}
    for pair in filter(None, (part.strip() for part in rest.split(","))):
        key, separator, value = pair.partition("=")
        if not separator:
            raise FaultError(f"--fault {text!r}: {pair!r} is not key=value")
        item[key.strip()] = _scalar(value.strip())
    return parse_fault(item)


class FaultBook:
    """The active faults, shared by all request threads."""

    def __init__(self, faults: list[Fault]):
        self.faults = faults
        self._lock = threading.Lock()

    def take(self, stage: str, endpoint: str, action: str, page: int) -> list[Fault]:
        """Return the faults of one stage that hit this call, counting down ``times``."""
        taken: list[Fault] = []
        with self._lock:
            for fault in self.faults:
                if fault.stage == stage and fault.matches(endpoint, action, page):
                    if fault.times is not None:
                        fault.times -= 1
                    taken.append(fault)
        return taken

    def replace(self, faults: list[Fault]) -> None:
        with self._lock:
            self.faults[:] = faults
