"""Usage: every call a session signs in the kernel is counted, and drafted into an IAM policy.

boto3, s3fs and pandas call the sandbox over HTTP; the counts are checked against the requests
the sandbox saw signed with each session's key.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from IPython.core.error import UsageError

import stsmagic
from stsmagic import policy_draft, usage
from stsmagic.errors import SessionExpired
from stsmagic.policy_draft import S3_ACTIONS, PolicyDraft, draft
from stsmagic.usage import COLUMNS, Record
from tests.helpers.aws_clients import sandbox_client
from tests.helpers.widgets import widget_states

pytest.importorskip("pandas")

CSV = b"city,people\nLisbon,545000\nPorto,232000\n"
# Resource names no usage output may ever hold.
SECRET_BUCKET = f"usage-private-{uuid.uuid4().hex[:10]}"
SECRET_KEY = f"payroll/salaries-{uuid.uuid4().hex[:8]}.csv"


@pytest.fixture(scope="module")
def bucket(sandbox: Any) -> str:
    """A bucket with one CSV, made with the source credentials (so not counted)."""
    s3 = sandbox_client(sandbox, "s3", sandbox.source_credentials)
    s3.create_bucket(Bucket=SECRET_BUCKET)
    s3.put_object(Bucket=SECRET_BUCKET, Key=SECRET_KEY, Body=CSV)
    return SECRET_BUCKET


@pytest.fixture
def s3_env(sandbox: Any, ip: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """s3fs and pandas pointed at the sandbox; no filesystem cached from another test."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


def federation(ip: Any, name: str, *flags: str) -> Any:
    return ip.run_line_magic("sts_federation", " ".join(["--name", name, *flags]))


def rows(label: str | None = None) -> list[tuple[Any, ...]]:
    """The usage table without its times: (label, via, service, operation, calls, errors,
    last_error), as the frame has them."""
    frame = stsmagic.sessions.usage(label)
    assert list(frame.columns) == list(COLUMNS)
    return [
        (r.label, r.via, r.service, r.operation, r.calls, r.errors, _none(r.last_error))
        for r in frame.itertuples(index=False)
    ]


def _none(value: Any) -> Any:
    return None if value is None or value != value else value


def signed_by(sandbox: Any, key: str, since: int) -> list[Any]:
    return [r for r in sandbox.requests[since:] if r.access_key_id == key]


# -- boto3 --------------------------------------------------------------------------------------


def test_boto3_calls_signed_with_a_session_are_counted_and_no_other(
    sandbox: Any, ip: Any, bucket: str
) -> None:
    n = len(sandbox.requests)
    alice = federation(ip, "alice")
    sts = boto3.client("sts")
    s3 = boto3.client("s3")
    sts.get_caller_identity()
    sts.get_caller_identity()
    s3.list_objects_v2(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key=SECRET_KEY)["Body"].read() == CSV
    # Not signed by a session: a client given keys (after a presigned URL, which the gate
    # signs and no call follows), and the source credentials.
    s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": SECRET_KEY})
    keys = sandbox.source_credentials
    boto3.Session(aws_access_key_id=keys.access_key, aws_secret_access_key=keys.secret_key).client(
        "sts"
    ).get_caller_identity()
    ip.run_line_magic("sts_use", "--source")
    sts.get_caller_identity()
    assert rows() == [
        (alice.label, "botocore", "s3", "GetObject", 1, 0, None),
        (alice.label, "botocore", "s3", "ListObjectsV2", 1, 0, None),
        (alice.label, "botocore", "sts", "GetCallerIdentity", 2, 0, None),
    ]
    # Every request the sandbox saw signed with alice's key was counted, and only those.
    assert len(signed_by(sandbox, alice.access_key_id, n)) == 4
    frame = stsmagic.sessions.to_frame()
    assert frame.set_index("label")["calls"].to_dict() == {alice.label: 4}
    times = stsmagic.sessions.usage()["last_at"]
    assert str(times.dtype) == "datetime64[us, UTC]"
    assert times.max() <= datetime.now(timezone.utc)  # the machine's clock


