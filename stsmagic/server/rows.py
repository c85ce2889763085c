"""The server's sessions as JSON rows: what the REST API answers, never a secret.

A row holds the masked access key only; the secret key and the session token never leave
the server except through the credentials endpoint.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ledger import SessionLedger
    from ..session import IssuedSession


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, to the second."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def row(
    session: IssuedSession, ledger: SessionLedger, now: datetime | None = None
) -> dict[str, Any]:
    """One session as the API shows it."""
    now = now or ledger.now()
    remaining = max(int((session.expiration - now).total_seconds()), 0)
    if remaining == 0:
        status = "expired"
    elif ledger.active is session:
        status = "active"
    else:
        status = "standby"
    label = str(session.label)
    return {
        "label": label,
        "kind": session.kind,
        "principal": session.principal,
        "access_key": session.masked_access_key,
        "issued_at": iso(session.issued_at),
        "expiration": iso(session.expiration),
        "remaining_seconds": remaining,
        "renewal": session.renewal,
        "status": status,
        "profile": session.profile,
        "renewed_at": iso(ledger.renewed_at(label)),
        "calls": ledger.usage_table.calls().get(label, 0),
    }


def rows(ledger: SessionLedger) -> list[dict[str, Any]]:
    now = ledger.now()
    return [row(session, ledger, now) for session in ledger.sessions]
