"""Fresh, unique key material in the shapes AWS uses (ASIA ids, 40-character secrets)."""

from __future__ import annotations

import secrets
import string

_KEY_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


def access_key_id(prefix: str = "ASIA") -> str:
    """``ASIA`` + 16 base32 characters, as STS issues them."""
    return prefix + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16))


def secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def session_token() -> str:
    # Real session tokens are long opaque base64 blobs; length matters to clients that store them.
    return "IQoJb3JpZ2luX2VjE" + secrets.token_urlsafe(240)


def unique_id(prefix: str) -> str:
    """An IAM unique id such as ``AROA...`` (21 characters)."""
    return prefix + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(17))


def opaque(prefix: str, nbytes: int = 48) -> str:
    """A bearer-style opaque token: trade-in tokens, SSO access tokens, device codes."""
    return prefix + secrets.token_urlsafe(nbytes)


def user_code() -> str:
    """A device-flow user code such as ``BCDF-GHJK``."""
    chars = [secrets.choice(_USER_CODE_ALPHABET) for _ in range(8)]
    return "".join(chars[:4]) + "-" + "".join(chars[4:])