def test_clients_of_a_default_session_made_before_load_ext_are_counted(
    sandbox: Any, shell: Any, aws_profile: Path
) -> None:
    boto3.setup_default_session()
    boto3.client("sts").get_caller_identity()  # boto3's default session has its chain now
    shell.run_line_magic("load_ext", "stsmagic")
    try:
        quinn = federation(shell, "quinn")
        boto3.client("sts").get_caller_identity()
        assert rows() == [(quinn.label, "botocore", "sts", "GetCallerIdentity", 1, 0, None)]
    finally:
        shell.run_line_magic("unload_ext", "stsmagic")


def test_aws_errors_are_counted_with_their_code(sandbox: Any, ip: Any, bucket: str) -> None:
    ip.user_ns["only_elsewhere"] = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::elsewhere/*"}
        ],
    }
    try:
        denied = federation(ip, "denied", "--policy", "only_elsewhere")
    finally:
        ip.user_ns.pop("only_elsewhere")
    s3 = boto3.client("s3")
    with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
        s3.get_object(Bucket=bucket, Key=SECRET_KEY)
    bob = federation(ip, "bob")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="missing.csv")
    with pytest.raises(s3.exceptions.ClientError, match="404"):
        s3.head_object(Bucket=bucket, Key="missing.csv")  # HEAD: no body, the status is all
    s3.head_object(Bucket=bucket, Key=SECRET_KEY)  # a success keeps the last error code
    assert rows() == [
        (denied.label, "botocore", "s3", "GetObject", 1, 1, "AccessDenied"),
        (bob.label, "botocore", "s3", "GetObject", 1, 1, "NoSuchKey"),
        (bob.label, "botocore", "s3", "HeadObject", 2, 1, "404"),
    ]


def test_an_error_code_that_is_not_shaped_like_awss_is_kept_as_the_status(ip: Any) -> None:
    from tests.helpers.answering_server import AnsweringServer

    erin = federation(ip, "erin")
    echoed = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Badbucket-secret-name-7731</Code>"
        b"<Message>m</Message></Error></ErrorResponse>"
    )
    with AnsweringServer(echoed, status=400) as endpoint:
        sts = boto3.client(
            "sts", endpoint_url=endpoint.url, config=Config(retries={"max_attempts": 1})
        )
        with pytest.raises(sts.exceptions.ClientError, match="secret-name"):
            sts.get_caller_identity()  # botocore raises what came; the table keeps its shape
        endpoint.answer(
            echoed.replace(b"Badbucket-secret-name-7731", b"Client.Throttled"), status=400
        )
        with pytest.raises(sts.exceptions.ClientError):
            sts.get_caller_identity()
    assert rows() == [
        (erin.label, "botocore", "sts", "GetCallerIdentity", 2, 2, "Client.Throttled")
    ]
    with AnsweringServer(echoed, status=400) as endpoint:
        sts = boto3.client(
            "sts", endpoint_url=endpoint.url, config=Config(retries={"max_attempts": 1})
        )
        with pytest.raises(sts.exceptions.ClientError):
            sts.get_caller_identity()
    assert rows()[-1][-1] == "400"


def test_a_request_that_gets_no_answer_is_counted_as_an_error_by_its_exception(
    ip: Any,
) -> None:
    carol = federation(ip, "carol")
    # Nothing listens on port 9 of loopback: each attempt is signed, sent, and refused.
    sts = boto3.client(
        "sts",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2),
    )
    attempts: list[str] = []
    sts.meta.events.register("before-send", lambda **_: attempts.append("sent"))
    with pytest.raises(Exception, match="Could not connect"):
        sts.get_caller_identity()
    assert len(attempts) >= 2  # a retried request: every attempt was signed and counted
    n = len(attempts)
    assert rows() == [
        (carol.label, "botocore", "sts", "GetCallerIdentity", n, n, "EndpointConnectionError")
    ]


def test_a_request_refused_before_sending_is_not_counted(sandbox: Any, ip: Any) -> None:
    dave = federation(ip, "dave", "--no-renew")
    sts = boto3.client("sts")
    sts.get_caller_identity()
    later = dave.expiration + timedelta(minutes=1)
    stsmagic.sessions.clock = lambda: later
    try:
        n = len(sandbox.requests)
        with pytest.raises(SessionExpired):
            sts.get_caller_identity()
        assert len(sandbox.requests) == n
    finally:
        from stsmagic.ledger import _utcnow

        stsmagic.sessions.clock = _utcnow
    assert rows() == [(dave.label, "botocore", "sts", "GetCallerIdentity", 1, 0, None)]


def test_a_renewal_keeps_its_labels_counts_and_forgetting_drops_them(sandbox: Any, ip: Any) -> None:
    from stsmagic import renewal

    erin = federation(ip, "erin")
    sts = boto3.client("sts")
    sts.get_caller_identity()
    renewed = renewal.renew(stsmagic.sessions, erin.label)
    assert renewed.access_key_id != erin.access_key_id and renewed.label == erin.label
    n = len(sandbox.requests)
    sts.get_caller_identity()
    sts.get_caller_identity()
    assert len(signed_by(sandbox, renewed.access_key_id, n)) == 2
    assert rows(erin.label) == [(erin.label, "botocore", "sts", "GetCallerIdentity", 3, 0, None)]
    assert stsmagic.sessions.to_frame()["calls"].tolist() == [3]
    frank = federation(ip, "frank")
    sts.get_caller_identity()
    stsmagic.sessions.forget(erin.label)
    assert rows() == [(frank.label, "botocore", "sts", "GetCallerIdentity", 1, 0, None)]
    stsmagic.sessions.forget_all()
    assert rows() == []


# -- s3fs, pandas, aiobotocore ------------------------------------------------------------------


def test_s3fs_and_pandas_are_counted_via_aiobotocore(
    sandbox: Any, ip: Any, s3_env: None, bucket: str
) -> None:
    import pandas as pd
    import s3fs

    fs = s3fs.S3FileSystem()  # made before the session: fsspec caches it, pandas reuses it
    n = len(sandbox.requests)
    grace = federation(ip, "grace")
    assert fs.cat(f"{bucket}/{SECRET_KEY}") == CSV
    assert pd.read_csv(f"s3://{bucket}/{SECRET_KEY}")["people"].sum() == 777000
    with pytest.raises(FileNotFoundError):
        pd.read_csv(f"s3://{bucket}/missing.csv")
    counted = rows()
    assert {row[:3] for row in counted} == {(grace.label, "aiobotocore", "s3")}
    sent = signed_by(sandbox, grace.access_key_id, n)
    assert sum(row[4] for row in counted) == len(sent) > 0
    assert sum(row[5] for row in counted) == sum(r.status >= 300 for r in sent) > 0
    assert "GetObject" in {row[3] for row in counted}
    assert {row[6] for row in counted} <= {None, "404", "NoSuchKey"}


def test_aiobotocore_coroutines_side_by_side_count_under_their_own_session(
    sandbox: Any, ip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiobotocore.session import get_session

    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    heidi = federation(ip, "heidi")

    async def calls() -> None:
        async with get_session().create_client("sts", region_name="us-east-1") as sts:
            await asyncio.gather(*(sts.get_caller_identity() for _ in range(5)))

    asyncio.run(calls())
    assert rows() == [(heidi.label, "aiobotocore", "sts", "GetCallerIdentity", 5, 0, None)]


# -- threads ------------------------------------------------------------------------------------

IDENTITY_XML = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    b"<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/t</Arn>"
    b"<UserId>AIDATEST</UserId><Account>123456789012</Account></GetCallerIdentityResult>"
    b"<ResponseMetadata><RequestId>t</RequestId></ResponseMetadata>"
    b"</GetCallerIdentityResponse>"
)


def _answer_from_memory(**_: Any) -> Any:
    """A 'before-send' handler: the request was signed; its answer comes from memory."""
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield IDENTITY_XML

    return AWSResponse("http://127.0.0.1/", 200, {}, Raw())


def test_eight_threads_of_three_hundred_calls_lose_no_count(ip: Any) -> None:
    ivan = federation(ip, "ivan")
    clients = [boto3.client("sts") for _ in range(8)]
    for client in clients:
        client.meta.events.register("before-send.sts.GetCallerIdentity", _answer_from_memory)
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def work(client: Any) -> None:
        try:
            start.wait()
            for _ in range(300):
                client.get_caller_identity()
        except BaseException as e:  # reported below, not lost in the thread
            failures.append(e)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython will
    try:
        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert rows() == [(ivan.label, "botocore", "sts", "GetCallerIdentity", 2400, 0, None)]


def test_eight_threads_making_the_same_new_rows_at_once_lose_no_count() -> None:
    """The table alone, at its most contended: every thread counts the same new row at the
    same moment, a thousand rows in a row (without the lock, rows made twice lose counts)."""

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(20):
            table = usage.UsageTable()
            start = threading.Barrier(8)

            def work(table: usage.UsageTable = table, start: threading.Barrier = start) -> None:
                start.wait()
                for n in range(1000):
                    table.record("x", "botocore", "s3", f"Operation{n}")

            threads = [threading.Thread(target=work) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert table.calls() == {"x": 8000}
            assert {r.calls for r in table.records()} == {8}
    finally:
        sys.setswitchinterval(interval)


# -- the policy draft ---------------------------------------------------------------------------

EXPECTED_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:DeleteObject",
                "s3:GetObject",
                "s3:ListAllMyBuckets",
                "s3:ListBucket",
                "s3:PutObject",
                "sts:GetCallerIdentity",
            ],
            "Resource": "*",
        }
    ],
}


def test_policy_draft_of_a_known_set_of_calls(
    sandbox: Any, ip: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    federation(ip, "judy")
    s3 = boto3.client("s3")
    s3.list_buckets()
    s3.head_bucket(Bucket=bucket)
    s3.list_objects_v2(Bucket=bucket)
    s3.head_object(Bucket=bucket, Key=SECRET_KEY)
    s3.get_object(Bucket=bucket, Key=SECRET_KEY)
    s3.put_object(Bucket=bucket, Key="copy/a.csv", Body=CSV)
    s3.copy_object(
        Bucket=bucket, Key="copy/b.csv", CopySource={"Bucket": bucket, "Key": "copy/a.csv"}
    )
    s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "copy/a.csv"}, {"Key": "copy/b.csv"}]}
    )
    boto3.client("sts").get_caller_identity()
    # CloudWatch's model says its prefix is "monitoring", which IAM does not know: not guessed.
    boto3.client("cloudwatch").put_metric_data(
        Namespace="usage-test", MetricData=[{"MetricName": "m", "Value": 1.0}]
    )
    capsys.readouterr()
    assert ip.run_line_magic("sts_usage", "--policy") is None
    out = capsys.readouterr().out
    document, rest = out.split("\n}\n", 1)
    assert json.loads(document + "\n}") == EXPECTED_POLICY
    assert document + "\n}" == json.dumps(EXPECTED_POLICY, indent=2)
    assert rest.splitlines() == [
        '"Resource": "*" allows these actions on every resource: narrow it to the ARNs the '
        "notebook needs before using this policy.",
        "Not mapped (no IAM action of that name in policy-sentry's database; add what they "
        "need by hand): cloudwatch PutMetricData",
    ]


def test_every_s3_mapping_is_an_s3_operation_and_its_actions_are_in_the_iam_database() -> None:
    import botocore.session
    from policy_sentry.querying.actions import get_action_data

    operations = set(botocore.session.get_session().get_service_model("s3").operation_names)
    assert set(S3_ACTIONS) <= operations
    for operation, actions in S3_ACTIONS.items():
        assert not get_action_data("s3", operation), f"{operation} is an action: no mapping"
        for action in actions:
            found = get_action_data("s3", action).get("s3")
            assert found and found[0]["action"] == f"s3:{action}", (operation, action)


def record(service: str, operation: str, via: str = "botocore", calls: int = 1) -> Record:
    return Record("x", via, service, operation, calls, 0, None, datetime.now(timezone.utc))


def test_what_cannot_be_mapped_is_named_never_guessed() -> None:
    made = draft(
        [
            record("s3", "ListObjectsV2"),
            record("s3", "UploadPartCopy"),
            record("s3", "WriteGetObjectResponse"),  # s3-object-lambda's, not s3's
            record("s3", "CreateSession"),  # s3express's
            record("cloudwatch", "PutMetricData"),  # prefix "monitoring": unknown to IAM
            record("no-such-service", "DoThing"),  # not a botocore service
            record("sts", "GetCallerIdentity", via="aiobotocore"),
            record("credentials", "fetch", via="serve", calls=3),  # a child's: no AWS call
        ]
    )
    assert made == PolicyDraft(
        actions=("s3:GetObject", "s3:ListBucket", "s3:PutObject", "sts:GetCallerIdentity"),
        unmapped=(
            ("cloudwatch", "PutMetricData"),
            ("no-such-service", "DoThing"),
            ("s3", "CreateSession"),
            ("s3", "WriteGetObjectResponse"),
        ),
        fetches=3,
    )
    assert made.text().splitlines()[-1] == (
        "Children fetched the session 3 times from the credentials endpoint: their own calls "
        "are not seen in this kernel, nor in this draft."
    )
    assert policy_draft.iam_prefix("sts") == "sts"
    assert policy_draft.iam_prefix("s3control") == "s3"  # its signingName
    nothing = draft([record("cloudwatch", "PutMetricData")])
    assert nothing.text().splitlines()[0] == "No AWS action to draft: no call counted maps to one."


def test_operation_names_are_looked_up_literally_and_others_are_left_out() -> None:
    made = draft(
        [
            record("iam", "*"),  # policy-sentry reads it as every IAM action
            record("s3", "Get*"),
            record("sts", "GetCallerIdentity\nForged: line", calls=2),
            record("s3\n", "GetObject"),
            record("iam", "ListRoles"),
        ]
    )
    assert made.actions == ("iam:ListRoles",)
    assert made.unmapped == () and made.not_names == 5
    text = made.text()
    assert "Forged" not in text and "*" not in text.split("\n}\n")[0].replace('"Resource": "*"', "")
    assert text.splitlines()[-1] == (
        "Left out: 5 calls counted under a service or operation that is not an AWS name."
    )
    assert policy_draft.iam_action("iam", "*") is None
    assert policy_draft.iam_action("s3", "getobject") is None  # names are AWS's, as spelled
    assert policy_draft.iam_action("s3", "GetObject") == "s3:GetObject"


# -- the credentials endpoint's fetches ---------------------------------------------------------


def test_record_fetch_counts_a_childs_fetch_under_serve(ip: Any) -> None:
    kim = federation(ip, "kim")
    stsmagic.sessions.usage_table.record_fetch(kim.label)
    stsmagic.sessions.usage_table.record_fetch(kim.label)
    assert rows() == [(kim.label, "serve", "credentials", "fetch", 2, 0, None)]
    assert stsmagic.sessions.to_frame()["calls"].tolist() == [2]


# -- the magic ----------------------------------------------------------------------------------


def test_sts_usage_magic_shows_the_table_of_all_or_one_label(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ip.run_line_magic("sts_usage", "") is None
    assert "No calls counted yet" in capsys.readouterr().out
    leo = federation(ip, "leo")
    boto3.client("sts").get_caller_identity()
    mia = federation(ip, "mia")
    boto3.client("sts").get_caller_identity()
    boto3.client("sts").get_caller_identity()
    every = ip.run_line_magic("sts_usage", "")
    assert every[["label", "calls"]].values.tolist() == [[leo.label, 1], [mia.label, 2]]
    one = ip.run_line_magic("sts_usage", mia.label)
    assert one[["label", "operation", "calls"]].values.tolist() == [
        [mia.label, "GetCallerIdentity", 2]
    ]
    with pytest.raises(UsageError) as refused:
        ip.run_line_magic("sts_usage", "nobody")
    assert str(refused.value) == (
        f"%sts_usage: label: no session is labelled 'nobody'; known: {leo.label}, {mia.label}"
    )
    with pytest.raises(UsageError, match="unrecognized argument --polcy"):
        ip.run_line_magic("sts_usage", "--polcy")


def test_sts_usage_policy_without_policy_sentry_names_the_install(
    ip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    federation(ip, "nina")
    boto3.client("sts").get_caller_identity()
    for name in [m for m in sys.modules if m.startswith("policy_sentry")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "policy_sentry", None)  # as if not installed
    with pytest.raises(UsageError) as refused:
        ip.run_line_magic("sts_usage", "--policy")
    assert str(refused.value) == (
        "%sts_usage: an IAM policy draft needs policy-sentry: pip install 'stsmagic[usage]'"
    )


# -- the panel ----------------------------------------------------------------------------------


def test_the_panel_counts_calls_live_and_details_list_the_busiest_operations(
    ip: Any, bucket: str
) -> None:
    import html
    import re

    from stsmagic.widgets.panel import SessionPanel

    olga = federation(ip, "olga")
    panel = SessionPanel(interval=None)
    try:
        s3 = boto3.client("s3")
        for _ in range(3):
            s3.head_object(Bucket=bucket, Key=SECRET_KEY)
        s3.list_objects_v2(Bucket=bucket)
        for _ in range(2):
            boto3.client("sts").get_caller_identity()
        panel.refresh()  # the timer's tick: counting is no ledger change
        view = panel.rows[olga.label]
        assert view.cells[-1].value == "6"
        details = html.unescape(re.sub(r"<[^>]*>", "", view.details.value))
        assert details.endswith(
            "busiest s3 HeadObject 3, sts GetCallerIdentity 2, s3 ListObjectsV2 1"
        )
        assert "<th>calls</th>" in panel._repr_html_()
    finally:
        panel.close()


# -- nothing secret, no resource name -----------------------------------------------------------


def test_no_key_secret_token_bucket_or_object_name_in_any_usage_output(
    sandbox: Any, ip: Any, s3_env: None, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    from stsmagic.widgets.panel import SessionPanel

    pat = federation(ip, "pat")
    s3 = boto3.client("s3")
    s3.get_object(Bucket=bucket, Key=SECRET_KEY)
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key=SECRET_KEY + ".old")
    pd.read_csv(f"s3://{bucket}/{SECRET_KEY}")
    capsys.readouterr()
    frame = ip.run_line_magic("sts_usage", "")
    ip.run_line_magic("sts_usage", "--policy")
    panel = SessionPanel(interval=None)
    try:
        panel.details.value = True
        states = widget_states()
        shown = "\n".join(
            [
                frame.to_string(),
                frame.to_csv(),
                frame.to_html(),
                repr(stsmagic.sessions.usage_table.records()),
                stsmagic.sessions.to_frame().to_string(),
                capsys.readouterr().out,
                panel._repr_html_(),
                states,
            ]
        )
    finally:
        panel.close()
    assert "GetObject" in shown and pat.label in shown  # the scan looks at real output
    creds = pat.credentials
    for secret in (bucket, "payroll", SECRET_KEY, creds.access_key, creds.secret_key, creds.token):
        assert secret not in shown
