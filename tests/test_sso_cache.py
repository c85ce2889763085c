"""sso_cache: the AWS CLI's token cache, found through the profile as the CLI finds it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from stsmagic.errors import StsMagicError
from stsmagic.sso.cache import default_cache_dir, find_token, write_token

START_URL = "https://d-1234567890.awsapps.com/start"
SOON = timedelta(hours=8)


def sso_session_profile(aws: Path, name: str = "dev", session: str = "corp") -> None:
    aws.joinpath("config").write_text(
        f"[profile {name}]\nsso_session = {session}\nsso_account_id = 123456789012\n"
        "sso_role_name = Admin\nregion = us-east-1\n"
        f"[sso-session {session}]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"
    )


def test_written_in_the_cli_format(clean_environ: Path, tmp_path: Path) -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, 600, tzinfo=timezone.utc)
    path = write_token(
        start_url=START_URL,
        access_token="tok",
        expires_at=expires,
        region="us-east-1",
        session_name="corp",
        clientId="cid",
    )
    assert path == tmp_path / ".aws" / "sso" / "cache" / (
        hashlib.sha1(b"corp").hexdigest() + ".json"
    )
    assert path.parent == default_cache_dir()
    assert json.loads(path.read_text()) == {
        "startUrl": START_URL,
        "region": "us-east-1",
        "accessToken": "tok",
        "expiresAt": "2030-01-02T03:04:05Z",
        "clientId": "cid",
    }
    assert path.stat().st_mode & 0o777 == 0o600


def test_found_for_a_profile_with_an_sso_session(clean_environ: Path) -> None:
    sso_session_profile(clean_environ)
    write_token(
        start_url=START_URL,
        access_token="the-token",
        expires_at=datetime.now(timezone.utc) + SOON,
        region="us-east-1",
        session_name="corp",
    )
    assert find_token("dev") == "the-token"


def test_legacy_profile_keyed_by_start_url(
    clean_environ: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_environ.joinpath("config").write_text(
        f"[profile old]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"
    )
    path = write_token(
        start_url=START_URL,
        access_token="legacy",
        expires_at=datetime.now(timezone.utc) + SOON,
        region="us-east-1",
    )
    assert path.name == hashlib.sha1(START_URL.encode()).hexdigest() + ".json"
    monkeypatch.setenv("AWS_PROFILE", "old")
    assert find_token() == "legacy"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("none", "no SSO token is cached for profile 'dev'; run %sso_login --profile dev"),
        ("expired", "the SSO token for profile 'dev' expired at"),
        ("no-sso", "profile 'dev' has no sso_session or sso_start_url"),
        ("garbage", "the SSO token cached in"),
    ],
)
def test_missing_or_expired_says_to_log_in(clean_environ: Path, setup: str, message: str) -> None:
    sso_session_profile(clean_environ)
    if setup == "expired":
        write_token(
            start_url=START_URL,
            access_token="old-secret-token",
            expires_at=datetime.now(timezone.utc) - timedelta(minutes=1),
            region="us-east-1",
            session_name="corp",
        )
    elif setup == "no-sso":
        clean_environ.joinpath("config").write_text("[profile dev]\nregion = us-east-1\n")
    elif setup == "garbage":
        cache = default_cache_dir()
        cache.mkdir(parents=True)
        cache.joinpath(hashlib.sha1(b"corp").hexdigest() + ".json").write_text("{not json")
    with pytest.raises(StsMagicError) as caught:
        find_token("dev")
    assert str(caught.value).startswith(message)
    assert "old-secret-token" not in str(caught.value) and "\n" not in str(caught.value)


def test_unknown_profile(clean_environ: Path) -> None:
    with pytest.raises(StsMagicError, match="profile 'nope' is not in the AWS config files"):
        find_token("nope")


def test_cached_token_gets_role_credentials(sandbox: Any, clean_environ: Path) -> None:
    """The whole path a `%sso_role` without --access-token takes, against the SSO portal."""
    from stsmagic.broker import Broker

    sso_session_profile(clean_environ)
    write_token(
        start_url=sandbox.sso_start_url,
        access_token=sandbox.sso_access_token(),
        expires_at=datetime.now(timezone.utc) + SOON,
        region=sandbox.sso_region,
        session_name="corp",
    )
    session = Broker(profile="dev", endpoint_url=sandbox.endpoint_url).get_role_credentials(
        accountId=sandbox.sso_account_id,
        roleName=sandbox.sso_role_name,
        accessToken=find_token("dev"),
    )
    assert session.kind == "sso" and session.profile == "dev"
    assert session.credentials.secret_key in sandbox.issued_secrets()


@pytest.mark.parametrize("expires_at", ["next tuesday", "2030-13-45T99:00:00Z", 1893456000, None])
def test_cache_entry_whose_expires_at_is_not_iso_is_one_line_naming_the_file(
    clean_environ: Path, expires_at: object
) -> None:
    """Issue 12 item 7: one line naming the file; no frame under Verbose shows the bearer, the
    refresh token or the client secret."""
    from tests.helpers.verbose import leaked, verbose_traceback

    sso_session_profile(clean_environ)
    secrets = ["bearer-" + "b" * 40, "refresh-" + "r" * 40, "client-secret-" + "c" * 40]
    path = default_cache_dir() / (hashlib.sha1(b"corp").hexdigest() + ".json")
    path.parent.mkdir(parents=True)
    entry = {
        "startUrl": START_URL,
        "region": "us-east-1",
        "accessToken": secrets[0],
        "refreshToken": secrets[1],
        "clientSecret": secrets[2],
        "clientId": "cid",
    }
    if expires_at is not None:
        entry["expiresAt"] = expires_at
    path.write_text(json.dumps(entry))
    with pytest.raises(StsMagicError) as caught:
        find_token("dev")
    message = str(caught.value)
    assert str(path) in message and "expiresAt" in message and "\n" not in message
    assert "%sso_login --profile dev" in message
    assert leaked(message + verbose_traceback(caught.value), secrets) == []
