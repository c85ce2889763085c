"""Broker against the sandbox over HTTP: the four requests, the profile's settings, refusals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

import stsmagic
from stsmagic.broker import Broker
from stsmagic.errors import ParameterError, RequestRefused
from stsmagic.session import IssuedSession
from tests.helpers.answering_server import AnsweringServer
from tests.helpers.aws_clients import caller_arn, sandbox_client

FAST = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=2)


def own_arn(session: IssuedSession, sandbox: Any) -> str:
    """GetCallerIdentity signed with the issued session's own keys: who the sandbox says it is."""
    return caller_arn(sandbox_client(sandbox, "sts", session.credentials))


def last_request(sandbox: Any) -> Any:
    return sandbox.requests[-1]


def test_session_token_with_the_profiles_mfa_serial(sandbox: Any, aws_profile: Path) -> None:
    broker = Broker()
    assert broker.mfa_serial == sandbox.mfa_serial
    assert broker.region_name == "us-east-1"
    before = datetime.now(timezone.utc)
    session = broker.get_session_token(TokenCode=sandbox.mfa_code(), DurationSeconds=900)
    sent = last_request(sandbox)
    assert (sent.operation, sent.status) == ("GetSessionToken", 200)
    assert sent.access_key_id == sandbox.source_credentials.access_key  # signed by the source
    assert session.kind == "session" and session.principal is None
    assert session.access_key_id.startswith("ASIA")
    assert session.access_key_id != sandbox.source_credentials.access_key
    assert session.credentials.secret_key in sandbox.issued_secrets()
    assert session.credentials.token in sandbox.issued_secrets()
    assert before <= session.issued_at <= datetime.now(timezone.utc)
    longer = broker.get_session_token(DurationSeconds=1800)
    assert timedelta(seconds=895) < longer.expiration - session.expiration < timedelta(seconds=905)
    assert (session.profile, session.region) == ("default", "us-east-1")
    assert own_arn(session, sandbox) == sandbox.user_arn
    assert last_request(sandbox).access_key_id == session.access_key_id


def test_federation_token(sandbox: Any, aws_profile: Path) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    session = Broker().get_federation_token(
        Name="bob", Policy=policy, Tags={"team": "data"}, DurationSeconds=3600, label="fed"
    )
    arn = f"arn:aws:sts::{sandbox.account_id}:federated-user/bob"
    assert (session.kind, session.principal, session.label) == ("federation", arn, "fed")
    assert isinstance(session.packed_policy_size, int) and 0 < session.packed_policy_size < 100
    assert own_arn(session, sandbox) == arn


def test_delegated_access_token(sandbox: Any, aws_profile: Path) -> None:
    principal = f"arn:aws:sts::{sandbox.account_id}:assumed-role/Partner/handover"
    token = sandbox.mint_trade_in_token(principal_arn=principal)
    session = Broker().get_delegated_access_token(TradeInToken=token)
    assert (session.kind, session.principal) == ("delegated", principal)
    assert own_arn(session, sandbox) == principal
    # Single use: the second trade is refused with AWS's code, and nothing is issued.
    with pytest.raises(RequestRefused) as caught:
        Broker().get_delegated_access_token(TradeInToken=token)
    assert caught.value.code == "ExpiredTradeInTokenException"
    assert token not in str(caught.value)


def test_expired_trade_in_token(sandbox: Any, aws_profile: Path) -> None:
    # Already expired when minted: the sandbox's clock is shared, so it is not moved here.
    token = sandbox.mint_trade_in_token(expires_in=-1)
    with pytest.raises(RequestRefused) as caught:
        Broker().get_delegated_access_token(TradeInToken=token)
    assert caught.value.code == "ExpiredTradeInTokenException"
    assert str(caught.value) == (
        "GetDelegatedAccessToken refused: ExpiredTradeInTokenException: "
        "The trade-in token has expired."
    )


def test_role_credentials_unsigned_with_epoch_millisecond_expiry(
    sandbox: Any, aws_profile: Path
) -> None:
    broker = Broker()
    before = datetime.now(timezone.utc)
    session = broker.get_role_credentials(
        accountId=sandbox.sso_account_id,
        roleName=sandbox.sso_role_name,
        accessToken=sandbox.sso_access_token(),
    )
    sent = last_request(sandbox)
    assert (sent.operation, sent.access_key_id) == ("GetRoleCredentials", None)  # unsigned
    assert session.kind == "sso"
    # Epoch milliseconds read as such: hours ahead, not 1970 nor the year 50000.
    assert timedelta(minutes=30) < session.expiration - before < timedelta(days=2)
    identity = own_arn(session, sandbox)
    assert session.principal is not None and identity.startswith(session.principal + "/")


