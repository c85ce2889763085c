"""Reach: every AWS consumer in the kernel signs with the active session, at each request.

Each test reads from the sandbox's S3 or STS and asks the sandbox which key signed each request.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest

import stsmagic
from stsmagic.broker import Broker
from stsmagic.errors import SessionExpired
from stsmagic.ledger import SessionLedger
from stsmagic.outlets import live
from stsmagic.renewal import without_renewal
from tests.helpers.aws_clients import sandbox_client
from tests.helpers.clock import Clock
from tests.helpers.new_shell import run_in_new_shell

CSV = b"city,people\nLisbon,545000\nPorto,232000\n"


@pytest.fixture(scope="module")
def bucket(sandbox: Any) -> str:
    """A bucket with one CSV, made with the source credentials."""
    name = f"reach-{uuid.uuid4().hex[:12]}"
    s3 = sandbox_client(sandbox, "s3", sandbox.source_credentials)
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="cities.csv", Body=CSV)
    return name


@pytest.fixture
def s3_env(sandbox: Any, aws_profile: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """s3fs, pandas and polars pointed at the sandbox; no filesystem cached from another test."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


def signers(sandbox: Any, since: int) -> set[str]:
    """The access keys that signed the requests the sandbox answered after the first ``since``."""
    done = sandbox.requests[since:]
    assert done, "nothing reached the sandbox"
    assert all(r.status in (200, 206) for r in done), done
    return {str(r.access_key_id) for r in done}


def signer_of(sandbox: Any, client: Any) -> str:
    """GetCallerIdentity with ``client``: the key the sandbox saw sign it."""
    n = len(sandbox.requests)
    client.get_caller_identity()
    (key,) = signers(sandbox, n)
    return key


def federation(ip: Any, name: str, *flags: str) -> Any:
    return ip.run_line_magic("sts_federation", " ".join(["--name", name, *flags]))


def test_every_botocore_session_follows_switches_and_source(sandbox: Any, ip: Any) -> None:
    source = sandbox.source_credentials.access_key
    made_before = boto3.Session().client("sts")  # after %load_ext, before any session
    assert signer_of(sandbox, made_before) == source
    alice = federation(ip, "alice")
    clients = {
        "boto3.Session()": boto3.Session().client("sts"),
        "botocore get_session()": botocore.session.get_session().create_client("sts"),
        "boto3.Session() made before": made_before,
        "its own profile by name": boto3.Session(profile_name="default").client("sts"),
    }
    assert {n: signer_of(sandbox, c) for n, c in clients.items()} == dict.fromkeys(
        clients, alice.access_key_id
    )
    bob = federation(ip, "bob")
    ip.run_line_magic("sts_use", alice.label)
    assert {n: signer_of(sandbox, c) for n, c in clients.items()} == dict.fromkeys(
        clients, alice.access_key_id
    )
    ip.run_line_magic("sts_use", bob.label)
    assert {n: signer_of(sandbox, c) for n, c in clients.items()} == dict.fromkeys(
        clients, bob.access_key_id
    )
    ip.run_line_magic("sts_use", "--source")
    assert {n: signer_of(sandbox, c) for n, c in clients.items()} == dict.fromkeys(clients, source)


def test_default_session_client_made_before_load_ext_follows(
    sandbox: Any, shell: Any, aws_profile: Path
) -> None:
    earlier = boto3.client("sts")
    shell.run_line_magic("load_ext", "stsmagic")
    try:
        alice = federation(shell, "alice")
        assert signer_of(sandbox, earlier) == alice.access_key_id
    finally:
        shell.run_line_magic("unload_ext", "stsmagic")
    assert signer_of(sandbox, earlier) == sandbox.source_credentials.access_key


def test_other_profiles_and_explicit_keys_keep_theirs(
    sandbox: Any, ip: Any, aws_profile: Path
) -> None:
    carol = Broker().get_federation_token(Name="carol")  # issued, never in the ledger
    keys = carol.credentials
    credentials = aws_profile.parent / "credentials"
    credentials.write_text(
        credentials.read_text() + "[other]\n"
        f"aws_access_key_id = {keys.access_key}\naws_secret_access_key = {keys.secret_key}\n"
        f"aws_session_token = {keys.token}\n"
    )
    with aws_profile.open("a") as config:
        config.write(
            f"[profile other]\nregion = us-east-1\nendpoint_url = {sandbox.endpoint_url}\n"
        )
    alice = federation(ip, "alice")
    other = boto3.Session(profile_name="other").client("sts")
    other_core = botocore.session.Session(profile="other").create_client("sts")
    explicit = boto3.Session(
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        aws_session_token=keys.token,
    ).client("sts")
    explicit_client = boto3.client(
        "sts",
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        aws_session_token=keys.token,
    )
    followers = boto3.Session().client("sts")
    for client in (other, other_core, explicit, explicit_client):
        assert signer_of(sandbox, client) == carol.access_key_id
    assert signer_of(sandbox, followers) == alice.access_key_id


async def _aio_signer(sandbox: Any) -> str:
    from aiobotocore.session import get_session

    async with get_session().create_client("sts") as sts:
        n = len(sandbox.requests)
        await sts.get_caller_identity()
    (key,) = signers(sandbox, n)
    return key


def test_aiobotocore_in_asyncio_run_and_in_a_running_loop(sandbox: Any, ip: Any) -> None:
    alice = federation(ip, "alice")
    assert asyncio.run(_aio_signer(sandbox)) == alice.access_key_id
    bob = federation(ip, "bob")
    # A loop already running in another thread, as ipykernel's and fsspec's are.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        future = asyncio.run_coroutine_threadsafe(_aio_signer(sandbox), loop)
        assert future.result(timeout=30) == bob.access_key_id
        ip.run_line_magic("sts_use", "--source")
        future = asyncio.run_coroutine_threadsafe(_aio_signer(sandbox), loop)
        assert future.result(timeout=30) == sandbox.source_credentials.access_key
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


def test_s3fs_made_before_a_switch_and_pandas_across_switches(
    sandbox: Any, ip: Any, s3_env: None, bucket: str
) -> None:
    import pandas as pd
    import s3fs

    source = sandbox.source_credentials.access_key
    fs = s3fs.S3FileSystem()  # the instance fsspec caches and pandas reuses
    n = len(sandbox.requests)
    assert fs.cat(f"{bucket}/cities.csv") == CSV
    assert signers(sandbox, n) == {source}
    alice = federation(ip, "alice")
    n = len(sandbox.requests)
    assert fs.cat(f"{bucket}/cities.csv") == CSV  # same instance, same client
    assert signers(sandbox, n) == {alice.access_key_id}
    n = len(sandbox.requests)
    assert pd.read_csv(f"s3://{bucket}/cities.csv")["people"].sum() == 777000
    assert signers(sandbox, n) == {alice.access_key_id}
    bob = federation(ip, "bob")
    n = len(sandbox.requests)
    assert pd.read_csv(f"s3://{bucket}/cities.csv").shape == (2, 2)
    assert signers(sandbox, n) == {bob.access_key_id}
    assert s3fs.S3FileSystem() is fs  # still the one made before both switches
    ip.run_line_magic("sts_use", "--source")
    n = len(sandbox.requests)
    pd.read_csv(f"s3://{bucket}/cities.csv")
    assert signers(sandbox, n) == {source}


def test_dask_dataframe_in_the_kernel_follows(
    sandbox: Any, ip: Any, s3_env: None, bucket: str
) -> None:
    import dask.dataframe as dd

    alice = federation(ip, "alice")
    n = len(sandbox.requests)
    frame = dd.read_csv(f"s3://{bucket}/cities.csv").compute(scheduler="sync")
    assert frame["people"].sum() == 777000
    assert signers(sandbox, n) == {alice.access_key_id}


def test_polars_boto3_provider_follows_and_caches_until_expiry(
    sandbox: Any, ip: Any, s3_env: None, bucket: str
) -> None:
    """polars' AWS provider builds a ``boto3.Session()``, so the active session signs its first
    read; polars then caches those credentials, per provider configuration and process-wide,
    until they expire (``credential_provider="auto"``, the default, is one configuration)."""
    import polars as pl

    def read(provider: Any) -> set[str]:
        n = len(sandbox.requests)
        frame = pl.read_csv(
            f"s3://{bucket}/cities.csv",
            storage_options={"aws_endpoint_url": sandbox.endpoint_url, "aws_region": "us-east-1"},
            credential_provider=provider,
        )
        assert frame["people"].sum() == 777000
        return signers(sandbox, n)

    alice = federation(ip, "alice")
    assert read(pl.CredentialProviderAWS(profile_name="default")) == {alice.access_key_id}
    bob = federation(ip, "bob")
    # polars keeps the credentials of a provider configuration, process-wide, until they expire
    assert read(pl.CredentialProviderAWS(profile_name="default")) == {alice.access_key_id}
    assert read(pl.CredentialProviderAWS()) == {bob.access_key_id}  # first read of this one


def test_an_expired_session_fails_before_sending_for_each_consumer(
    sandbox: Any,
    aws_profile: Path,
    s3_env: None,
    bucket: str,
    ledger: SessionLedger,
    clock: Clock,
) -> None:
    import pandas as pd
    import s3fs

    earlier = boto3.client("sts")  # a default-session client made before watching
    live.watch(ledger)
    fs = s3fs.S3FileSystem()
    consumers = {
        "default session, made before": lambda: earlier.get_caller_identity(),
        "boto3.Session()": lambda: boto3.Session().client("sts").get_caller_identity(),
        "botocore get_session()": lambda: (
            botocore.session.get_session().create_client("sts").get_caller_identity()
        ),
        "aiobotocore": lambda: asyncio.run(_aio_signer(sandbox)),
        "s3fs, made before": lambda: fs.cat(f"{bucket}/cities.csv"),
        "pandas": lambda: pd.read_csv(f"s3://{bucket}/cities.csv"),
    }
    # not renewable: what is tested is that the expiry check reaches every consumer
    alice = ledger.add(
        without_renewal(Broker().get_federation_token(Name="alice", DurationSeconds=900))
    )
    for name, consume in consumers.items():  # each works while alice is valid
        n = len(sandbox.requests)
        consume()
        assert signers(sandbox, n) == {alice.access_key_id}, name
    fs.invalidate_cache()
    clock.to(alice.expiration + timedelta(seconds=1))
    n = len(sandbox.requests)
    for name, consume in consumers.items():
        with pytest.raises(Exception) as raised:
            consume()
        chain = [raised.value, raised.value.__cause__, raised.value.__context__]
        assert any(isinstance(e, SessionExpired) for e in chain) or alice.label in str(
            raised.value
        ), (name, raised.value)
    assert sandbox.requests[n:] == []  # nothing was sent


def test_load_ext_imports_boto3_but_not_aiobotocore(sandbox: Any, aws_profile: Path) -> None:
    code = (
        "import sys\n"
        "ip.run_line_magic('load_ext', 'stsmagic')\n"
        "print('boto3' in sys.modules, 'aiobotocore' in sys.modules, 's3fs' in sys.modules)\n"
        "import aiobotocore.session, botocore.credentials\n"
        "print(hasattr(aiobotocore.session.create_credential_resolver, '__wrapped__'),"
        " hasattr(botocore.credentials.create_credential_resolver, '__wrapped__'))\n"
    )
    assert run_in_new_shell(code).split() == ["True", "False", "False", "True", "True"]


def test_uninstall_undoes_every_hook(sandbox: Any, aws_profile: Path) -> None:
    import aiobotocore.session

    botocore_original = botocore.credentials.create_credential_resolver
    aio_original = aiobotocore.session.create_credential_resolver
    live.watch()
    assert botocore.credentials.create_credential_resolver is not botocore_original
    assert aiobotocore.session.create_credential_resolver is not aio_original
    live.uninstall()
    assert botocore.credentials.create_credential_resolver is botocore_original
    assert aiobotocore.session.create_credential_resolver is aio_original
    assert not any(type(f).__module__ == "stsmagic.outlets.after_import" for f in sys.meta_path)


ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
)


def environ() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in ENV}


def exported(session: Any) -> dict[str, str | None]:
    keys = session.credentials
    return {
        "AWS_ACCESS_KEY_ID": keys.access_key,
        "AWS_SECRET_ACCESS_KEY": keys.secret_key,
        "AWS_SESSION_TOKEN": keys.token,
        "AWS_CREDENTIAL_EXPIRATION": session.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def test_env_on_off_on_across_switches_forget_and_config(
    sandbox: Any, ip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = sandbox.source_credentials
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key)  # the user's own, before any export
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_key)
    users = environ()
    assert users["AWS_SESSION_TOKEN"] is None
    alice = federation(ip, "alice", "--env")
    assert environ() == exported(alice)
    bob = federation(ip, "bob")  # no --env, the trait off: exporting stops
    assert environ() == users
    ip.run_line_magic("sts_use", alice.label)
    assert environ() == users
    ip.run_line_magic("config", "StsMagics.export_env = True")
    assert environ() == exported(alice)
    ip.run_line_magic("sts_use", bob.label)
    assert environ() == exported(bob)
    ip.run_line_magic("sts_use", "--source")
    assert environ() == users
    carol = federation(ip, "carol")  # the trait is on
    assert environ() == exported(carol)
    ip.run_line_magic("sts_forget", carol.label)
    assert environ() == users
    ip.run_line_magic("sts_use", bob.label)
    assert environ() == exported(bob)
    ip.run_line_magic("config", "StsMagics.export_env = False")
    assert environ() == users
    federation(ip, "dave", "--env")
    ip.run_line_magic("config", "StsMagics.export_env = False")  # already False: still off
    assert environ() == users
    # The source chain never took an export for the user's keys.
    assert signer_of(sandbox, Broker().client("sts")) == keys.access_key
    assert stsmagic.sessions.active is not None


def test_polars_object_store_reads_the_exported_session(
    sandbox: Any, ip: Any, s3_env: None, bucket: str
) -> None:
    """polars' own object_store (no boto3) reads the exported environment at its first read
    of a configuration, and keeps those credentials until they expire."""
    import polars as pl

    options = {"aws_endpoint_url": sandbox.endpoint_url, "aws_region": "us-east-1"}
    alice = federation(ip, "alice", "--env")
    n = len(sandbox.requests)
    frame = pl.read_csv(
        f"s3://{bucket}/cities.csv", storage_options=options, credential_provider=None
    )
    assert frame.height == 2
    assert signers(sandbox, n) == {alice.access_key_id}
    federation(ip, "bob", "--env")
    assert os.environ["AWS_SESSION_TOKEN"] != alice.credentials.token
    n = len(sandbox.requests)
    pl.read_csv(f"s3://{bucket}/cities.csv", storage_options=options, credential_provider=None)
    assert signers(sandbox, n) == {alice.access_key_id}  # cached until it expires


