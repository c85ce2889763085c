"""Odd answers an endpoint can give with a 200: STS XML and SSO JSON bodies whose credentials
(and the tokens a test sends for them) must never be shown anywhere."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

# What the odd answers carry.
ODD_SECRET = "oddSecretKey0123456789oddSecretKey01234567"
ODD_TOKEN = "oddSessionToken" + "Q" * 60
TRADE_IN = "tradeInToken-" + "T" * 40
BEARER = "bearerToken-" + "B" * 40
LATER = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
EARLIER = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def sts_body(credentials: str | None, operation: str = "GetSessionToken") -> bytes:
    inner = "" if credentials is None else f"<Credentials>{credentials}</Credentials>"
    return (
        f'<{operation}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<{operation}Result>{inner}</{operation}Result>"
        "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()


def creds(*, secret: bool = True, expiration: str | None = LATER) -> str:
    parts = "<AccessKeyId>ASIAODDODDODDODD0001</AccessKeyId>"
    if secret:
        parts += f"<SecretAccessKey>{ODD_SECRET}</SecretAccessKey>"
    parts += f"<SessionToken>{ODD_TOKEN}</SessionToken>"
    if expiration is not None:
        parts += f"<Expiration>{expiration}</Expiration>"
    return parts


def sso_body(expiration: object = "later", *, cut: bool = False) -> bytes:
    role: dict[str, object] = {
        "accessKeyId": "ASIAODDODDODDODD0002",
        "secretAccessKey": ODD_SECRET,
        "sessionToken": ODD_TOKEN,
    }
    if expiration == "later":
        role["expiration"] = int((datetime.now(timezone.utc).timestamp() + 3600) * 1000)
    elif expiration is not None:
        role["expiration"] = expiration
    body = json.dumps({"roleCredentials": role}).encode()
    return body[: body.index(ODD_SECRET.encode()) + 10] if cut else body