def test_sso_region_from_the_sso_session_section(sandbox: Any, clean_environ: Path) -> None:
    (clean_environ / "config").write_text(
        "[profile dev]\nregion = eu-west-1\nsso_session = corp\n"
        f"[sso-session corp]\nsso_start_url = {sandbox.sso_start_url}\n"
        "sso_region = ap-southeast-2\n"
    )
    broker = Broker(profile="dev", endpoint_url=sandbox.endpoint_url)
    assert broker.sso_region == "ap-southeast-2"
    assert broker.client("sso").meta.region_name == "ap-southeast-2"
    assert broker.client("sts").meta.region_name == "eu-west-1"
    (clean_environ / "config").write_text("[profile dev]\nregion = eu-west-1\n")
    assert Broker(profile="dev").sso_region == "eu-west-1"  # no sso_region: the broker's


def test_one_client_per_service_made_once(sandbox: Any, aws_profile: Path) -> None:
    broker = Broker()
    sts = broker.client("sts")
    broker.get_session_token()
    broker.get_federation_token(Name="carol")
    assert broker.client("sts") is sts
    assert broker.client("sso") is broker.client("sso") and broker.client("sso") is not sts


def test_profile_duration_and_endpoint_from_config(sandbox: Any, clean_environ: Path) -> None:
    keys = sandbox.source_credentials
    (clean_environ / "credentials").write_text(
        f"[ops]\naws_access_key_id = {keys.access_key}\naws_secret_access_key = {keys.secret_key}\n"
    )
    (clean_environ / "config").write_text(
        "[profile ops]\nregion = eu-central-1\nduration_seconds = 1800\n"
        f"mfa_serial = {sandbox.mfa_serial}\nendpoint_url = {sandbox.endpoint_url}\n"
    )
    broker = Broker(profile="ops")
    assert (broker.profile, broker.region_name, broker.duration_seconds) == (
        "ops",
        "eu-central-1",
        1800,
    )
    session = broker.get_session_token(TokenCode=sandbox.mfa_code())
    # The sandbox's clock is shared (and advanced by other tests): compare with explicit ones.
    explicit = broker.get_session_token(DurationSeconds=1800)
    default = broker.get_session_token(DurationSeconds=43200)
    assert abs(session.expiration - explicit.expiration) < timedelta(seconds=5)
    assert default.expiration - session.expiration > timedelta(hours=11)
    assert (session.profile, session.region) == ("ops", "eu-central-1")


def test_env_endpoint_url_is_honoured_by_botocore(
    sandbox: Any, clean_environ: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = sandbox.source_credentials
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    session = Broker(region_name="us-west-2").get_federation_token(Name="envuser")
    assert session.region == "us-west-2"
    assert last_request(sandbox).operation == "GetFederationToken"


def test_bad_profile_settings_are_parameter_errors(sandbox: Any, clean_environ: Path) -> None:
    (clean_environ / "config").write_text("[profile odd]\nduration_seconds = soon\n")
    with pytest.raises(ParameterError) as caught:
        Broker(profile="missing")
    assert caught.value.parameter == "profile" and "known profiles: odd" in str(caught.value)
    with pytest.raises(ParameterError, match=r"^duration_seconds \(profile odd\): 'soon'"):
        Broker(profile="odd").get_session_token()


def test_wrong_mfa_code_is_access_denied_and_changes_nothing(
    sandbox: Any, aws_profile: Path
) -> None:
    good = stsmagic.sessions.add(Broker().get_session_token())
    wrong = "000000" if sandbox.mfa_code() != "000000" else "111111"
    sent = len(sandbox.requests)
    with pytest.raises(RequestRefused) as caught:
        Broker().get_session_token(TokenCode=wrong)
    assert caught.value.code == "AccessDenied"
    assert caught.value.operation == "GetSessionToken"
    assert "\n" not in str(caught.value) and "MultiFactorAuthentication" in str(caught.value)
    assert len(sandbox.requests) == sent + 1  # the one refused request, no retry
    assert stsmagic.sessions.sessions == (good,) and stsmagic.sessions.active is good


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("get_session_token", {"TokenCode": "12345"}),
        ("get_session_token", {"DurationSeconds": "3600"}),
        ("get_federation_token", {"Name": "x", "Tags": {"a": "1"}}),
        ("get_federation_token", {"Name": "ok", "Tags": {"Team": "a", "team": "b"}}),
        ("get_federation_token", {"Name": "ok", "Policy": "{" * 3000}),
        ("get_delegated_access_token", {"TradeInToken": ""}),
        ("get_role_credentials", {"accountId": "1", "roleName": "R", "accessToken": "t"}),
    ],
)
def test_parameter_errors_send_nothing(
    sandbox: Any, aws_profile: Path, call: str, kwargs: dict[str, Any]
) -> None:
    broker = Broker()
    good = stsmagic.sessions.add(broker.get_federation_token(Name="keeper"))
    sent = len(sandbox.requests)
    with pytest.raises(ParameterError):
        getattr(broker, call)(**kwargs)
    assert len(sandbox.requests) == sent
    assert stsmagic.sessions.sessions == (good,) and stsmagic.sessions.active is good


