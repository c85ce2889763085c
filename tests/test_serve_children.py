"""Every process the kernel starts signs with the active session while it serves (issue 19):
real consumers, each asked which key the sandbox saw sign its request.

A child Python with boto3, the AWS CLI, pyarrow's S3FileSystem (the AWS SDK for C++), a spawn
process pool and a Dask LocalCluster started after serving, without the plugin; a child naming
another profile keeps its keys; a child running across a renewal never sends an expired key.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stsmagic.broker import Broker
from stsmagic.ledger import SessionLedger
from stsmagic.outlets import renew_ahead
from stsmagic.outlets.serve import CredentialServer, serve_credentials
from stsmagic.session import IssuedSession
from tests.helpers import aws_clients
from tests.helpers.aws_clients import sandbox_client
from tests.helpers.serving import OffsetClock, watched_ledger


@pytest.fixture
def ledger(aws_profile: Path) -> SessionLedger:
    return watched_ledger(OffsetClock())


@pytest.fixture
def served(sandbox: Any, ledger: SessionLedger) -> Iterator[IssuedSession]:
    """A federation session active in the kernel, served to children."""
    session = ledger.add(Broker().get_federation_token(Name="child", DurationSeconds=3600))
    with serve_credentials(ledger):
        yield session


def run(*command: str, timeout: float = 60) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def python(code: str) -> str:
    return run(sys.executable, "-c", textwrap.dedent(code))


def last_signer(sandbox: Any, operation: str) -> str:
    return str(sandbox.signers(operation)[-1])


def test_a_child_python_with_boto3(sandbox: Any, served: IssuedSession) -> None:
    out = python(
        """
        import boto3
        print(boto3.client("sts").get_caller_identity()["Arn"])
        print(boto3.Session().get_credentials().method)
        """
    )
    assert out.split() == [str(served.principal), "container-role"]
    assert last_signer(sandbox, "GetCallerIdentity") == served.access_key_id


def test_the_aws_cli(sandbox: Any, served: IssuedSession) -> None:
    aws = shutil.which("aws")
    assert aws is not None, "the AWS CLI (pip install awscli) is in the demo extra"
    out = run(aws, "sts", "get-caller-identity", "--query", "Arn", "--output", "text")
    assert out.strip() == served.principal
    assert last_signer(sandbox, "GetCallerIdentity") == served.access_key_id


def test_pyarrow_s3_in_a_child(sandbox: Any, served: IssuedSession) -> None:
    pytest.importorskip("pyarrow.fs")
    bucket = f"served-{uuid.uuid4().hex[:12]}"
    s3 = sandbox_client(sandbox, "s3", sandbox.source_credentials)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="cities.csv", Body=b"city\nLisbon\n")
    out = python(
        f"""
        from pyarrow import fs
        s3 = fs.S3FileSystem(
            endpoint_override="{sandbox.endpoint_url}", region="us-east-1", scheme="http"
        )
        with s3.open_input_stream("{bucket}/cities.csv") as f:
            print(f.read().decode())
        """
    )
    assert out.split() == ["city", "Lisbon"]
    reads = [r for r in sandbox.requests if r.operation.startswith(f"GET /{bucket}")]
    assert reads and {r.access_key_id for r in reads} == {served.access_key_id}


def test_a_spawn_process_pool(sandbox: Any, served: IssuedSession) -> None:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        assert pool.submit(aws_clients.caller_arn).result(timeout=60) == served.principal
    assert last_signer(sandbox, "GetCallerIdentity") == served.access_key_id


def test_a_local_cluster_started_after_serving_without_the_plugin(
    sandbox: Any, served: IssuedSession
) -> None:
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(aws_clients)  # the workers cannot import tests/
    cluster = distributed.LocalCluster(
        n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        assert list(client.run(aws_clients.caller_arn).values()) == [served.principal]
    finally:
        client.close()
        cluster.close()
        cloudpickle.unregister_pickle_by_value(aws_clients)
    assert last_signer(sandbox, "GetCallerIdentity") == served.access_key_id


def test_a_child_naming_another_profile_keeps_its_keys(
    sandbox: Any, aws_profile: Path, ledger: SessionLedger
) -> None:
    keys = sandbox.source_credentials
    with aws_profile.open("a") as config:
        config.write(
            f"[profile other]\nregion = us-east-1\nendpoint_url = {sandbox.endpoint_url}\n"
        )
    with aws_profile.with_name("credentials").open("a") as credentials:
        credentials.write(
            f"[other]\naws_access_key_id = {keys.access_key}\n"
            f"aws_secret_access_key = {keys.secret_key}\n"
        )
    session = ledger.add(Broker().get_federation_token(Name="mine", DurationSeconds=3600))
    with serve_credentials(ledger):
        sandbox.reset_requests()
        python(
            """
            import boto3
            boto3.Session(profile_name="other").client("sts").get_caller_identity()
            boto3.client("sts").get_caller_identity()
            """
        )
        run("aws", "--profile", "other", "sts", "get-caller-identity")
    assert sandbox.signers("GetCallerIdentity") == [
        keys.access_key,
        session.access_key_id,
        keys.access_key,
    ]


LONG_RUNNING = """
import sys, time, boto3
from botocore.exceptions import ClientError
sts = boto3.client("sts")
stop = sys.argv[1]
import os
while not os.path.exists(stop):
    try:
        sts.get_caller_identity()
        print("ok", flush=True)
    except ClientError as e:
        print("error", e.response["Error"]["Code"], flush=True)
    time.sleep(0.05)
"""


@pytest.fixture
def own_box(clean_environ: Path) -> Iterator[Any]:
    """A sandbox of this test's own (its clock is moved) and a default profile for it."""
    from stsmagic.sandbox import Sandbox

    with Sandbox() as box:
        keys = box.source_credentials
        (clean_environ / "credentials").write_text(
            f"[default]\naws_access_key_id = {keys.access_key}\n"
            f"aws_secret_access_key = {keys.secret_key}\n"
        )
        (clean_environ / "config").write_text(
            f"[default]\nregion = us-east-1\nendpoint_url = {box.endpoint_url}\n"
        )
        yield box


def test_a_long_running_child_crosses_a_renewal_without_an_expired_key(
    own_box: Any, tmp_path: Path
) -> None:
    """Time moves on the kernel's ledger clock and the sandbox's; the child's own cannot, so the
    session is a 15-minute one, which the SDKs keep fetching (it is always inside their
    15-minute refresh window). The kernel renews it ahead of its end with no request of its
    own; the child's next fetch brings the new session, and the old key, expired, is never
    sent again."""
    clock = OffsetClock()
    ledger = watched_ledger(clock)
    first = ledger.add(Broker().get_federation_token(Name="long", DurationSeconds=900))
    renewed = threading.Event()
    ledger.subscribe(lambda event, s: renewed.set() if event == "renewed" else None)

    def calls_by(key: str) -> int:
        return own_box.signers("GetCallerIdentity").count(key)

    def wait_for(condition: Any, what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    stop = tmp_path / "stop"
    with serve_credentials(ledger):
        child = subprocess.Popen(
            [sys.executable, "-c", LONG_RUNNING, str(stop)], stdout=subprocess.PIPE, text=True
        )
        try:
            wait_for(lambda: calls_by(first.access_key_id) >= 3, "the child's first calls")
            clock.offset += timedelta(seconds=500)  # inside the window: the last 450 s of 900
            own_box.advance(500)
            timer = renew_ahead.timer()
            assert timer is not None and timer.ledger is ledger
            timer.wake()  # the clock jumped: look now rather than within LONGEST_NAP
            assert renewed.wait(30), "the timer did not renew"
            second = ledger.active
            assert second is not None and second.access_key_id != first.access_key_id
            # (a request signed just before the renewal may still be on its way: let it land,
            # then end the first session; time never jumps 450 s in one request otherwise)
            wait_for(lambda: calls_by(second.access_key_id) >= 1, "the child's first new call")
            own_box.advance(450)  # the first session has now expired at the sandbox
            with pytest.raises(ClientError, match="ExpiredToken"):
                sandbox_client(own_box, "sts", first.credentials).get_caller_identity()
            wait_for(lambda: calls_by(second.access_key_id) >= 5, "the child's calls after")
        finally:
            stop.touch()
            out, _ = child.communicate(timeout=30)
    lines = out.split()
    assert "error" not in lines, out
    assert lines.count("ok") >= 8 and child.returncode == 0
    # the child signed with the old key until the renewal, then only with the new one
    calls = [r for r in own_box.requests if r.operation == "GetCallerIdentity"]
    assert [r.status for r in calls].count(200) == len(calls) - 1  # all but the probe above
    signers = [r.access_key_id for r in calls if r.status == 200]
    switch = signers.index(second.access_key_id)
    assert set(signers[:switch]) == {first.access_key_id}
    assert set(signers[switch:]) == {second.access_key_id}
    assert own_box.signers("GetFederationToken") == [own_box.source_credentials.access_key] * 2


def test_the_server_is_what_children_fetched_from(
    sandbox: Any, ledger: SessionLedger, served: IssuedSession
) -> None:
    from stsmagic.outlets.serve import serving as current

    server = current()
    assert isinstance(server, CredentialServer)
    before = server.answers().get(200, 0)
    python("import boto3; boto3.client('sts').get_caller_identity()")
    assert server.answers()[200] == before + 1
    assert os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == server.url
