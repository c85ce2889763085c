"""The AWS CLI's SSO token cache (``~/.aws/sso/cache/<sha1>.json``), read, refreshed, written.

The file name is the SHA-1 of the profile's ``sso_session`` name, or of its ``sso_start_url``
for a legacy profile; botocore's ``SSOTokenLoader`` and ``SSOTokenProvider`` read the same
files. Whoever reads an expired token that has a refresh token refreshes it (SSO OIDC
CreateToken, grant ``refresh_token``) and writes it back, as botocore's provider does.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..errors import RequestRefused, StsMagicError, refusal_without_frames
from ..private_file import write_private

EXPIRES_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def default_cache_dir() -> Path:
    """The AWS CLI's SSO token cache: ``~/.aws/sso/cache``."""
    return Path(os.path.expanduser(os.path.join("~", ".aws", "sso", "cache")))


def login_hint(profile: str | None) -> str:
    """What to run to sign in again for ``profile``, for the end of an error line."""
    return f"run %sso_login --profile {profile}" if profile else "run %sso_login"


@dataclass(frozen=True)
class SsoSettings:
    """What a profile says about its SSO login, read by botocore's config loader."""

    profile: str
    session_name: str | None
    start_url: str | None
    region: str | None
    scopes: tuple[str, ...]

    @property
    def cache_key(self) -> str:
        """The cache file's name without ``.json``: the SHA-1 of the ``sso-session`` name, else of
        the start URL, as the AWS CLI names it."""
        key = self.session_name or self.start_url or ""
        return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()


def sso_settings(profile: str | None) -> SsoSettings:
    """The profile's ``sso_session`` (or legacy ``sso_start_url``), region and scopes."""
    from botocore.exceptions import ProfileNotFound  # botocore: only when a profile is read

    from ..source import source_session  # source: botocore, only when a profile is read

    session = source_session(profile)
    name = profile or session.profile or "default"
    try:
        scoped = session.get_scoped_config()
    except ProfileNotFound:
        where = "" if profile is not None or not os.environ.get("AWS_PROFILE") else " (AWS_PROFILE)"
        raise StsMagicError(f"profile {name!r}{where} is not in the AWS config files") from None
    session_name = scoped.get("sso_session") or None
    start_url = scoped.get("sso_start_url")
    region = scoped.get("sso_region")
    scopes = scoped.get("sso_registration_scopes") or ""
    if session_name:
        section = session.full_config.get("sso_sessions", {}).get(session_name, {})
        start_url = section.get("sso_start_url", start_url)
        region = section.get("sso_region", region)
        scopes = section.get("sso_registration_scopes", scopes)
    words = tuple(s.strip() for s in str(scopes).split(",") if s.strip())
    return SsoSettings(name, session_name, start_url or None, region or None, words)


