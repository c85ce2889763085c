"""The sandbox's clock: real time plus an offset that tests move with ``advance``."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(timezone.utc) + offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset
