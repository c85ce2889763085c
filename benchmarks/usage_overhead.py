"""What counting each call (``stsmagic.sessions.usage()``) costs, against what signing costs.

Two clients of boto3's default session sign with the active session; one counts (the usage
handlers every reached session gives its clients), the other has them unregistered. The figure
held to its goal is what counting adds to a request (the events botocore emits around every
request, with and without the usage handlers, plus the gate's note of the signer) over what
one request's signing takes, both timed in the same rounds in this thread's CPU time
(``time.thread_time``), which other processes on the machine do not change. Whole calls,
counted and not, answered by a 'before-send' handler (nothing is sent), are reported beside
it: on a loaded machine their difference is lost in their noise.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from signing_overhead import _call_batch, _signer_batch
from timing import Figure, interleaved

USAGE_HANDLERS = (
    ("before-call", "stsmagic-usage-before-call"),
    ("needs-retry", "stsmagic-usage-needs-retry"),
)


def _events_batch(client: Any, count: int, note_signer: bool) -> Any:
    """What counting adds to one request, alone: the two events botocore emits around every
    request (with its own handlers: before-call's, and the retry handler on needs-retry),
    and the gate's note of the signer when ``note_signer``."""
    from botocore.awsrequest import AWSResponse

    from stsmagic.outlets import gate

    model = client.meta.service_model.operation_model("GetCallerIdentity")
    response = AWSResponse("https://bench", 200, {}, None)
    parsed = {"Account": "123456789012", "ResponseMetadata": {"HTTPStatusCode": 200}}
    emit = client.meta.events.emit
    endpoint = client._endpoint
    label = "bench"

    def batch() -> None:
        for _ in range(count):
            context: dict[str, Any] = {}
            emit("before-call.sts.GetCallerIdentity", model=model, params={}, context=context)
            if note_signer:
                gate.signed_by.set(label)
            emit(
                "needs-retry.sts.GetCallerIdentity",
                response=(response, parsed),
                endpoint=endpoint,
                operation=model,
                attempts=1,
                caught_exception=None,
                request_dict={"context": context},
            )

    return batch


def measure(sandbox: Any, rounds: int = 30, per_round: int = 100) -> list[Figure]:
    import boto3

    import stsmagic

    active = stsmagic.sessions.active
    if active is None:
        raise RuntimeError("no active session")
    counted = boto3.client("sts", endpoint_url=sandbox.endpoint_url, region_name="us-east-1")
    uncounted = boto3.client("sts", endpoint_url=sandbox.endpoint_url, region_name="us-east-1")
    for event, unique_id in USAGE_HANDLERS:
        uncounted.meta.events.unregister(event, unique_id=unique_id)

    # The events alone (counting's whole cost without the rest of a call's noise) and the
    # signing, in the same rounds, in this thread's CPU time: a loaded machine moves both
    # together, and the ratio of each round is taken.
    events = per_round * 10
    events_with = _events_batch(counted, events, note_signer=True)
    events_without = _events_batch(uncounted, events, note_signer=False)
    sign = _signer_batch(counted, sandbox.endpoint_url + "/", per_round)
    cpu = time.thread_time
    for action in (events_with, events_without, sign):
        action()  # warm up
    ratios, extras, signs = [], [], []
    for index in range(rounds * 2):
        times = {}
        order = [events_with, events_without, sign]
        for action in order if index % 2 else reversed(order):
            start = cpu()
            action()
            times[action] = cpu() - start
        extra = (times[events_with] - times[events_without]) / events
        signing = times[sign] / per_round
        ratios.append(extra / signing)
        extras.append(extra)
        signs.append(signing)
    ratio_signing = statistics.median(ratios)
    extra_us = statistics.median(extras) * 1e6
    sign_us = statistics.median(signs) * 1e6

    # Whole calls, counted and not, interleaved (answered in memory; nothing is sent).
    before = stsmagic.sessions.usage_table.calls().get(str(active.label), 0)
    call_with, call_without, ratio = interleaved(
        _call_batch(counted, per_round), _call_batch(uncounted, per_round), rounds
    )
    after = stsmagic.sessions.usage_table.calls().get(str(active.label), 0)
    if after - before != (rounds + 1) * per_round:  # the warm-up round counts too
        raise RuntimeError(f"counted {after - before} calls, not {(rounds + 1) * per_round}")
    detail = (
        f"counting {extra_us:.2f} us a call (its event handlers and the gate's note), "
        f"signing {sign_us:.1f} us a request (medians of {rounds * 2} rounds; the figure is "
        "the median of each round's ratio), CPU time of this thread"
    )
    call_detail = (
        f"{call_with / per_round * 1e6:.0f} us counted, {call_without / per_round * 1e6:.0f} us "
        f"not, {rounds} interleaved rounds of {per_round} calls answered in memory"
    )
    return [
        Figure("usage counting / signing", ratio_signing, "x", 0.02, detail),
        Figure("client call, counted/uncounted", ratio, "x", None, call_detail),
    ]
