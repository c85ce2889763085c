"""The exceptions stsmagic raises. Each message is one line and never holds a secret.

Every one of them can be made again from its message alone, ``type(e)(str(e))``, as libraries
that re-raise an error with a changed message do (polars does): the structured constructors
below also take one message, and read their fields back from it when it has their shape.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar


class StsMagicError(Exception):
    """Base of every error stsmagic raises on purpose; its message is one line for a user."""


class ParameterError(StsMagicError, ValueError):
    """A parameter broke one of AWS's limits; raised before anything is sent.

    ``parameter`` is the AWS name (``DurationSeconds``), ``problem`` what is wrong with the
    value, ``limit`` the rule it must follow. ``ParameterError(message)`` (one argument) is the
    error of that message: ``parameter: problem; limit``.
    """

    def __init__(self, parameter: str, problem: str | None = None, limit: str | None = None):
        if problem is None and limit is None:  # one message
            message = parameter
            head, colon, rest = message.partition(": ")
            problem, semicolon, limit = rest.rpartition("; ")
            if not (colon and semicolon):
                head, problem, limit = "", message, ""
            parameter = head
        else:
            message = f"{parameter}: {problem}; {limit}"
        self.parameter = parameter
        self.problem = problem or ""
        self.limit = limit or ""
        super().__init__(message)

    def __reduce__(self) -> tuple[type, tuple[str, ...]]:
        # Picklable as itself (a Dask task's error travels back to the client pickled).
        if not self.parameter:
            return (type(self), (str(self),))
        return (type(self), (self.parameter, self.problem, self.limit))


class RequestRefused(StsMagicError):
    """AWS (or the endpoint in its place) refused or could not answer a request.

    ``code`` is the AWS error code (``AccessDenied``, ``ExpiredTradeInTokenException``) or,
    when no answer came, botocore's exception name (``EndpointConnectionError``,
    ``ReadTimeoutError``); ``operation`` the AWS operation name. ``RequestRefused(message)``
    (one argument) is the error of that message.
    """

    def __init__(self, operation: str, code: str | None = None, message: str | None = None):
        if code is None and message is None:  # one message
            text = operation
            operation, refused, rest = text.partition(" refused: ")
            code, _, message = rest.partition(": ")
            if not refused:
                operation, code, message = "", "", text
        else:
            code = code or ""
            text = (
                f"{operation} refused: {code}: {message}"
                if message
                else f"{operation} refused: {code}"
            )
        self.operation = operation
        self.code = code
        self.message = message or ""
        super().__init__(text)

    def __reduce__(self) -> tuple[type, tuple[str, ...]]:
        if not self.operation:
            return (type(self), (str(self),))
        return (type(self), (self.operation, self.code, self.message))


class NoSourceCredentials(RequestRefused):
    """No request was made: the profile that should sign it has no credentials.

    ``code`` is ``NoCredentialsError`` (botocore's name), so code that catches
    ``RequestRefused`` and reads ``code`` still works; the message says how to add them.
    """

    def __init__(self, operation: str, profile: str | None = None, source: str = "profile"):
        if profile is None:  # one message
            RequestRefused.__init__(self, operation)
            self.operation, self.code, self.message = "", "NoCredentialsError", str(self)
            self.profile = ""
            return
        self.profile = profile
        where = "" if profile == "default" else f" --profile {profile}"
        text = (
            f"{operation} was not sent: {source} {profile!r} has no credentials to sign it; "
            f"add keys with `aws configure{where}`, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY"
        )
        Exception.__init__(self, text)
        self.operation, self.code, self.message = operation, "NoCredentialsError", text

    def __reduce__(self) -> tuple[type, tuple[str, ...]]:
        return (type(self), (str(self),))


class SessionExpired(StsMagicError):
    """The active session has expired; raised before a request would be signed with it.

    ``SessionExpired(message)`` (one argument) is the error of that message.
    """

    def __init__(
        self,
        label: str,
        kind: str | None = None,
        expiration: object = None,
        cause: str | None = None,
    ) -> None:
        if kind is None and expiration is None and cause is None:  # one message
            message = label
            named = _EXPIRED_LABEL.match(message)
            label = named["label"] if named else ""
        else:
            kind = kind or ""
            renew = RENEW_HINTS.get(kind, "issue a new session")
            why = f" and was not renewed: {cause}" if cause else ""
            message = (
                f"session {label!r} expired at {_when(expiration)}{why}; {renew}, "
                "or go back to the source credentials with %sts_use --source"
            )
        self.label = label
        self.kind = kind or ""
        self.expiration = expiration
        self.cause = cause
        super().__init__(message)

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        if not self.kind:
            return (type(self), (str(self),))
        return (type(self), (self.label, self.kind, self.expiration, self.cause))


_EXPIRED_LABEL = re.compile(r"session '(?P<label>[^']*)' expired")


def _when(expiration: object) -> str:
    if isinstance(expiration, datetime) and expiration.tzinfo is not None:
        return expiration.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(expiration)


RENEW_HINTS = {
    "session": "renew it with %sts_session or the panel's Renew",
    "federation": "renew it with %sts_federation or the panel's Renew",
    "delegated": "issue a new one with %sts_delegated and a new trade-in token",
    "role": "renew it with %sts_role (or %sts_profile) or the panel's Renew",
    "sso": "renew it with %sso_role (after %sso_login if the SSO token expired too) "
    "or the panel's Renew",
}


Function = TypeVar("Function", bound=Callable[..., Any])
Error = TypeVar("Error", bound=BaseException)


def bare(error: Error) -> Error:
    """``error`` without traceback, cause or context. Raise it outside an ``except`` block:
    raised inside one, it gets the exception being handled as its context again."""
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    return error.with_traceback(None)


def refusal_without_frames(function: Function) -> Function:
    """Raise ``function``'s refusal (an ``StsMagicError``) from its caller's side: no frame
    below, no chained cause, no context.

    Under ``%xmode Verbose`` every frame of a traceback prints its arguments and the variables
    of its line (the trade-in token, the SSO bearer token, the parsed answer), and a context
    keeps botocore's exception, whose frames hold the request. The refusal's one line says
    everything; the frames that held secrets are dropped.
    """

    @functools.wraps(function)
    def refusing(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except StsMagicError as e:
            refusal = e
        args, kwargs = (), {}  # they may hold a token: not shown in this frame either
        raise bare(refusal)

    return refusing  # type: ignore[return-value]


class Superseded(StsMagicError):
    """A renewal that arrived after its label was forgotten and issued again: the ledger keeps
    the new session (``SessionLedger.replace(..., expected=)``) and the renewal is dropped."""
