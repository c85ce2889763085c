"""An endpoint's answer, checked before it becomes a session.

botocore parses whatever a 200 answer holds: a captive portal's page, a proxy's cut-off body or
a stranger's JSON parse into a dict without ``Credentials``, and a stale cache hands back
credentials that have already expired. Each such answer is refused here as one
``RequestRefused`` line that names what was missing and never quotes a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..errors import RequestRefused
from ..session import utc

INVALID = "InvalidResponse"
EXPIRED = "ExpiredOnArrival"
_NOT_AWS = "the endpoint is not AWS or something between changed its answer"


def _refuse(operation: str, what: str) -> RequestRefused:
    return RequestRefused(operation, INVALID, f"the answer {what}; {_NOT_AWS}")


def _credentials(operation: str, response: object, container: str) -> Mapping[str, Any]:
    creds = response.get(container) if isinstance(response, Mapping) else None
    if not isinstance(creds, Mapping):
        raise _refuse(operation, f"has no {container}")
    return creds


def _require_text(operation: str, creds: Mapping[str, Any], container: str, names: tuple) -> None:
    for name in names:
        value = creds.get(name)
        if not isinstance(value, str) or not value.strip():
            raise _refuse(operation, f"has no {container}.{name}")


def _check_fresh(operation: str, expiration: datetime, now: datetime | None) -> None:
    now = now or datetime.now(timezone.utc)
    if expiration <= now:
        raise RequestRefused(
            operation,
            EXPIRED,
            f"the credentials expired at {expiration:%Y-%m-%d %H:%M:%S} UTC, before they arrived; "
            "check this machine's clock, then ask again",
        )


def check_sts(operation: str, response: object, now: datetime | None = None) -> None:
    """An STS answer (GetSessionToken, GetFederationToken, ...): usable credentials, unexpired."""
    creds = _credentials(operation, response, "Credentials")
    _require_text(
        operation, creds, "Credentials", ("AccessKeyId", "SecretAccessKey", "SessionToken")
    )
    raw = creds.get("Expiration")
    if not isinstance(raw, (datetime, str)):
        raise _refuse(operation, "has no Credentials.Expiration")
    try:
        expiration = utc(raw)
    except (ValueError, OverflowError):
        raise _refuse(operation, "has a Credentials.Expiration that is not a time") from None
    _check_fresh(operation, expiration, now)


def check_sso(operation: str, response: object, now: datetime | None = None) -> None:
    """An SSO GetRoleCredentials answer: usable role credentials, expiration in epoch ms."""
    creds = _credentials(operation, response, "roleCredentials")
    _require_text(
        operation,
        creds,
        "roleCredentials",
        ("accessKeyId", "secretAccessKey", "sessionToken"),
    )
    raw = creds.get("expiration")
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _refuse(operation, "has no roleCredentials.expiration in milliseconds")
    try:
        expiration = datetime.fromtimestamp(raw / 1000, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise _refuse(
            operation, "has a roleCredentials.expiration out of any date's range"
        ) from None
    _check_fresh(operation, expiration, now)
