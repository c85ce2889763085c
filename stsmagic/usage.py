"""What each session signed: requests counted by label, via, service and operation.

The ledger owns one ``UsageTable`` (``SessionLedger.usage_table``; ``stsmagic.sessions.usage()``
is its frame). The outlets record into it: botocore's and aiobotocore's own events, after each
call a session signed (``stsmagic.outlets.counting``), and the credentials endpoint, once a
child fetches a session (``UsageTable.record_fetch``). A renewal keeps its label, so its
label's counts go on; forgetting a session forgets them.

Only names that AWS and stsmagic give are kept (a label, a service, an operation, an error
code, a time): never a parameter, a key or a resource name. Pure data, thread-safe (s3fs
signs from its own I/O thread); pandas is imported by ``to_frame`` only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import pandas as pd


COLUMNS = ("label", "via", "service", "operation", "calls", "errors", "last_error", "last_at")

# How a request reached AWS: a botocore (boto3) client, an aiobotocore one (s3fs, pandas
# s3://), or a child process fetching the session from the credentials endpoint.
BOTOCORE = "botocore"
AIOBOTOCORE = "aiobotocore"
SERVE = "serve"
# The service and operation a child's fetch is counted under: not an AWS call, so never one
# an IAM policy needs.
FETCH_SERVICE = "credentials"
FETCH_OPERATION = "fetch"


class Record(NamedTuple):
    """One row of the table: the counts of one (label, via, service, operation)."""

    label: str
    via: str
    service: str
    operation: str
    calls: int
    errors: int
    last_error: str | None
    last_at: datetime


class _Count:
    __slots__ = ("calls", "errors", "last_at", "last_error")

    def __init__(self, now: float) -> None:
        self.calls = 0
        self.errors = 0
        self.last_error: str | None = None
        self.last_at = now


Key = tuple[str, str, str, str]  # label, via, service, operation


class UsageTable:
    """Counts by (label, via, service, operation). ``clock`` tells ``last_at``'s time in
    seconds since the epoch: the machine's (when the call was made), not the ledger's, which
    a demo may move; read once per call, so it is the cheapest there is."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[Key, _Count] = {}

    def record(
        self, label: str, via: str, service: str, operation: str, error: str | None = None
    ) -> None:
        """Count one call; ``error`` is the AWS error code of a failed one."""
        now = self._clock()
        key = (label, via, service, operation)
        with self._lock:
            count = self._counts.get(key)
            if count is None:
                count = self._counts[key] = _Count(now)
            count.calls += 1
            count.last_at = now
            if error is not None:
                count.errors += 1
                count.last_error = error

    def record_fetch(self, label: str) -> None:
        """Count one fetch of ``label``'s session by a child from the credentials endpoint."""
        self.record(label, SERVE, FETCH_SERVICE, FETCH_OPERATION)

    def forget(self, label: str) -> None:
        """Drop every count of ``label`` (its session was forgotten)."""
        with self._lock:
            for key in [key for key in self._counts if key[0] == label]:
                del self._counts[key]

    def clear(self) -> None:
        """Drop every count."""
        with self._lock:
            self._counts.clear()

    def records(self, label: str | None = None) -> list[Record]:
        """A snapshot of the rows (of ``label`` only, if given), in the order first counted."""
        with self._lock:
            counts = [
                (key, c.calls, c.errors, c.last_error, c.last_at)
                for key, c in self._counts.items()
                if label is None or key[0] == label
            ]
        return [
            Record(*key, calls, errors, last_error, datetime.fromtimestamp(at, timezone.utc))
            for key, calls, errors, last_error, at in counts
        ]

    def labels(self) -> set[str]:
        """The labels that have at least one count."""
        with self._lock:
            return {key[0] for key in self._counts}

    def calls(self) -> dict[str, int]:
        """Calls per label, every via, service and operation together."""
        totals: dict[str, int] = {}
        with self._lock:
            for key, count in self._counts.items():
                totals[key[0]] = totals.get(key[0], 0) + count.calls
        return totals

    def busiest(self, label: str, n: int = 3) -> list[tuple[str, str, int]]:
        """``label``'s ``n`` most called (service, operation, calls), every via together."""
        per: dict[tuple[str, str], int] = {}
        for record in self.records(label):
            key = (record.service, record.operation)
            per[key] = per.get(key, 0) + record.calls
        ranked = sorted(per.items(), key=lambda item: (-item[1], item[0]))
        return [(service, operation, calls) for (service, operation), calls in ranked[:n]]

    def to_frame(self, label: str | None = None, order: Iterable[str] = ()) -> pd.DataFrame:
        """The rows as a DataFrame (``COLUMNS``): labels in ``order`` first (the ledger's issue
        order), then by via, service and operation."""
        import numpy as np  # numpy: only when a frame is made
        import pandas as pd  # pandas: only when a frame is made

        rank = {name: i for i, name in enumerate(order)}
        rows = sorted(
            self.records(label),
            key=lambda r: (rank.get(r.label, len(rank)), r.label, r.via, r.service, r.operation),
        )
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(COLUMNS)
        data = dict(zip(COLUMNS, columns, strict=True))
        return pd.DataFrame(
            {
                **{name: np.array(data[name], dtype=object) for name in COLUMNS[:4]},
                "calls": np.array(data["calls"], dtype=np.int64),
                "errors": np.array(data["errors"], dtype=np.int64),
                # object, so a row never in error shows None (not NaN)
                "last_error": np.array(data["last_error"], dtype=object),
                "last_at": pd.Series(data["last_at"], dtype="datetime64[us, UTC]").array,
            },
            columns=list(COLUMNS),
        )
