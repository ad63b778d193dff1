"""Qualys VM API v2 client: calls, streaming parsing, errors and records.

Callers get dataclasses and iterators only; lxml objects stay inside.
"""

from integrations.qualys.client import QualysClient
from integrations.qualys.errors import (
    TRANSIENT,
    AccountUnavailable,
    AuthenticationFailed,
    ConcurrencyLimited,
    GatewayError,
    InvalidRequest,
    MalformedResponse,
    QualysError,
    QualysTimeout,
    QualysUnreachable,
    RateLimited,
    RegistrationIncomplete,
    ServerError,
    TLSFailure,
    UnexpectedResponse,
    is_transient,
)
from integrations.qualys.records import (
    ApiBudget,
    AssetGroup,
    IPv6Mapping,
    ScannedHostRecord,
    SimpleReturn,
    SubscriptionList,
)

__all__ = [
    "TRANSIENT",
    "AccountUnavailable",
    "ApiBudget",
    "AssetGroup",
    "AuthenticationFailed",
    "ConcurrencyLimited",
    "GatewayError",
    "IPv6Mapping",
    "InvalidRequest",
    "MalformedResponse",
    "QualysClient",
    "QualysError",
    "QualysTimeout",
    "QualysUnreachable",
    "RateLimited",
    "RegistrationIncomplete",
    "ScannedHostRecord",
    "ServerError",
    "SimpleReturn",
    "SubscriptionList",
    "TLSFailure",
    "UnexpectedResponse",
    "is_transient",
]
