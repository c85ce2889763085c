"""Console federation (``signin.aws.amazon.com/federation``): getSigninToken trades temporary
credentials for a sign-in token; ``login`` redirects with one to the destination.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from . import tokens
from .context import SandboxContext
from .request import Request
from .wire import AwsError, Response, json_result

SIGNIN_TOKEN_LIFETIME = timedelta(minutes=15)
# GetSessionToken credentials cannot sign in to the console; role and federation ones can.
_CONSOLE_KINDS = {"federation", "delegated", "sso", "moto"}


def render_error(error: AwsError) -> Response:
    return json_result({"message": error.message, "code": error.code}, status=error.status)


def _param(request: Request, name: str) -> str | None:
    values = request.query.get(name)
    return values[-1] if values else None


def get_signin_token(request: Request, context: SandboxContext) -> Response:
    try:
        session = json.loads(_param(request, "Session") or "")
        key_id, secret, token = (
            session["sessionId"],
            session["sessionKey"],
            session["sessionToken"],
        )
    except (ValueError, KeyError, TypeError):
        raise AwsError(
            "InvalidParameter", "Session must be JSON with sessionId, sessionKey and sessionToken"
        ) from None
    key = context.find_key(str(key_id))
    if key is None or key.secret_access_key != secret or key.session_token != token:
        raise AwsError(
            "InvalidClientTokenId", "The security token included in the request is invalid.", 400
        )
    if key.kind not in _CONSOLE_KINDS:
        raise AwsError(
            "AccessDenied",
            "GetSessionToken credentials cannot be used to sign "
            "in to the console; use role or federation credentials",
            400,
        )
    now = context.now()
    if key.expiration is not None and key.expiration <= now:
        raise AwsError("ExpiredToken", "The security token included in the request is expired", 400)
    duration = _param(request, "SessionDuration")
    if duration is not None and (not duration.isdigit() or not 900 <= int(duration) <= 43200):
        raise AwsError(
            "InvalidParameter", "SessionDuration must be between 900 and 43200 seconds", 400
        )
    signin_token = tokens.opaque("", 192)
    with context.state.lock:
        context.state.signin_tokens[signin_token] = now + SIGNIN_TOKEN_LIFETIME
    context.state.remember_secret(signin_token)
    return json_result({"SigninToken": signin_token})


def login(request: Request, context: SandboxContext) -> Response:
    signin_token = _param(request, "SigninToken") or ""
    with context.state.lock:
        expires_at = context.state.signin_tokens.pop(signin_token, None)
    if expires_at is None or expires_at <= context.now():
        raise AwsError("InvalidParameter", "The sign-in token is not valid or has expired", 400)
    destination = _param(request, "Destination") or "https://console.aws.amazon.com/"
    return Response(302, b"", [("Location", destination)])


def handler(action: str) -> Callable[[Request, SandboxContext], Response]:
    known = {"getSigninToken": get_signin_token, "login": login}
    if action in known:
        return known[action]

    def unknown(request: Request, context: SandboxContext) -> Response:
        raise AwsError("InvalidParameter", f"Unknown Action: {action}", 400)

    return unknown
