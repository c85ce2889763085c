"""The AWS CLI's SSO token cache (``~/.aws/sso/cache/<sha1>.json``), read and written.

The file name is the SHA-1 of the profile's ``sso_session`` name, or of its ``sso_start_url``
for a legacy profile; botocore's ``SSOTokenLoader`` and ``JSONFileCache`` know the format.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import StsMagicError

EXPIRES_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def default_cache_dir() -> Path:
    return Path(os.path.expanduser(os.path.join("~", ".aws", "sso", "cache")))


def _login_hint(profile: str | None) -> str:
    return f"run `aws sso login --profile {profile}`" if profile else "run `aws sso login`"


def _profile_sso(profile: str | None) -> tuple[str | None, str | None]:
    """The profile's (sso_session name, sso_start_url), read by botocore's config loader."""
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    session = botocore.session.Session(profile=profile)
    try:
        scoped = session.get_scoped_config()
    except ProfileNotFound:
        raise StsMagicError(f"profile {profile!r} is not in the AWS config files") from None
    session_name = scoped.get("sso_session")
    start_url = scoped.get("sso_start_url")
    if session_name:
        sso_sessions = session.full_config.get("sso_sessions", {})
        start_url = sso_sessions.get(session_name, {}).get("sso_start_url", start_url)
    return session_name, start_url


def find_token(profile: str | None = None, *, cache_dir: Path | None = None) -> str:
    """The SSO access token the AWS CLI cached for ``profile``; raises when missing or expired."""
    from botocore.exceptions import SSOTokenLoadError
    from botocore.utils import JSONFileCache, SSOTokenLoader

    name = profile or os.environ.get("AWS_PROFILE") or "default"
    session_name, start_url = _profile_sso(profile)
    if not session_name and not start_url:
        raise StsMagicError(
            f"profile {name!r} has no sso_session or sso_start_url; "
            "add one (aws configure sso) or pass --access-token"
        )
    loader = SSOTokenLoader(cache=JSONFileCache(str(cache_dir or default_cache_dir())))
    try:
        token = loader(start_url or "", session_name=session_name or None)
    except SSOTokenLoadError as e:
        if "does not exist" in str(e):
            raise StsMagicError(
                f"no SSO token is cached for profile {name!r}; {_login_hint(name)}"
            ) from None
        path = cache_file(session_name or start_url or "", cache_dir)
        raise StsMagicError(
            f"the SSO token cached in {str(path)!r} has no accessToken or expiresAt; "
            f"{_login_hint(name)}"
        ) from None
    except (KeyError, ValueError):
        # The file is there but is not JSON, or botocore misses a field it needs.
        path = cache_file(session_name or start_url or "", cache_dir)
        raise StsMagicError(
            f"the SSO token cached in {str(path)!r} is not JSON or has no accessToken or "
            f"expiresAt; {_login_hint(name)}"
        ) from None
    expires_at = _expires_at(token.get("expiresAt"))
    access_token = token.get("accessToken")
    del token  # it holds the refresh token and client secret: out of this frame from here on
    if expires_at is None or not isinstance(access_token, str) or not access_token:
        path = cache_file(session_name or start_url or "", cache_dir)
        raise StsMagicError(
            f"the SSO token cached in {str(path)!r} has no accessToken or an expiresAt that is "
            f"not an ISO 8601 time; {_login_hint(name)}"
        )
    if expires_at <= datetime.now(timezone.utc):
        raise StsMagicError(
            f"the SSO token for profile {name!r} expired at {expires_at:%Y-%m-%d %H:%M:%S} UTC; "
            f"{_login_hint(name)}"
        )
    return access_token


def cache_file(key: str, cache_dir: Path | None = None) -> Path:
    """The AWS CLI's cache file for an ``sso_session`` name (or a legacy start URL)."""
    digest = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()
    return (cache_dir or default_cache_dir()) / f"{digest}.json"


def _expires_at(value: object) -> datetime | None:
    """The cache's ``expiresAt`` as an aware UTC datetime; None when it is not ISO 8601."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.strptime(value, EXPIRES_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        try:  # some writers add fractional seconds or an offset
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def write_token(
    *,
    start_url: str,
    access_token: str,
    expires_at: datetime,
    region: str,
    session_name: str | None = None,
    cache_dir: Path | None = None,
    **extra: Any,
) -> Path:
    """Cache a token as ``aws sso login`` would; returns the file written.

    ``extra`` adds the CLI's other fields (``clientId``, ``clientSecret``,
    ``registrationExpiresAt``, ``refreshToken``) when known.
    """
    from botocore.utils import JSONFileCache, SSOTokenLoader

    directory = cache_dir or default_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    token: dict[str, Any] = {
        "startUrl": start_url,
        "region": region,
        "accessToken": access_token,
        "expiresAt": expires_at.astimezone(timezone.utc).strftime(EXPIRES_FORMAT),
        **extra,
    }
    cache = JSONFileCache(str(directory))
    loader = SSOTokenLoader(cache=cache)
    try:
        loader.save_token(start_url, token, session_name=session_name)
    except ValueError:
        # botocore's message would hold the token itself.
        raise StsMagicError("the SSO token's extra fields are not JSON") from None
    key = hashlib.sha1((session_name or start_url).encode(), usedforsecurity=False).hexdigest()
    return directory / f"{key}.json"
