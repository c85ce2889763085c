"""`%sts_role` end to end against a raw, warm boto3 AssumeRole on the same endpoint."""

from __future__ import annotations

from typing import Any

from timing import Figure, interleaved, raw_client


def measure(sandbox: Any, shell: Any, rounds: int = 61) -> list[Figure]:
    role = sandbox.role_arn("plain")
    raw = raw_client(sandbox)

    def raw_call() -> None:
        raw.assume_role(RoleArn=role, RoleSessionName="bench")

    def magic_call() -> None:
        # --no-activate: the kernel's active session (and the live credentials) stay as they are
        shell.run_line_magic(
            "sts_role", f"--role-arn {role} --role-session-name bench --no-activate"
        )

    magic_s, raw_s, ratio = interleaved(magic_call, raw_call, rounds, warmup=2)
    detail = (
        f"median of {rounds} interleaved rounds: %sts_role {magic_s * 1000:.2f} ms,"
        f" raw boto3 assume_role {raw_s * 1000:.2f} ms, +{(magic_s - raw_s) * 1e6:.0f} us"
    )
    return [Figure("role overhead (%sts_role/raw)", ratio, "x", None, detail)]
