"""SSO login without a terminal: the SSO OIDC device authorization ``aws sso login`` runs.

RegisterClient (a public client), StartDeviceAuthorization, the user opens the verification
link and approves, CreateToken is polled at the server's ``interval`` (SlowDown adds 5 s) until
approved, expired or out of time; then the token goes where the AWS CLI caches it, so
``%sso_role``, ``%sts_profile``, botocore and the AWS CLI all use it. Nothing here knows IPython:
``show`` puts the link in front of the user, ``sleep`` and ``clock`` are injectable.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import limits
from ..errors import ParameterError, RequestRefused, StsMagicError, refusal_without_frames
from ..source.plain_http import is_loopback
from . import cache
from . import oidc as sso_oidc

MAX_TIMEOUT = 3600.0
SLOW_DOWN_SECONDS = 5
CLIENT_NAME = "stsmagic"

# Looked up at each call, so a test (or a notebook demo) can swap them for the whole module.
_sleep: Callable[[float], object] = time.sleep
_clock: Callable[[], float] = time.monotonic


class LoginNotApproved(StsMagicError):
    """The device authorization was not approved in time (``--timeout``) or expired."""


@dataclass(frozen=True)
class DeviceAuthorization:
    """What the user needs to approve the login: the link and the code it must show."""

    verification_uri: str
    verification_uri_complete: str
    user_code: str
    expires_in: int
    interval: int

    def text(self) -> str:
        """The line that asks the user to approve, as plain text."""
        return (
            f"To sign in, open {self.verification_uri_complete} and check that it shows the "
            f"code {self.user_code}; waiting for your approval (interrupt the kernel to stop)."
        )

    def html(self) -> str:
        """The same line as HTML, the link clickable only if it is https."""
        url = html.escape(self.verification_uri_complete, quote=True)
        code = html.escape(self.user_code)
        if is_safe_link(self.verification_uri_complete):
            link = f"<a href=\"{url}\" target='_blank' rel='noopener noreferrer'>{url}</a>"
        else:
            link = f"<code>{url}</code> (not an https link, so not made clickable)"
        return (
            f"<div class='stsmagic-sso-login'>To sign in, open {link} and check "
            f"that it shows the code <code><b>{code}</b></code>; waiting for your approval "
            "(interrupt the kernel to stop).</div>"
        )


def is_safe_link(url: str) -> bool:
    """An https link, or http to this machine (the sandbox's), read unambiguously: anything
    else (``javascript:``, http to another host) is shown as text, never as a link."""
    try:
        host = limits.endpoint_host(url)
    except ParameterError:
        return False
    scheme = urlsplit(url).scheme.lower()
    return scheme == "https" or (scheme == "http" and is_loopback(host))


@dataclass(frozen=True)
class SsoLogin:
    """A finished login: where the token was cached and until when (no secret in here)."""

    profile: str
    path: Path
    expires_at: datetime
    start_url: str
    session_name: str | None

    def __str__(self) -> str:
        return (
            f"Logged in: SSO token for profile {self.profile!r} cached until "
            # the folder, not the file: its name is a 40-hex SHA-1, which reads like a secret
            f"{self.expires_at:%Y-%m-%d %H:%M:%S} UTC in {self.path.parent}"
        )


def check_timeout(timeout: float | None) -> float | None:
    """``timeout`` in seconds if it is over 0 and at most 3600 (None stays None), else a
    ``ParameterError``.
    """
    if timeout is None:
        return None
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ParameterError(
            "timeout",
            f"{timeout:g} seconds is out of range",
            f"must be over 0 and at most {MAX_TIMEOUT:g}",
        )
    return float(timeout)


@refusal_without_frames
def sso_login(
    profile: str | None = None,
    *,
    timeout: float | None = None,
    endpoint_url: str | None = None,
    allow_http: bool = False,
    cache_dir: Path | None = None,
    show: Callable[[DeviceAuthorization], object] | None = None,
    sleep: Callable[[float], object] | None = None,
    clock: Callable[[], float] | None = None,
) -> SsoLogin:
    """Log in to IAM Identity Center for ``profile`` and cache the token as the AWS CLI does.

    ``show(authorization)`` presents the link and code (default: print them). Polls until the
    user approves, the device code expires or ``timeout`` seconds pass (``LoginNotApproved``;
    nothing is written). A ``KeyboardInterrupt`` while waiting propagates; nothing is written.
    The OIDC endpoint (``endpoint_url``, else the profile's) follows the http rule of every
    request: plain http only to this machine, unless ``allow_http``. Every failure is one
    line, raised without the frames that held the client secret, device code or tokens.
    """
    timeout = check_timeout(timeout)
    if endpoint_url is not None:
        endpoint_url = limits.endpoint_url(endpoint_url)
    settings = cache.sso_settings(profile)
    if not settings.start_url:
        raise StsMagicError(
            f"profile {settings.profile!r} has no sso_session or sso_start_url; "
            "add one with `aws configure sso` or edit the AWS config file"
        )
    if not settings.region:
        raise StsMagicError(f"profile {settings.profile!r} has no sso_region; add it")
    sleep = sleep or _sleep
    clock = clock or _clock
    oidc = sso_oidc.client(profile, settings.region, endpoint_url, allow_http=allow_http)

    registration_request: dict[str, object] = {"clientName": CLIENT_NAME, "clientType": "public"}
    if settings.scopes:
        registration_request["scopes"] = list(settings.scopes)
    registration = sso_oidc.call(oidc, "RegisterClient", registration_request)
    client = {"clientId": registration["clientId"], "clientSecret": registration["clientSecret"]}
    device = sso_oidc.call(
        oidc, "StartDeviceAuthorization", {**client, "startUrl": settings.start_url}
    )
    # sso_oidc.call checked every field read here: its type and its range
    authorization = DeviceAuthorization(
        verification_uri=device["verificationUri"],
        verification_uri_complete=device.get("verificationUriComplete")
        or device["verificationUri"],
        user_code=device["userCode"],
        expires_in=device["expiresIn"],
        interval=device.get("interval") or 5,
    )
    (show or _print)(authorization)

    answer = _poll(oidc, client, device["deviceCode"], authorization, timeout, sleep, clock)
    now = datetime.now(timezone.utc)
    expires_at = now + timedelta(seconds=answer["expiresIn"])
    extra: dict[str, object] = {
        "clientId": client["clientId"],
        "clientSecret": client["clientSecret"],
        "registrationExpiresAt": cache.format_time(
            datetime.fromtimestamp(registration["clientSecretExpiresAt"], timezone.utc)
        ),
    }
    if answer.get("refreshToken"):
        extra["refreshToken"] = answer["refreshToken"]
    path = cache.write_token(
        start_url=settings.start_url,
        access_token=answer["accessToken"],
        expires_at=expires_at,
        region=settings.region,
        session_name=settings.session_name,
        cache_dir=cache_dir,
        **extra,
    )
    return SsoLogin(settings.profile, path, expires_at, settings.start_url, settings.session_name)


def _poll(
    oidc: object,
    client: dict[str, object],
    device_code: str,
    authorization: DeviceAuthorization,
    timeout: float | None,
    sleep: Callable[[float], object],
    clock: Callable[[], float],
) -> dict[str, Any]:
    """CreateToken every ``interval`` seconds until the user approves."""
    limit = float(authorization.expires_in)
    if timeout is not None and timeout < limit:
        limit, why = timeout, f"was not approved within {timeout:g} s (--timeout)"
    else:
        why = f"expired after {authorization.expires_in} s without approval"
    started = clock()
    interval = authorization.interval
    request = {**client, "grantType": sso_oidc.DEVICE_GRANT, "deviceCode": device_code}
    while True:
        if clock() - started + interval > limit:
            raise LoginNotApproved(f"the SSO login {why}; nothing was cached; run it again")
        sleep(interval)
        try:
            return sso_oidc.call(oidc, "CreateToken", request)
        except RequestRefused as e:
            if e.code == "AuthorizationPendingException":
                continue
            if e.code == "SlowDownException":
                interval += SLOW_DOWN_SECONDS
                continue
            if e.code == "ExpiredTokenException":
                raise LoginNotApproved(
                    "the SSO login expired without approval; nothing was cached; run it again"
                ) from None
            raise


def _print(authorization: DeviceAuthorization) -> None:
    print(authorization.text())
