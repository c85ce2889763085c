"""Console federation (``signin.aws.amazon.com/federation``): getSigninToken trades temporary
credentials for a sign-in token; ``login`` spends one and opens the console as its principal.

AWS's rules, checked in AWS's order: the three parts of the session must name keys it issued
and have not expired; GetSessionToken keys cannot sign in at all; ``SessionDuration`` is
900-43200 and refused with GetFederationToken keys (their console session lasts as long as
they do). The sandbox has no console behind ``login``: it answers a page that names who
signed in, where the console would have gone, and how long the console session lasts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from html import escape

from . import tokens
from .context import SandboxContext
from .request import Request
from .state import SigninGrant
from .wire import AwsError, Response, iso8601, json_result

SIGNIN_TOKEN_LIFETIME = timedelta(minutes=15)
# GetSessionToken credentials cannot sign in to the console; role and federation ones can.
_CONSOLE_KINDS = {"federation", "role", "delegated", "sso", "moto"}
_DEFAULT_CONSOLE_SECONDS = 3600
_SESSION_DURATION_MIN, _SESSION_DURATION_MAX = 900, 43200


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
    now = context.now()
    if key.expiration is not None and key.expiration <= now:
        raise AwsError("ExpiredToken", "The security token included in the request is expired", 400)
    if key.kind not in _CONSOLE_KINDS:
        raise AwsError(
            "AccessDenied",
            "Only federation tokens or assume role tokens may be used to sign in to the "
            "console; GetSessionToken credentials cannot",
            400,
        )
    seconds = _session_duration(_param(request, "SessionDuration"), key.kind)
    console_until = now + timedelta(seconds=seconds or _DEFAULT_CONSOLE_SECONDS)
    if key.kind == "federation" and key.expiration is not None:
        console_until = key.expiration  # the federated user's session sets its length
    signin_token = tokens.opaque("", 192)
    # The token is good for 15 minutes, and not past the keys it was made from.
    expires_at = now + SIGNIN_TOKEN_LIFETIME
    if key.expiration is not None:
        expires_at = min(expires_at, key.expiration)
    grant = SigninGrant(expires_at, key.arn, key.kind, console_until)
    with context.state.lock:
        context.state.signin_tokens[signin_token] = grant
    context.state.remember_secret(signin_token)
    return json_result({"SigninToken": signin_token})


def _session_duration(value: str | None, kind: str) -> int | None:
    if value is None:
        return None
    if kind == "federation":
        raise AwsError(
            "InvalidParameter",
            "SessionDuration cannot be used with credentials from GetFederationToken",
            400,
        )
    if not value.isdigit() or not _SESSION_DURATION_MIN <= int(value) <= _SESSION_DURATION_MAX:
        raise AwsError(
            "InvalidParameter", "SessionDuration must be between 900 and 43200 seconds", 400
        )
    return int(value)


def login(request: Request, context: SandboxContext) -> Response:
    signin_token = _param(request, "SigninToken") or ""
    with context.state.lock:
        grant = context.state.signin_tokens.pop(signin_token, None)
    if grant is None or grant.expires_at <= context.now():
        raise AwsError("InvalidParameter", "The sign-in token is not valid or has expired", 400)
    destination = _param(request, "Destination") or "https://console.aws.amazon.com/"
    issuer = _param(request, "Issuer") or ""
    page = (
        "<!doctype html><meta charset='utf-8'>"
        f"<title>AWS console (stsmagic sandbox): {escape(grant.principal)}</title>"
        "<h1>AWS Management Console <small>(stsmagic sandbox)</small></h1>"
        f"<p>Signed in as <b class='principal'>{escape(grant.principal)}</b> "
        f"({escape(grant.kind)} credentials).</p>"
        f"<p>Destination: <code class='destination'>{escape(destination)}</code></p>"
        f"<p>Issuer: <code class='issuer'>{escape(issuer)}</code></p>"
        f"<p>Console session until <span class='until'>{iso8601(grant.console_until)}</span>.</p>"
    )
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
    return Response(200, page.encode(), headers)


def handler(action: str) -> Callable[[Request, SandboxContext], Response]:
    known = {"getSigninToken": get_signin_token, "login": login}
    if action in known:
        return known[action]

    def unknown(request: Request, context: SandboxContext) -> Response:
        raise AwsError("InvalidParameter", f"Unknown Action: {action}", 400)

    return unknown
