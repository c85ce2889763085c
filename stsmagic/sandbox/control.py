"""The control API under ``/_sandbox/``: lets a process that did not start the sandbox (a
notebook kernel, the demo, a browser test) play the user's authenticator and identity
provider. It never serves a secret of the sandbox's own (source secret key, MFA seed);
what it hands out (trade-in tokens, SSO tokens) is issued to the caller, as AWS would.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from html import escape
from typing import Any
from urllib.parse import parse_qs

from . import oidc, wire
from .context import SandboxContext
from .request import Request
from .wire import Response, json_result

PREFIX = "/_sandbox/"


def _json_body(request: Request) -> dict[str, Any]:
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _error(status: int, message: str) -> Response:
    return json_result({"error": message}, status=status)


def _device_page(user_code: str) -> Response:
    page = (
        "<!doctype html><title>stsmagic sandbox: approve device</title>"
        "<h1>Authorize request</h1>"
        '<form method="post" action="/_sandbox/device">'
        f'<label>Code <input name="user_code" value="{escape(user_code)}"></label>'
        "<button>Allow</button></form>"
    )
    return Response(200, page.encode(), [("Content-Type", "text/html; charset=utf-8")])


def handle(request: Request, context: SandboxContext) -> Response:
    try:
        return _handle(request, context)
    except (TypeError, ValueError) as error:  # a malformed number in the JSON body
        return _error(400, f"bad request to {request.path}: {type(error).__name__}")


def _handle(request: Request, context: SandboxContext) -> Response:
    name, method = request.path[len(PREFIX) :], request.method
    body = _json_body(request) if method == "POST" else {}
    if (name, method) == ("info", "GET"):
        return json_result(context.info())
    if (name, method) == ("mfa-code", "GET"):
        return json_result({"code": context.mfa_code()})
    if (name, method) == ("trade-in-token", "POST"):
        token = context.mint_trade_in_token(
            body.get("principal_arn"),
            float(body.get("expires_in", 300)),
            policy=body.get("policy"),
            duration_seconds=int(body.get("duration_seconds", 3600)),
        )
        return json_result({"token": token})
    if (name, method) == ("sso-token", "POST"):
        token, expires_at = context.sso_access_token(int(body.get("expires_in", 28800)))
        return json_result(
            {"accessToken": token, "expiresAt": wire.iso8601(context.on_the_wire(expires_at))}
        )
    if (name, method) == ("approve-device", "POST"):
        code = str(body.get("user_code", ""))
        if not oidc.approve(context, code):
            return _error(404, f"no pending device authorization with user code {code!r}")
        return json_result({"approved": True, "user_code": code})
    if (name, method) == ("advance", "POST"):
        context.state.clock.advance(float(body.get("seconds", 0)))
        return json_result({"offset_seconds": context.state.clock.offset.total_seconds()})
    if name == "device" and method == "GET":
        return _device_page(request.query.get("user_code", [""])[-1])
    if name == "device" and method == "POST":
        form = parse_qs(request.body.decode("utf-8", "replace"))
        code = form.get("user_code", [""])[-1]
        approved = oidc.approve(context, code)
        text = "Request approved. You can close this window." if approved else "Unknown code."
        return Response(
            200 if approved else 404, text.encode(), [("Content-Type", "text/plain; charset=utf-8")]
        )
    return _error(404, f"no control endpoint {method} {request.path}")


class SandboxClient:
    """A running sandbox's control API, from any process: the same Python face as
    ``Sandbox`` for the MFA code, trade-in and SSO tokens, and device approval."""

    endpoint_url: str
    signin_url: str
    account_id: str
    region: str
    user_name: str
    user_arn: str
    mfa_serial: str
    sso_start_url: str
    sso_region: str
    sso_account_id: str
    sso_role_name: str
    external_id: str

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        for field, value in self._call("GET", "info").items():
            setattr(self, field, value)

    def __repr__(self) -> str:
        return f"SandboxClient({self.endpoint_url!r})"

    def _call(self, method: str, name: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is the sandbox's, http only
            f"{self.endpoint_url}{PREFIX}{name}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = json.loads(error.read() or b"{}").get("error", error.reason)
            raise RuntimeError(f"sandbox control API {method} {name}: {detail}") from None

    def mfa_code(self) -> str:
        """The MFA code the seeded user's device shows now, by the sandbox's clock."""
        return str(self._call("GET", "mfa-code")["code"])

    def role_arn(self, which: str = "plain") -> str:
        """The ARN of a seeded role: ``"plain"``, ``"mfa"`` or ``"external-id"``."""
        arn = getattr(self, f"role_arn_{which.replace('-', '_')}", None)
        if arn is None:
            raise ValueError(f"no seeded role {which!r}; choose plain, mfa or external-id")
        return str(arn)

    def mint_trade_in_token(
        self, principal_arn: str | None = None, expires_in: float = 300, **extra: Any
    ) -> str:
        """A single-use trade-in token for GetDelegatedAccessToken (see
        ``Sandbox.mint_trade_in_token``)."""
        payload = {"principal_arn": principal_arn, "expires_in": expires_in, **extra}
        return str(self._call("POST", "trade-in-token", payload)["token"])

    def sso_access_token(self, expires_in: int = 28800) -> str:
        """An SSO portal bearer token, as ``aws sso login`` would have cached it."""
        return str(self._call("POST", "sso-token", {"expires_in": expires_in})["accessToken"])

    def approve_device(self, user_code: str) -> None:
        """Approve a pending device authorization, as the user would in the browser."""
        self._call("POST", "approve-device", {"user_code": user_code})

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock forward by ``seconds``, as ``Sandbox.advance``."""
        self._call("POST", "advance", {"seconds": seconds})


def connect(endpoint_url: str | None = None) -> SandboxClient:
    """The sandbox at ``endpoint_url`` (default: ``AWS_ENDPOINT_URL``)."""
    url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if not url:
        raise RuntimeError("no sandbox to connect to: pass endpoint_url or set AWS_ENDPOINT_URL")
    return SandboxClient(url)
