"""SSO OIDC: RegisterClient, StartDeviceAuthorization and CreateToken (device code and
refresh token grants), the device flow ``aws sso login`` drives. A device is approved with
``Sandbox.approve_device(user_code)``, playing the user at the browser.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from . import tokens
from .context import SandboxContext
from .request import Request
from .state import DeviceGrant, OidcClient
from .wire import AwsError, Response, json_error, json_result

PATHS = {
    "/client/register": "RegisterClient",
    "/device_authorization": "StartDeviceAuthorization",
    "/token": "CreateToken",
}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CLIENT_LIFETIME = timedelta(days=90)
DEVICE_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_SECONDS = 28800

# OAuth's own error names for each AWS exception, carried in the body's "error" field.
_OAUTH = {
    "AuthorizationPendingException": "authorization_pending",
    "ExpiredTokenException": "expired_token",
    "InvalidClientException": "invalid_client",
    "InvalidGrantException": "invalid_grant",
    "InvalidRequestException": "invalid_request",
    "UnsupportedGrantTypeException": "unsupported_grant_type",
    "AccessDeniedException": "access_denied",
    "SlowDownException": "slow_down",
}


def render_error(error: AwsError) -> Response:
    extra = {"error": _OAUTH.get(error.code, "server_error"), "error_description": error.message}
    return json_error(error, extra)


def _body(request: Request) -> dict[str, Any]:
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        raise AwsError("InvalidRequestException", "Request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise AwsError("InvalidRequestException", "Request body must be a JSON object")
    return payload


def _client(payload: dict[str, Any], context: SandboxContext) -> str:
    client_id = str(payload.get("clientId") or "")
    with context.state.lock:
        client = context.state.oidc_clients.get(client_id)
    if (
        client is None
        or client.client_secret != payload.get("clientSecret")
        or client.expires_at <= context.now()
    ):
        raise AwsError("InvalidClientException", "Invalid client", 401)
    return client_id


def register_client(request: Request, context: SandboxContext) -> Response:
    payload = _body(request)
    if not payload.get("clientName") or payload.get("clientType") != "public":
        raise AwsError(
            "InvalidRequestException", "clientName is required and clientType must be 'public'"
        )
    now = context.on_the_wire(context.now())
    client_id, secret = tokens.opaque("", 16), tokens.opaque("", 96)
    with context.state.lock:
        context.state.oidc_clients[client_id] = OidcClient(secret, context.now() + CLIENT_LIFETIME)
    context.state.remember_secret(secret)
    return json_result(
        {
            "clientId": client_id,
            "clientSecret": secret,
            "clientIdIssuedAt": int(now.timestamp()),
            "clientSecretExpiresAt": int((now + CLIENT_LIFETIME).timestamp()),
        }
    )


def start_device_authorization(request: Request, context: SandboxContext) -> Response:
    payload = _body(request)
    client_id = _client(payload, context)
    if payload.get("startUrl") != context.sso_start_url:
        raise AwsError("InvalidRequestException", "Invalid start URL")
    grant = DeviceGrant(
        client_id, tokens.opaque("", 48), tokens.user_code(), context.now() + DEVICE_LIFETIME
    )
    with context.state.lock:
        context.state.devices[grant.device_code] = grant
    context.state.remember_secret(grant.device_code)
    verification = f"{context.endpoint_url}/_sandbox/device"
    return json_result(
        {
            "deviceCode": grant.device_code,
            "userCode": grant.user_code,
            "verificationUri": verification,
            "verificationUriComplete": f"{verification}?user_code={grant.user_code}",
            "expiresIn": int(DEVICE_LIFETIME.total_seconds()),
            "interval": 1,
        }
    )


def _tokens(context: SandboxContext, client_id: str) -> Response:
    access, _expires = context.sso_access_token(ACCESS_TOKEN_SECONDS)
    refresh = tokens.opaque("aor", 64)
    with context.state.lock:
        context.state.refresh_tokens[refresh] = client_id
    context.state.remember_secret(refresh)
    return json_result(
        {
            "accessToken": access,
            "tokenType": "Bearer",
            "expiresIn": ACCESS_TOKEN_SECONDS,
            "refreshToken": refresh,
        }
    )


def create_token(request: Request, context: SandboxContext) -> Response:
    payload = _body(request)
    client_id = _client(payload, context)
    grant_type = payload.get("grantType")
    if grant_type == DEVICE_GRANT:
        with context.state.lock:
            grant = context.state.devices.get(str(payload.get("deviceCode") or ""))
            if grant is None or grant.client_id != client_id or grant.redeemed:
                raise AwsError("InvalidGrantException", "Invalid grant provided")
            if grant.expires_at <= context.now():
                raise AwsError("ExpiredTokenException", "Device code has expired")
            if not grant.approved:
                raise AwsError("AuthorizationPendingException", "Authorization is pending")
            grant.redeemed = True
        return _tokens(context, client_id)
    if grant_type == "refresh_token":
        refresh = str(payload.get("refreshToken") or "")
        with context.state.lock:
            owner = context.state.refresh_tokens.get(refresh)
            if owner != client_id:
                raise AwsError("InvalidGrantException", "Invalid refresh token provided")
            del context.state.refresh_tokens[refresh]
        return _tokens(context, client_id)
    raise AwsError("UnsupportedGrantTypeException", f"Unsupported grant type: {grant_type}")


def approve(context: SandboxContext, user_code: str) -> bool:
    """The user types ``user_code`` at the verification page and consents."""
    with context.state.lock:
        for grant in context.state.devices.values():
            if grant.user_code == user_code and not grant.redeemed:
                grant.approved = True
                return True
    return False


HANDLERS: dict[str, Callable[[Request, SandboxContext], Response]] = {
    "RegisterClient": register_client,
    "StartDeviceAuthorization": start_device_authorization,
    "CreateToken": create_token,
}
