"""``Refused``: what the desk refuses, as the REST API and the control endpoint answer it."""

from __future__ import annotations


class Refused(Exception):
    """A request the desk refuses: one line for the answer's ``message``; ``status`` its HTTP
    status (400 unless said)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
