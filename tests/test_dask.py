"""Dask workers follow the kernel's active session: a real LocalCluster against the sandbox."""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cloudpickle
import psutil
import pytest

import stsmagic
from stsmagic.errors import SessionExpired
from stsmagic.ledger import SessionLedger
from stsmagic.session import IssuedSession
from tests.helpers.aws_clients import sandbox_client

distributed = pytest.importorskip("distributed")
from stsmagic import dask as sts_dask  # noqa: E402
from stsmagic.dask import CredentialsPlugin  # noqa: E402

# The task functions below travel to the workers by value (the workers cannot import tests/).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

BUCKET = "stsmagic-dask"


# --- what runs on the workers -------------------------------------------------------------------


def list_buckets() -> str:
    """A task: one S3 request from boto3's default session; returns the worker's address."""
    import boto3
    from distributed import get_worker

    boto3.client("s3").list_buckets()
    return get_worker().address


def capture_logs(dask_worker: Any) -> None:
    """Every log record of the worker process, DEBUG and up, kept on the worker."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s %(args)s"))
    loggers = [logging.getLogger(), logging.getLogger("distributed")]
    dask_worker._stsmagic_capture = (handler, records, [(g, g.level) for g in loggers])
    for logger in loggers:  # distributed's records do not reach the root logger
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def captured_logs(dask_worker: Any) -> list[str]:
    handler, records, levels = dask_worker._stsmagic_capture
    for logger, level in levels:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return records


def live_installed() -> bool:
    """Whether stsmagic is live in the worker's process."""
    from stsmagic.outlets import live

    return live.installed()


def plugin_repr(dask_worker: Any) -> str:
    return repr(dask_worker.plugins.get(CredentialsPlugin.name))


# --- fixtures -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Cluster:
    cluster: Any
    client: Any
    pids: list[int]


@pytest.fixture(scope="module")
def issued(sandbox: Any) -> list[IssuedSession]:
    """Three real sessions from the sandbox (GetSessionToken with the source keys)."""
    sts = sandbox_client(sandbox, "sts", sandbox.source_credentials)
    now = datetime.now(timezone.utc)
    return [
        IssuedSession.from_sts(
            "session", sts.get_session_token(DurationSeconds=900), issued_at=now, label=label
        )
        for label in ("alpha", "beta", "gamma")
    ]


