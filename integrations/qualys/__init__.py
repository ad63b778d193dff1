"""Qualys VM API v2 client: calls, streaming parsing, errors and records.

Callers get dataclasses and iterators only; lxml objects stay inside.

Choices a caller should know:

- Authentication is Basic auth on every call, with ``X-Requested-With``;
  no session is opened, so a failed sync leaves nothing to log out.
- ``check_credentials`` lists at most one host ID
  (``/api/{version}/fo/asset/host/?action=list&details=None&truncation_limit=1``):
  a documented v2 call behind the same authentication as the sync. It
  counts against the host-list rate limit and is never retried.
- ``ca_bundle`` is merged with the system trust store into one PEM file
  that is passed as ``verify=`` on every request, so REQUESTS_CA_BUNDLE
  cannot replace it; the standard proxy variables still apply.
- Errors come from the body first (SIMPLE_RETURN with CODE, ServiceResponse
  not SUCCESS, whatever the HTTP status), then from the status. Rate-limit
  waits come from ``X-RateLimit-ToWait-Sec`` or the SECONDS_TO_WAIT item,
  the larger of the two, never from Qualys's sentence.
- Lists are read as a stream; a host page that breaks off mid-body is
  resumed after the last host passed on (hosts come sorted by ID). A page
  that is cut short, malformed or repeated raises, so a partial list never
  passes as complete.
- ``add_ips`` takes IPv4 only: Qualys adds IPv6 hosts through placeholder
  addresses and mapping records, not through ``ips``.
- ``edit_asset_group(set_ips=IPSet())`` lists the group and sends
  ``remove_ips`` with its contents, because Qualys does not document what
  an empty ``set_ips`` does.
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
    MessageInsteadOfData,
    QualysError,
    QualysTimeout,
    QualysUnreachable,
    RateLimited,
    RegistrationIncomplete,
    ReplyTimeout,
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
    "ReplyTimeout",
    "QualysUnreachable",
    "RateLimited",
    "RegistrationIncomplete",
    "ScannedHostRecord",
    "ServerError",
    "SimpleReturn",
    "SubscriptionList",
    "TLSFailure",
    "MessageInsteadOfData",
    "UnexpectedResponse",
    "is_transient",
]