def test_aws_errors_keep_their_code(sandbox: Any, aws_profile: Path) -> None:
    sandbox.fail_next(
        "GetFederationToken",
        status=403,
        code="RegionDisabledException",
        message="STS is not activated in this region.\nAsk an admin.",
    )
    with pytest.raises(RequestRefused) as caught:
        Broker(config=FAST).get_federation_token(Name="bob")
    assert caught.value.code == "RegionDisabledException"
    assert str(caught.value) == (
        "GetFederationToken refused: RegionDisabledException: "
        "STS is not activated in this region. Ask an admin."
    )


def test_sso_token_refused(sandbox: Any, aws_profile: Path) -> None:
    with pytest.raises(RequestRefused) as caught:
        Broker().get_role_credentials(
            accountId=sandbox.sso_account_id,
            roleName=sandbox.sso_role_name,
            accessToken="not-a-token-the-portal-gave",
        )
    assert caught.value.code == "UnauthorizedException"
    assert "not-a-token" not in str(caught.value)


def test_timeouts_and_dead_endpoints_are_refusals(sandbox: Any, aws_profile: Path) -> None:
    sandbox.hang_next("GetFederationToken", 3)
    quick = Config(retries={"total_max_attempts": 1}, read_timeout=0.5)
    with pytest.raises(RequestRefused) as caught:
        Broker(config=quick).get_federation_token(Name="slow")
    assert (caught.value.operation, caught.value.code) == ("GetFederationToken", "ReadTimeoutError")
    with pytest.raises(RequestRefused) as caught:
        Broker(endpoint_url="http://127.0.0.1:9", config=FAST).get_session_token()
    assert caught.value.code == "EndpointConnectionError"


def test_no_source_credentials_says_nothing_was_sent_and_how_to_add_them(
    sandbox: Any, clean_environ: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stsmagic.errors import NoSourceCredentials

    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    before = len(sandbox.requests)
    with pytest.raises(NoSourceCredentials) as caught:
        Broker(endpoint_url=sandbox.endpoint_url, config=FAST).get_session_token()
    # still a RequestRefused with botocore's code, for code that catches those
    assert isinstance(caught.value, RequestRefused)
    assert caught.value.code == "NoCredentialsError"
    assert str(caught.value) == (
        "GetSessionToken was not sent: profile 'default' has no credentials to sign it; add "
        "keys with `aws configure`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
    assert len(sandbox.requests) == before


def test_a_missing_aws_profile_is_named_as_aws_profile(
    sandbox: Any, aws_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "missing")
    with pytest.raises(ParameterError) as caught:
        Broker()
    assert caught.value.parameter == "AWS_PROFILE"
    assert str(caught.value) == (
        "AWS_PROFILE: 'missing' is not in the AWS config files; known profiles: default"
    )
    with pytest.raises(ParameterError) as caught:
        Broker(profile="gone")
    assert caught.value.parameter == "profile"


def test_source_is_never_the_live_session(
    sandbox: Any, aws_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a session active and exported to os.environ, the broker still signs with the
    profile's long-term keys (STS refuses session credentials for GetSessionToken)."""
    from stsmagic.outlets import environ

    stsmagic.sessions.add(Broker().get_session_token())
    environ.export_environ(True)
    import os

    assert os.environ["AWS_ACCESS_KEY_ID"] == stsmagic.sessions.active.access_key_id  # type: ignore[union-attr]
    again = Broker().get_session_token(TokenCode=sandbox.mfa_code())
    assert last_request(sandbox).access_key_id == sandbox.source_credentials.access_key
    assert again.access_key_id != stsmagic.sessions.active.access_key_id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "body"),
    [(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>"), (200, b"not xml at all")],
)
def test_an_endpoint_that_is_not_aws(
    sandbox: Any, aws_profile: Path, status: int, body: bytes
) -> None:
    with (
        AnsweringServer(body, status, content_type=None) as server,
        pytest.raises(RequestRefused) as caught,
    ):
        Broker(endpoint_url=server.url, config=FAST).get_federation_token(Name="proxy")
    assert caught.value.operation == "GetFederationToken"
    assert "\n" not in str(caught.value) and "not xml" not in str(caught.value)


def test_brokers_parse_botocore_data_once_per_data_path(
    sandbox: Any, aws_profile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each Broker reads the profile afresh, yet botocore's endpoint rules and service models
    are parsed once: every source session shares one loader, per data path."""
    first, second = Broker(), Broker()
    loader = first._session.get_component("data_loader")
    assert second._session.get_component("data_loader") is loader
    first.get_federation_token(Name="alice")
    second.get_federation_token(Name="bob")  # the models the first parsed, from the cache
    assert ("endpoints",) in {key[1:] for key in loader._cache}

    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    elsewhere = Broker()._session.get_component("data_loader")
    assert elsewhere is not loader
    assert str(tmp_path) in elsewhere.search_paths