@pytest.fixture(scope="module")
def dask_cluster(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two worker processes that have their own keys (the source user's, in their environment)
    and find the sandbox by AWS_ENDPOINT_URL. The client is not the default one."""
    aws = tmp_path_factory.mktemp("dask-aws")
    (aws / "config").write_text("")
    (aws / "credentials").write_text("")
    keys = sandbox.source_credentials
    env = {
        "AWS_ENDPOINT_URL": sandbox.endpoint_url,
        "AWS_ACCESS_KEY_ID": keys.access_key,
        "AWS_SECRET_ACCESS_KEY": keys.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            mp.delenv(name)
        cluster = distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            env=env,
        )
    client = distributed.Client(cluster, set_as_default=False)
    box = Cluster(cluster, client, [])
    try:
        yield box
    finally:
        box.pids += client.run(os.getpid).values()
        client.close()
        cluster.close()
        assert [p for p in box.pids if running(p)] == [], "worker processes outlived the cluster"


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def ledger() -> SessionLedger:
    return SessionLedger()


@pytest.fixture
def plugged(dask_cluster: Cluster, ledger: SessionLedger) -> Iterator[Cluster]:
    """The plugin registered on the cluster's client, following ``ledger``; removed after."""
    plugin = CredentialsPlugin(ledger, dask_cluster.client)
    dask_cluster.client.register_plugin(plugin)
    yield dask_cluster
    if CredentialsPlugin.name in worker_plugins(dask_cluster.client):
        dask_cluster.client.unregister_worker_plugin(CredentialsPlugin.name)
    assert plugin._pusher is not None
    plugin._pusher.stop()


def worker_plugins(client: Any) -> set[str]:
    return set.union(*map(set, client.run(lambda dask_worker: list(dask_worker.plugins)).values()))


def workers(client: Any) -> list[str]:
    """The workers' addresses, asked of the scheduler now (``client.scheduler_info()`` is a copy
    the client refreshes now and then: on a busy machine it may list none for a moment)."""
    addresses = sorted(client.run(os.getpid))
    assert addresses, "the cluster has no worker"
    return addresses


def signers(sandbox: Any, client: Any) -> dict[str, str | None]:
    """One boto3 request from a task on each worker: {worker address: key that signed it}."""
    found: dict[str, str | None] = {}
    for address in workers(client):
        sandbox.reset_requests()
        assert client.submit(list_buckets, workers=[address], pure=False).result() == address
        (request,) = [r for r in sandbox.requests if r.service == "s3"]
        found[address] = request.access_key_id
    return found


def each(client: Any, key: str) -> dict[str, str]:
    return dict.fromkeys(workers(client), key)


# --- behaviour ----------------------------------------------------------------------------------


def test_workers_sign_with_the_active_session(
    plugged: Cluster, ledger: SessionLedger, sandbox: Any, issued: list[IssuedSession]
) -> None:
    source = sandbox.source_credentials.access_key
    assert signers(sandbox, plugged.client) == each(plugged.client, source)
    ledger.add(issued[0])
    assert signers(sandbox, plugged.client) == each(plugged.client, issued[0].access_key_id)


def change_in_a_fork(ledger: SessionLedger, session: IssuedSession, done: Any) -> None:
    """In a forked child: make the change a pool worker might, and say how long it took."""
    start = time.perf_counter()
    try:
        ledger.add(session)
        done.send(("ok", time.perf_counter() - start))
    except BaseException as e:
        done.send(("error", repr(e)))


def test_a_forked_child_pushes_nothing_to_the_workers(
    plugged: Cluster, ledger: SessionLedger, sandbox: Any, issued: list[IssuedSession]
) -> None:
    """Its copy of the client has no event loop: a push from there would hang for good."""
    import multiprocessing

    ledger.add(issued[0])
    fork = multiprocessing.get_context("fork")
    answer, done = fork.Pipe(duplex=False)
    child = fork.Process(target=change_in_a_fork, args=(ledger, issued[1], done))
    child.start()
    answered = answer.poll(60)
    child.join(timeout=10)
    if child.is_alive():
        child.kill()
        child.join(timeout=10)
    assert answered, "the forked child hung pushing to Dask"
    outcome, seconds = answer.recv()
    assert outcome == "ok", seconds
    # the workers still follow the kernel, which never saw the child's session
    assert signers(sandbox, plugged.client) == each(plugged.client, issued[0].access_key_id)
    ledger.add(issued[2])  # and the kernel still pushes
    assert signers(sandbox, plugged.client) == each(plugged.client, issued[2].access_key_id)


def test_registered_after_activation_the_workers_start_with_it(
    dask_cluster: Cluster, ledger: SessionLedger, sandbox: Any, issued: list[IssuedSession]
) -> None:
    ledger.add(issued[1])
    plugin = CredentialsPlugin(ledger, dask_cluster.client)
    dask_cluster.client.register_plugin(plugin)
    try:
        assert signers(sandbox, dask_cluster.client) == each(
            dask_cluster.client, issued[1].access_key_id
        )
    finally:
        dask_cluster.client.unregister_worker_plugin(CredentialsPlugin.name)
        assert plugin._pusher is not None
        plugin._pusher.stop()


def test_a_switch_reaches_every_worker_before_the_call_returns(
    plugged: Cluster, ledger: SessionLedger, sandbox: Any, issued: list[IssuedSession]
) -> None:
    for session in issued[:2]:
        ledger.add(session)
    for label, session in [("alpha", issued[0]), ("beta", issued[1]), ("alpha", issued[0])]:
        ledger.activate(label)  # the very next task on every worker signs with it
        assert signers(sandbox, plugged.client) == each(plugged.client, session.access_key_id)


def test_source_and_forget_give_the_workers_their_own_keys(
    plugged: Cluster, ledger: SessionLedger, sandbox: Any, issued: list[IssuedSession]
) -> None:
    own = each(plugged.client, sandbox.source_credentials.access_key)
    ledger.add(issued[0])
    ledger.deactivate()  # %sts_use --source
    assert signers(sandbox, plugged.client) == own
    ledger.activate("alpha")
    assert signers(sandbox, plugged.client) == each(plugged.client, issued[0].access_key_id)
    ledger.forget("alpha")  # %sts_forget of the active session
    assert signers(sandbox, plugged.client) == own


def test_a_renewal_under_the_same_label_reaches_every_worker(
    plugged: Cluster, ledger: SessionLedger, sandbox: Any, issued: list[IssuedSession]
) -> None:
    ledger.add(issued[0])
    renewed = dataclasses.replace(issued[1], label="alpha")
    # What the renewer does to the ledger: the same label, new keys, the event `renewed`.
    ledger.replace("alpha", renewed)
    assert ledger.active is renewed
    assert signers(sandbox, plugged.client) == each(plugged.client, issued[1].access_key_id)


def test_a_worker_added_later_gets_the_active_session(
    plugged: Cluster, ledger: SessionLedger, sandbox: Any, issued: list[IssuedSession]
) -> None:
    ledger.add(issued[2])
    before = set(workers(plugged.client))
    plugged.cluster.scale(3)
    plugged.client.wait_for_workers(3, timeout=30)
    try:
        (added,) = set(workers(plugged.client)) - before
        assert signers(sandbox, plugged.client)[added] == issued[2].access_key_id
        ledger.activate("gamma")  # unchanged: still every worker
        ledger.deactivate()
        assert signers(sandbox, plugged.client)[added] == sandbox.source_credentials.access_key
    finally:
        plugged.pids += plugged.client.run(os.getpid).values()
        plugged.cluster.scale(2)
        deadline = time.monotonic() + 30
        # a worker that is closing may answer with a closed stream: not one that stays
        while len(plugged.client.run(os.getpid, on_error="ignore")) > 2:
            assert time.monotonic() < deadline, "the added worker did not go"
            time.sleep(0.05)


def test_unregistering_restores_the_workers_own_credentials(
    plugged: Cluster, ledger: SessionLedger, sandbox: Any, issued: list[IssuedSession]
) -> None:
    ledger.add(issued[0])
    assert signers(sandbox, plugged.client) == each(plugged.client, issued[0].access_key_id)
    assert set(plugged.client.run(live_installed).values()) == {True}
    plugged.client.unregister_worker_plugin(CredentialsPlugin.name)
    assert signers(sandbox, plugged.client) == each(
        plugged.client, sandbox.source_credentials.access_key
    )
    assert set(plugged.client.run(live_installed).values()) == {False}
    # The kernel notices at the next change and stops sending sessions to this cluster.
    ledger.add(issued[1])
    ledger.activate("alpha")
    assert plugged.client.get_metadata(sts_dask.METADATA_KEY, None) is None
    assert signers(sandbox, plugged.client) == each(
        plugged.client, sandbox.source_credentials.access_key
    )


def test_an_expired_session_fails_the_task_before_anything_is_sent(
    plugged: Cluster, ledger: SessionLedger, sandbox: Any, issued: list[IssuedSession]
) -> None:
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    expired = dataclasses.replace(issued[0], label="stale", expiration=past)
    ledger.add(expired)
    sandbox.reset_requests()
    future = plugged.client.submit(list_buckets, pure=False)
    with pytest.raises(SessionExpired, match="session 'stale' expired") as raised:
        future.result()
    assert raised.value.label == "stale"
    assert sandbox.requests == []


def test_dd_read_csv_reads_s3_with_the_active_session(
    plugged: Cluster,
    sandbox: Any,
    issued: list[IssuedSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dask.dataframe as dd

    keys = sandbox.source_credentials
    s3 = sandbox_client(sandbox, "s3", keys)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="numbers.csv", Body=b"n,square\n1,1\n2,4\n3,9\n")
    # The kernel's own side of dd.read_csv (its sample) uses the kernel's credentials.
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    ledger = stsmagic.sessions
    plugin = CredentialsPlugin(ledger, plugged.client)
    plugged.client.register_plugin(plugin)
    try:
        for session in issued[:2]:  # an MFA-less session, then a switch to another
            ledger.add(session)
            sandbox.reset_requests()
            frame = dd.read_csv(f"s3://{BUCKET}/numbers.csv").compute(scheduler=plugged.client)
            assert frame["square"].tolist() == [1, 4, 9]
            used = {r.access_key_id for r in sandbox.requests if r.service == "s3"}
            assert used == {session.access_key_id}
    finally:
        assert plugin._pusher is not None
        plugin._pusher.stop()


# --- secrets ------------------------------------------------------------------------------------


def test_no_secret_in_worker_logs_reprs_or_the_registered_plugin(
    dask_cluster: Cluster,
    ledger: SessionLedger,
    sandbox: Any,
    issued: list[IssuedSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # the scheduler and the client live in this process
    caplog.set_level(logging.DEBUG, logger="distributed")
    client = dask_cluster.client
    client.run(capture_logs)
    ledger.add(issued[0])
    plugin = CredentialsPlugin(ledger, client)
    registered = pickle.dumps(plugin)
    client.register_plugin(plugin)
    try:
        ledger.add(issued[1])
        signers(sandbox, client)
        ledger.deactivate()
        worker_side = client.run(plugin_repr)
    finally:
        client.unregister_worker_plugin(CredentialsPlugin.name)
        assert plugin._pusher is not None
        plugin._pusher.stop()
    logs = client.run(captured_logs)
    secrets = [sandbox.source_credentials.secret_key]
    for session in issued[:2]:
        secrets += [session.credentials.secret_key, session.credentials.token]
    texts = {
        "worker log records": "\n".join(line for lines in logs.values() for line in lines),
        "scheduler and client log records": "\n".join(
            f"{r.name} {r.getMessage()}" for r in caplog.records
        ),
        "dask's worker logs": repr(client.get_worker_logs()),
        "dask's scheduler logs": repr(client.get_scheduler_logs()),
        "plugin repr (kernel)": repr(plugin),
        "plugin repr (worker)": repr(worker_side),
        "payload repr": repr(sts_dask._Payload.of(issued[0], 1)),
    }
    assert "Starting Worker plugin stsmagic-credentials" in texts["dask's worker logs"]
    assert any("botocore" in line for lines in logs.values() for line in lines)
    assert any("Message from" in line for lines in logs.values() for line in lines)
    assert any("Message from" in r.getMessage() for r in caplog.records)
    for where, text in texts.items():
        assert [s for s in secrets if s in text] == [], where
        assert issued[0].access_key_id not in text, where
    for value in [*secrets, issued[0].access_key_id]:
        assert value.encode() not in registered


def test_a_session_is_never_pickled_to_travel(issued: list[IssuedSession]) -> None:
    payload = sts_dask._Payload.of(issued[0], 7)
    travelled = pickle.loads(pickle.dumps(payload))
    assert b"IssuedSession" not in pickle.dumps(payload)
    rebuilt = travelled.session()
    assert rebuilt == issued[0]
    assert rebuilt.credentials == issued[0].credentials
    assert travelled.sequence == 7
    assert sts_dask._Payload.of(None, 8).session() is None


# --- %sts_dask ----------------------------------------------------------------------------------


def test_sts_dask_registers_on_the_named_client(
    ip: Any, dask_cluster: Cluster, sandbox: Any, issued: list[IssuedSession], capsys: Any
) -> None:
    client = dask_cluster.client
    ip.user_ns["dc"] = client
    stsmagic.sessions.add(issued[0])
    try:
        ip.run_line_magic("sts_dask", "dc")
        out = capsys.readouterr()
        assert out.out.startswith(f"Dask workers of {client.scheduler.address} now follow")
        assert "alpha (session, ASIA…" in out.out
        assert out.err == ""
        assert signers(sandbox, client) == each(client, issued[0].access_key_id)
        stsmagic.sessions.add(issued[1])
        assert signers(sandbox, client) == each(client, issued[1].access_key_id)
        ip.run_line_magic("sts_use", "--source")
        assert signers(sandbox, client) == each(client, sandbox.source_credentials.access_key)
    finally:
        client.unregister_worker_plugin(CredentialsPlugin.name)
        stsmagic.sessions.forget_all()


def test_sts_dask_uses_the_default_client(
    ip: Any, dask_cluster: Cluster, sandbox: Any, issued: list[IssuedSession]
) -> None:
    client = dask_cluster.client
    stsmagic.sessions.add(issued[2])
    try:
        with client.as_current():
            ip.run_line_magic("sts_dask", "")
        assert signers(sandbox, client) == each(client, issued[2].access_key_id)
    finally:
        client.unregister_worker_plugin(CredentialsPlugin.name)
        stsmagic.sessions.forget_all()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "%sts_dask: no Dask client: make one (distributed.Client(...)) or name its variable"),
        ("nothing_here", "%sts_dask: CLIENT: no variable named 'nothing_here'"),
        ("not_a_client", "%sts_dask: CLIENT: int is not a distributed.Client"),
    ],
)
def test_sts_dask_without_a_client_says_so_in_one_line(ip: Any, line: str, message: str) -> None:
    from IPython.core.error import UsageError

    ip.user_ns["not_a_client"] = 3
    with pytest.raises(UsageError) as raised:
        ip.run_line_magic("sts_dask", line)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_sts_dask_without_distributed_says_what_to_install(
    ip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.core.error import UsageError

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    monkeypatch.delitem(sys.modules, "stsmagic.dask")
    monkeypatch.delattr(stsmagic, "dask", raising=False)
    with pytest.raises(UsageError) as raised:
        ip.run_line_magic("sts_dask", "")
    assert str(raised.value) == "%sts_dask needs distributed: pip install 'stsmagic[dask]'"


@pytest.mark.parametrize(
    ("address", "warned"),
    [
        ("tcp://10.1.2.3:8786", True),
        ("tcp://scheduler.example.com:8786", True),
        ("10.1.2.3:8786", True),
        ("tcp://127.0.0.1:8786", False),
        ("tcp://localhost:8786", False),
        ("tcp://[::1]:8786", False),
        ("tls://10.1.2.3:8786", False),
        ("inproc://10.1.2.3/1/1", False),
        ("ws://10.1.2.3:8786", True),
        ("ws://scheduler.example.com:8786", True),
        ("ucx://10.1.2.3:8786", True),
        ("UCX://10.1.2.3:8786", True),
        ("ws://127.0.0.1:8786", False),
        ("ucx://localhost:8786", False),
        ("wss://10.1.2.3:8786", False),
    ],
)
def test_plaintext_warning_for_tcp_off_this_machine(address: str, warned: bool) -> None:
    warning = sts_dask.plaintext_warning(address)
    if warned:
        assert warning is not None and "TLS" in warning and address in warning
        assert "\n" not in warning
    else:
        assert warning is None


def outside_address() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family.name == "AF_INET" and not address.address.startswith("127."):
                return address.address
    return None


@pytest.mark.skipif(outside_address() is None, reason="no network interface but loopback")
@pytest.mark.parametrize("protocol", ["tcp", "ws"])
def test_sts_dask_warns_for_a_plain_scheduler_off_loopback(
    ip: Any, capsys: Any, protocol: str
) -> None:
    cluster = distributed.LocalCluster(
        n_workers=0,
        processes=False,
        protocol=protocol,
        host=outside_address(),
        dashboard_address=None,
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        ip.user_ns["remote"] = client
        ip.run_line_magic("sts_dask", "remote")
        err = capsys.readouterr().err
        assert client.scheduler.address.startswith(f"{protocol}://")
        assert err.startswith(f"Warning: the Dask scheduler {client.scheduler.address} is plain")
        assert "TLS" in err and err.count("\n") == 1
    finally:
        client.close()
        cluster.close()


def test_workers_in_the_kernels_own_process_keep_the_kernels_live_session(
    ip: Any, sandbox: Any, issued: list[IssuedSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    from stsmagic.outlets import live

    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    cluster = distributed.LocalCluster(
        n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        stsmagic.sessions.add(issued[0])
        ip.user_ns["local"] = client
        ip.run_line_magic("sts_dask", "local")
        assert signers(sandbox, client) == each(client, issued[0].access_key_id)
        stsmagic.sessions.add(issued[1])
        assert signers(sandbox, client) == each(client, issued[1].access_key_id)
        client.unregister_worker_plugin(CredentialsPlugin.name)
        # The kernel's own boto3 still follows the kernel's ledger.
        assert live.installed()
        assert signers(sandbox, client) == each(client, issued[1].access_key_id)
    finally:
        client.close()
        cluster.close()


def test_dask_is_imported_only_by_stsmagic_dask() -> None:
    root = Path(stsmagic.__file__).parent
    importing = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "import distributed" in path.read_text() or "from distributed" in path.read_text()
    )
    assert importing == ["dask.py"]
