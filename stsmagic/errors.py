"""The exceptions stsmagic raises. Each message is one line and never holds a secret."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar


class StsMagicError(Exception):
    """Base of every error stsmagic raises on purpose; its message is one line for a user."""


class ParameterError(StsMagicError, ValueError):
    """A parameter broke one of AWS's limits; raised before anything is sent.

    ``parameter`` is the AWS name (``DurationSeconds``), ``problem`` what is wrong with the
    value, ``limit`` the rule it must follow.
    """

    def __init__(self, parameter: str, problem: str, limit: str) -> None:
        self.parameter = parameter
        self.problem = problem
        self.limit = limit
        super().__init__(f"{parameter}: {problem}; {limit}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        # Picklable as itself (a Dask task's error travels back to the client pickled).
        return (type(self), (self.parameter, self.problem, self.limit))


class RequestRefused(StsMagicError):
    """AWS (or the endpoint in its place) refused or could not answer a request.

    ``code`` is the AWS error code (``AccessDenied``, ``ExpiredTradeInTokenException``) or,
    when no answer came, botocore's exception name (``EndpointConnectionError``,
    ``ReadTimeoutError``); ``operation`` the AWS operation name.
    """

    def __init__(self, operation: str, code: str, message: str) -> None:
        self.operation = operation
        self.code = code
        self.message = message
        super().__init__(
            f"{operation} refused: {code}: {message}" if message else f"{operation} refused: {code}"
        )

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        return (type(self), (self.operation, self.code, self.message))


class SessionExpired(StsMagicError):
    """The active session has expired; raised before a request would be signed with it."""

    def __init__(self, label: str, kind: str, expiration: object, cause: str | None = None) -> None:
        self.label = label
        self.kind = kind
        self.expiration = expiration
        self.cause = cause
        renew = RENEW_HINTS.get(kind, "issue a new session")
        why = f" and was not renewed: {cause}" if cause else ""
        super().__init__(
            f"session {label!r} expired at {expiration}{why}; {renew}, "
            "or go back to the source credentials with %sts_use --source"
        )

    def __reduce__(self) -> tuple[type, tuple[str, str, object, str | None]]:
        return (type(self), (self.label, self.kind, self.expiration, self.cause))


RENEW_HINTS = {
    "session": "renew it with %sts_session or the panel's Renew",
    "federation": "renew it with %sts_federation",
    "delegated": "renew it with %sts_delegated and a new trade-in token",
    "role": "renew it with %sts_role (or %sts_profile) or the panel's Renew",
    "sso": "renew it with %sso_role (after %sso_login if the SSO token expired too)",
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
