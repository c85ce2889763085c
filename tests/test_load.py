"""Load: 8 threads make 1,200 boto3 calls while sessions are issued and switched under them.

Each call is a GetCallerIdentity through a client made from boto3's default session, so it is
signed with whatever the ledger has active at that moment (stsmagic's live credentials). The
sandbox checks every signature: none may fail, no call may raise, and every identity returned
must be the source user's or one of the issued sessions'. The panel is correct at the end.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stsmagic.session import IssuedSession

THREADS = 8
CALLS = 1_200  # hundreds of switches under them; the speed is the benchmarks' to measure


def test_calls_while_sessions_are_issued_and_switched(sandbox: Any, aws_profile: Path) -> None:
    import boto3

    import stsmagic
    from stsmagic.outlets import live
    from stsmagic.widgets.panel import SessionPanel

    ledger = stsmagic.sessions
    live.install(ledger)
    broker = stsmagic.Broker()
    source_key = sandbox.source_credentials.access_key

    # Clients are made up front: making them is not thread-safe, using them is.
    clients = [boto3.client("sts") for _ in range(THREADS)]
    per_thread = [CALLS // THREADS + (i < CALLS % THREADS) for i in range(THREADS)]
    arns: list[Counter[str]] = [Counter() for _ in range(THREADS)]
    errors: list[BaseException] = []
    failures_before = sandbox.signature_failures
    since = len(sandbox.requests)

    def work(index: int) -> None:
        try:
            for _ in range(per_thread[index]):
                arns[index][clients[index].get_caller_identity()["Arn"]] += 1
        except BaseException as error:  # collected and asserted on below
            errors.append(error)

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(THREADS)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()

    # Meanwhile: issue sessions of two kinds and keep switching between them and the source.
    issued: list[IssuedSession] = []
    switches = 0
    try:
        while any(worker.is_alive() for worker in workers):
            if len(issued) < 6:
                if len(issued) % 2:
                    session = broker.get_federation_token(Name=f"load-{len(issued)}")
                else:
                    session = broker.get_session_token(TokenCode=sandbox.mfa_code())
                issued.append(ledger.add(session))
            elif switches % 4 == 3:
                ledger.deactivate()
            else:
                ledger.activate(str(issued[switches % len(issued)].label))
            switches += 1
            time.sleep(0.01)
    finally:
        for worker in workers:
            worker.join(timeout=120)
    elapsed = time.perf_counter() - start

    assert errors == [], f"{len(errors)} calls raised, first: {errors[0]!r}"
    assert sum(sum(c.values()) for c in arns) == CALLS
    assert sandbox.signature_failures == failures_before, "signatures failed at the sandbox"

    # Every identity returned belongs to the source user or an issued session.
    allowed = {sandbox.user_arn} | {s.principal for s in issued if s.principal}
    returned = sum(arns, Counter())
    assert set(returned) <= allowed, set(returned) - allowed
    federated = {s.principal for s in issued if s.kind == "federation"}
    assert federated and set(returned) & federated, "no call was made as a federated user"

    # At the sandbox: each call arrived once, answered 200, signed by a key stsmagic knew of.
    calls = [r for r in sandbox.requests[since:] if r.operation == "GetCallerIdentity"]
    assert len(calls) == CALLS
    assert Counter(r.status for r in calls) == {200: CALLS}
    keys = Counter(r.access_key_id for r in calls)
    assert set(keys) <= {source_key} | {s.access_key_id for s in issued}
    assert len(keys) >= 3, f"the switching was not seen: {len(keys)} keys signed"
    assert switches > 10

    # The panel and the frame agree with the ledger at the end.
    frame = ledger.to_frame()
    assert list(frame["label"]) == [s.label for s in ledger.sessions] == [s.label for s in issued]
    statuses = dict(zip(frame["label"], frame["status"], strict=True))
    active = ledger.active
    if active is None:
        assert set(statuses.values()) == {"standby"}
    else:
        assert statuses.pop(active.label) == "active"
        assert set(statuses.values()) == {"standby"}
    panel = SessionPanel(ledger)
    try:
        html = panel._repr_html_()
    finally:
        panel.close()
    for session in issued:
        assert str(session.label) in html and session.masked_access_key in html
        assert session.credentials.secret_key not in html
        assert session.credentials.token not in html

    rate = CALLS / elapsed
    print(
        f"\n{CALLS} calls, {THREADS} threads: {elapsed:.1f} s ({rate:.0f}/s), {switches} switches"
    )
