"""The ledger and the panel with 10,000 sessions: to_frame(), one refresh, memory per session."""

from __future__ import annotations

import gc
import secrets
import tracemalloc
from datetime import datetime, timedelta, timezone
from typing import Any

from timing import Figure, median_seconds

COUNT = 10_000


def _responses(count: int) -> list[dict[str, Any]]:
    """GetSessionToken responses shaped as botocore returns them (token as long as AWS's)."""
    now = datetime.now(timezone.utc)
    return [
        {
            "Credentials": {
                "AccessKeyId": f"ASIA{index:016d}",
                "SecretAccessKey": secrets.token_urlsafe(30)[:40],
                "SessionToken": secrets.token_urlsafe(300),
                "Expiration": now + timedelta(seconds=900 + index),
            }
        }
        for index in range(count)
    ]


def _fill(responses: list[dict[str, Any]]) -> Any:
    from stsmagic.ledger import SessionLedger
    from stsmagic.session import IssuedSession

    ledger = SessionLedger()
    issued_at = datetime.now(timezone.utc)
    for response in responses:
        session = IssuedSession.from_sts("session", response, issued_at=issued_at)
        ledger.add(session, activate=False)
    ledger.activate(ledger.sessions[-1].label)
    return ledger


def measure(count: int = COUNT) -> list[Figure]:
    import pandas  # noqa: F401  (imported before timing: a panel's kernel has it already)

    from stsmagic.widgets.panel import SessionPanel

    _fill(_responses(10))  # warm imports and caches outside the measurement
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    responses = _responses(count)
    ledger = _fill(responses)
    del responses  # what stays is what the sessions and the ledger hold
    gc.collect()
    per_session = (tracemalloc.get_traced_memory()[0] - before) / count
    tracemalloc.stop()

    if len(ledger.sessions) != count:
        raise RuntimeError(f"ledger holds {len(ledger.sessions)} sessions, not {count}")
    frame_s = median_seconds(ledger.to_frame, repeats=7)
    frame = ledger.to_frame()
    if len(frame) != count:
        raise RuntimeError(f"to_frame() has {len(frame)} rows, not {count}")

    panel = SessionPanel(ledger, interval=3600)
    labels = [ledger.sessions[0].label, ledger.sessions[-1].label]
    flips = iter(labels * 20)
    try:
        refresh_s = median_seconds(panel.refresh, repeats=7)
        # A ledger change re-renders the subscribed panel before activate() returns; the
        # panel's cached frame is remade, so this is the refresh a user waits for.
        change_s = median_seconds(lambda: ledger.activate(next(flips)), repeats=7)
        if ledger.active is None or ledger.active.label not in panel.rows:
            raise RuntimeError("the panel did not show the newly active session")
        html_s = median_seconds(panel._repr_html_, repeats=3)
    finally:
        panel.close()

    return [
        Figure("to_frame() 10k sessions", frame_s * 1000, " ms", 50, "median of 7"),
        Figure(
            "panel refresh 10k sessions", refresh_s * 1000, " ms", 50, "timer tick, median of 7"
        ),
        Figure(
            "panel refresh on a ledger change",
            change_s * 1000,
            " ms",
            50,
            "activate() + to_frame() + render of 10k, median of 7",
        ),
        Figure("panel _repr_html_ 10k sessions", html_s * 1000, " ms", None, "median of 3"),
        Figure(
            "memory per session", per_session, " B", None, "tracemalloc, session + ledger entry"
        ),
    ]
