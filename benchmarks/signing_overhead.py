"""Per-request SigV4 signing with stsmagic's live credentials against static credentials.

Both clients sign the same prepared GetCallerIdentity request with the same key triple; the
only difference is where the signer's ``get_frozen_credentials()`` comes from. Nothing is sent:
``sign`` is the client's own request signer, and the full-call variant answers 'before-send'
with a canned response.
"""

from __future__ import annotations

from typing import Any

from timing import Figure, interleaved

BODY = "Action=GetCallerIdentity&Version=2011-06-15"
IDENTITY_XML = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    b"<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/bench</Arn>"
    b"<UserId>AIDABENCH</UserId><Account>123456789012</Account></GetCallerIdentityResult>"
    b"<ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata>"
    b"</GetCallerIdentityResponse>"
)


def _signer_batch(client: Any, url: str, count: int) -> Any:
    from botocore.awsrequest import AWSRequest

    signer = client._request_signer
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}

    def batch() -> str:
        request = None
        for _ in range(count):
            request = AWSRequest(method="POST", url=url, data=BODY, headers=dict(headers))
            signer.sign("GetCallerIdentity", request)
        assert request is not None
        return str(request.headers["Authorization"])

    return batch


def _canned(**_: Any) -> Any:
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield IDENTITY_XML

    return AWSResponse("https://bench", 200, {}, Raw())


def _call_batch(client: Any, count: int) -> Any:
    client.meta.events.register("before-send.sts.GetCallerIdentity", _canned)

    def batch() -> None:
        for _ in range(count):
            client.get_caller_identity()

    return batch


def measure(sandbox: Any, live_key: str, rounds: int = 200, per_round: int = 50) -> list[Figure]:
    """``live_key``: the access key id of the session the ledger has active right now."""
    import boto3

    live_client = boto3.client("sts", endpoint_url=sandbox.endpoint_url, region_name="us-east-1")
    frozen = live_client._request_signer._credentials.get_frozen_credentials()
    if frozen.access_key != live_key:
        raise RuntimeError("the default session's client is not signing with the active session")
    static_client = boto3.Session(
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
        region_name="us-east-1",
    ).client("sts", endpoint_url=sandbox.endpoint_url)

    # The path measured is the renewable session's outside its refresh window: the renewer
    # costs one comparison there.
    import stsmagic

    active = stsmagic.sessions.active
    if active is None or active.renewal == "none":
        raise RuntimeError("the active session should be a renewable one")
    if stsmagic.sessions.now() >= active.renew_from:
        raise RuntimeError("the active session is inside its refresh window")

    url = sandbox.endpoint_url + "/"
    live_sign = _signer_batch(live_client, url, per_round)
    static_sign = _signer_batch(static_client, url, per_round)
    if f"Credential={live_key}/" not in live_sign():
        raise RuntimeError("live signing did not use the active session's key")
    live_s, static_s, ratio = interleaved(live_sign, static_sign, rounds)
    total = rounds * per_round
    sign_detail = (
        f"{total} requests each, {rounds} interleaved rounds: live"
        f" {live_s / per_round * 1e6:.1f} us, static {static_s / per_round * 1e6:.1f} us each;"
        f" live is a renewable ({active.renewal}) session outside its refresh window"
    )

    call_rounds, call_per_round = 20, 100
    live_call = _call_batch(live_client, call_per_round)
    static_call = _call_batch(static_client, call_per_round)
    c_live, c_static, c_ratio = interleaved(live_call, static_call, call_rounds)
    call_detail = (
        f"{call_rounds * call_per_round} calls each, answered by a 'before-send' handler: live"
        f" {c_live / call_per_round * 1e6:.1f} us, static {c_static / call_per_round * 1e6:.1f} us"
    )
    # The one difference, alone: where the signer's frozen triple comes from.
    live_creds = live_client._request_signer._credentials
    static_creds = static_client._request_signer._credentials

    def frozen_batch(credentials: Any) -> Any:
        def batch() -> None:
            for _ in range(10_000):
                credentials.get_frozen_credentials()

        return batch

    f_live, f_static, _ = interleaved(frozen_batch(live_creds), frozen_batch(static_creds), 9)
    frozen_detail = (
        f"live {f_live / 10_000 * 1e6:.2f} us, static {f_static / 10_000 * 1e6:.2f} us per call;"
        f" expected signing ratio {1 + (f_live - f_static) / 10_000 / (static_s / per_round):.4f}"
    )
    return [
        Figure("signing overhead (live/static)", ratio, "x", 1.02, sign_detail),
        Figure(
            "get_frozen_credentials extra",
            (f_live - f_static) / 10_000 * 1e6,
            " us",
            None,
            frozen_detail,
        ),
        Figure("client call overhead (live/static)", c_ratio, "x", None, call_detail),
    ]