def test_a_scoped_federation_session_is_refused_by_its_policy_in_pandas(
    sandbox: Any, ip: Any, s3_env: None, bucket: str
) -> None:
    """pandas signs with the active session: a session whose policy allows only another
    bucket cannot read this one (the sandbox applies federation session policies to S3)."""
    import pandas as pd

    ip.user_ns["only_elsewhere"] = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::elsewhere/*"}
        ],
    }
    ip.user_ns["this_bucket"] = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
        ],
    }
    federation(ip, "scoped", "--policy", "only_elsewhere")
    n = len(sandbox.requests)
    with pytest.raises(PermissionError):
        pd.read_csv(f"s3://{bucket}/cities.csv")
    assert {r.status for r in sandbox.requests[n:]} == {403}
    federation(ip, "reader", "--policy", "this_bucket")
    assert pd.read_csv(f"s3://{bucket}/cities.csv").shape == (2, 2)


# --- what the reach table (docs/guide/reach.md) says, measured -----------------------------------


def test_a_botocore_session_that_resolved_its_keys_before_load_ext_keeps_them(
    sandbox: Any, shell: Any, aws_profile: Path
) -> None:
    """Not every botocore client: one whose session had found its credentials before
    %load_ext keeps them; a session made before but used after follows."""
    used = botocore.session.get_session()
    used_client = used.create_client("sts")  # its credentials are resolved here
    unused = botocore.session.get_session()
    shell.run_line_magic("load_ext", "stsmagic")
    try:
        alice = federation(shell, "alice")
        assert signer_of(sandbox, used_client) == sandbox.source_credentials.access_key
        assert signer_of(sandbox, unused.create_client("sts")) == alice.access_key_id
    finally:
        shell.run_line_magic("unload_ext", "stsmagic")


def test_pyarrow_made_after_an_export_reads_the_environment_at_each_request(
    sandbox: Any, ip: Any, s3_env: None, bucket: str
) -> None:
    """pyarrow's S3FileSystem (the AWS SDK for C++): one made after an export follows every
    later export at each request until the export is off, and the profile's keys from then on
    (a new export too); one made before any export keeps the profile's keys."""
    fs = pytest.importorskip("pyarrow.fs")

    def made() -> Any:
        return fs.S3FileSystem(
            endpoint_override=sandbox.endpoint_url, scheme="http", region="us-east-1"
        )

    def read(s3: Any) -> set[str]:
        n = len(sandbox.requests)
        assert s3.get_file_info(f"{bucket}/cities.csv").size == len(CSV)
        return signers(sandbox, n)

    source = {sandbox.source_credentials.access_key}
    before = made()
    alice = federation(ip, "alice", "--env")
    after = made()
    assert read(before) == source
    assert read(after) == {alice.access_key_id}
    bob = federation(ip, "bob", "--env")
    assert read(after) == {bob.access_key_id}
    # it does not read AWS_CREDENTIAL_EXPIRATION: an expired export is sent (AWS refuses it)
    os.environ["AWS_CREDENTIAL_EXPIRATION"] = "2020-01-01T00:00:00Z"
    assert read(after) == {bob.access_key_id}
    ip.run_line_magic("config", "StsMagics.export_env = False")
    assert read(after) == source
    carol = federation(ip, "carol", "--env")
    assert read(after) == source  # once on the profile's keys, it stays there
    assert read(made()) == {carol.access_key_id}


def test_a_child_refuses_an_expired_exported_session_before_sending(
    sandbox: Any, ip: Any, s3_env: None
) -> None:
    """A process started with the exported session (``!aws``, subprocess, a spawned pool)
    refuses it once expired (botocore reads AWS_CREDENTIAL_EXPIRATION): nothing is sent."""
    import subprocess

    federation(ip, "carol", "--env", "--no-renew", "--duration-seconds", "900")
    env = {**os.environ, "AWS_CREDENTIAL_EXPIRATION": "2020-01-01T00:00:00Z"}  # as after expiry
    n = len(sandbox.requests)
    done = subprocess.run(
        [sys.executable, "-c", "import boto3; boto3.client('sts').get_caller_identity()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "the refreshed credentials are still expired" in done.stderr.splitlines()[-1]
    assert sandbox.requests[n:] == []
