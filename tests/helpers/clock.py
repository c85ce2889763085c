"""A clock the test moves: given to a ledger in place of the real time, so expiry and renewal
are decided without sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


class Clock:
    """Stands still until moved; starts at ``start`` (default: the real time now, UTC)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def move(self, **delta: float) -> None:
        """Forward (or back) by ``timedelta(**delta)``."""
        self.now += timedelta(**delta)

    def to(self, when: datetime) -> None:
        self.now = when
