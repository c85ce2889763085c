"""A renewal (the renewer's whole work: the recipe's request, the swap under the label, the
`renewed` event) against one raw, warm boto3 request of the same kind on the same endpoint.

Kinds measured: federation (GetFederationToken) and role without MFA (AssumeRole), the ones
that renew themselves without asking anything.
"""

from __future__ import annotations

from typing import Any

from timing import Figure, interleaved, raw_client


def measure(sandbox: Any, rounds: int = 40) -> list[Figure]:
    from stsmagic import renewal
    from stsmagic.broker import Broker
    from stsmagic.ledger import SessionLedger

    raw = raw_client(sandbox)
    broker = Broker()
    ledger = SessionLedger()
    ledger.subscribe(lambda event, session: None)  # one subscriber, as the outlets are
    role_arn = sandbox.role_arn("plain")
    ledger.add(broker.get_federation_token(Name="bench", DurationSeconds=900, label="fed"))
    ledger.add(
        broker.assume_role(RoleArn=role_arn, RoleSessionName="bench", label="role"),
        activate=False,
    )
    kinds = {
        "federation": (
            lambda: renewal.renew(ledger, "fed"),
            lambda: raw.get_federation_token(Name="bench", DurationSeconds=900),
        ),
        "role": (
            lambda: renewal.renew(ledger, "role"),
            lambda: raw.assume_role(RoleArn=role_arn, RoleSessionName="bench"),
        ),
    }
    figures = []
    for kind, (renew, issue) in kinds.items():
        renewed_s, raw_s, ratio = interleaved(renew, issue, rounds, warmup=5)
        figures.append(
            Figure(
                f"renewal / raw boto3 ({kind})",
                ratio,
                "x",
                1.05,
                f"{rounds} interleaved rounds over HTTP: renewal {renewed_s * 1e3:.2f} ms,"
                f" raw {raw_s * 1e3:.2f} ms",
            )
        )
    return figures