def parse_time(value: object) -> datetime:
    """A cache file's ``expiresAt`` / ``registrationExpiresAt`` as an aware UTC datetime."""
    text = str(value)
    try:
        return datetime.strptime(text, EXPIRES_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        # Some writers add fractional seconds or an offset.
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def format_time(value: datetime) -> str:
    """``value`` as the cache files write their times: UTC, ``2026-01-31T12:00:00Z``."""
    return value.astimezone(timezone.utc).strftime(EXPIRES_FORMAT)


@refusal_without_frames
def find_token(
    profile: str | None = None,
    *,
    cache_dir: Path | None = None,
    endpoint_url: str | None = None,
    allow_http: bool = False,
    now: datetime | None = None,
) -> str:
    """The SSO access token cached for ``profile`` (by ``aws sso login`` or ``%sso_login``).

    An expired token with a refresh token (and an unexpired client registration) is refreshed
    through SSO OIDC at ``endpoint_url`` (default: the profile's) and written back; otherwise
    raises, one line, saying to run ``%sso_login``. The refresh carries the refresh token and
    the client secret: its endpoint is checked first, as every request's is (plain http only
    to this machine, unless ``allow_http``), and nothing is sent when it is refused.
    """
    from botocore.exceptions import SSOTokenLoadError  # botocore: only when a token is read
    from botocore.utils import JSONFileCache, SSOTokenLoader  # as above

    settings = sso_settings(profile)
    name = settings.profile
    if not settings.session_name and not settings.start_url:
        raise StsMagicError(
            f"profile {name!r} has no sso_session or sso_start_url; "
            "add one (aws configure sso) or pass --access-token"
        )
    directory = cache_dir or default_cache_dir()
    path = directory / f"{settings.cache_key}.json"
    loader = SSOTokenLoader(cache=JSONFileCache(str(directory)))
    try:
        token = loader(settings.start_url or "", session_name=settings.session_name)
    except SSOTokenLoadError as e:
        if "does not exist" in str(e):
            raise StsMagicError(
                f"no SSO token is cached for profile {name!r}; {login_hint(name)}"
            ) from None
        raise StsMagicError(
            f"the SSO token cached in {str(path)!r} has no accessToken or expiresAt; "
            f"{login_hint(name)}"
        ) from None
    except (KeyError, ValueError, TypeError):
        # The file is there but is not JSON, or botocore misses a field it needs.
        raise StsMagicError(
            f"the SSO token cached in {str(path)!r} is not JSON or has no accessToken or "
            f"expiresAt; {login_hint(name)}"
        ) from None
    expires_at = _expires_at(token.get("expiresAt"))
    access_token = token.get("accessToken")
    if expires_at is None or not isinstance(access_token, str) or not access_token:
        del token, access_token  # the bearer, refresh token and client secret: out of the frame
        raise StsMagicError(
            f"the SSO token cached in {str(path)!r} has no accessToken or an expiresAt that is "
            f"not an ISO 8601 time; {login_hint(name)}"
        )
    now = now or datetime.now(timezone.utc)
    if expires_at > now:
        return access_token
    del access_token
    expired = f"the SSO token for profile {name!r} expired at {expires_at:%Y-%m-%d %H:%M:%S} UTC"
    if not _refreshable(token, now):
        del token
        raise StsMagicError(f"{expired}; {login_hint(name)}")
    from . import oidc  # oidc: urllib.request, only for a refresh

    region = str(token.get("region") or settings.region or "")
    # made (and its endpoint checked) before anything is sent
    client = oidc.client(profile, region, endpoint_url, allow_http=allow_http)
    code: str | None = None
    try:
        answer = oidc.refresh(client, token)
    except RequestRefused as e:
        code = e.code
    if code is not None:
        del token
        raise StsMagicError(f"{expired} and could not be refreshed ({code}); {login_hint(name)}")
    refreshed = {
        **token,
        "accessToken": answer["accessToken"],
        "expiresAt": format_time(now + timedelta(seconds=answer["expiresIn"])),
    }
    if answer.get("refreshToken"):
        refreshed["refreshToken"] = answer["refreshToken"]
    write_private(path, json.dumps(refreshed))
    return str(answer["accessToken"])


def _refreshable(token: dict[str, Any], now: datetime) -> bool:
    fields = ("refreshToken", "clientId", "clientSecret")
    if not all(isinstance(token.get(k), str) and token[k] for k in fields):
        return False
    return (_expires_at(token.get("registrationExpiresAt")) or now) > now


def _expires_at(value: object) -> datetime | None:
    """A cache file's time (``expiresAt``) as an aware UTC datetime; None when not ISO 8601."""
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


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
    """Cache a token as ``aws sso login`` would (0600 from creation); returns the file written.

    ``extra`` adds the CLI's other fields (``clientId``, ``clientSecret``,
    ``registrationExpiresAt``, ``refreshToken``) when known.
    """
    directory = cache_dir or default_cache_dir()
    token: dict[str, Any] = {
        "startUrl": start_url,
        "region": region,
        "accessToken": access_token,
        "expiresAt": format_time(expires_at),
        **extra,
    }
    try:
        text = json.dumps(token)
    except (TypeError, ValueError):
        raise StsMagicError("the SSO token's extra fields are not JSON") from None
    key = hashlib.sha1((session_name or start_url).encode(), usedforsecurity=False).hexdigest()
    path = directory / f"{key}.json"
    write_private(path, text)
    return path
