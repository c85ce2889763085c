"""What the sandbox remembers: every key it issued, tokens, requests seen, faults to inject.

One ``SandboxState`` per sandbox, guarded by one lock; handlers run on many threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .clock import Clock


@dataclass(frozen=True)
class RecordedRequest:
    """One request the sandbox received: ``operation`` is the AWS operation name (the query
    ``Action``, the JSON target, the SSO/OIDC operation, or ``METHOD /path`` for REST services
    such as S3). Counted on arrival: ``status`` is 0 until the answer is sent."""

    service: str
    operation: str
    access_key_id: str | None
    status: int


@dataclass(frozen=True)
class IssuedKey:
    """An access key the sandbox can authenticate, with the identity it stands for.

    ``kind``: ``user`` (long-term IAM keys), ``session``, ``federation``, ``delegated``,
    ``sso``, or ``moto`` (keys moto issued, e.g. by AssumeRole).
    """

    access_key_id: str
    secret_access_key: str
    session_token: str | None
    expiration: datetime | None
    kind: str
    arn: str
    user_id: str
    account_id: str
    # A session policy (federation's Policy, parsed): S3 requests it does not allow are refused.
    policy: Any = None

    def __repr__(self) -> str:
        return f"IssuedKey({self.kind}, {self.access_key_id[:4]}…{self.access_key_id[-4:]})"


@dataclass
class TradeIn:
    principal_arn: str
    expires_at: datetime
    policy: str | None
    duration_seconds: int
    used: bool = False


@dataclass(frozen=True)
class SigninGrant:
    """What a console sign-in token stands for until ``login`` spends it (once) or it
    expires: who signs in, with which kind of keys, and until when the console session lasts."""

    expires_at: datetime
    principal: str
    kind: str
    console_until: datetime


@dataclass
class OidcClient:
    client_secret: str
    expires_at: datetime


@dataclass
class DeviceGrant:
    client_id: str
    device_code: str
    user_code: str
    expires_at: datetime
    approved: bool = False
    redeemed: bool = False


@dataclass
class Fault:
    operation: str
    times: int
    status: int = 500
    code: str = "InternalFailure"
    message: str = "An internal error occurred."
    hang_seconds: float | None = None


@dataclass(repr=False)
class SandboxState:
    clock: Clock = field(default_factory=Clock)
    lock: threading.RLock = field(default_factory=threading.RLock)
    keys: dict[str, IssuedKey] = field(default_factory=dict)
    mfa_seeds: dict[str, tuple[str, str]] = field(default_factory=dict)  # serial -> (seed, arn)
    trade_ins: dict[str, TradeIn] = field(default_factory=dict)
    sso_tokens: dict[str, datetime] = field(default_factory=dict)
    oidc_clients: dict[str, OidcClient] = field(default_factory=dict)
    devices: dict[str, DeviceGrant] = field(default_factory=dict)  # by device code
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> client id
    signin_tokens: dict[str, SigninGrant] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    signature_failures: int = 0
    secrets: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # the fields hold secrets (and are keyed by them)
        return f"<SandboxState {len(self.keys)} keys, {len(self.requests)} requests>"

    def remember_secret(self, *values: str | None) -> None:
        with self.lock:
            self.secrets.extend(v for v in values if v)

    def add_key(self, key: IssuedKey) -> IssuedKey:
        with self.lock:
            if key.access_key_id in self.keys:  # never reuse an id
                raise RuntimeError("access key id collision")
            self.keys[key.access_key_id] = key
            self.remember_secret(key.secret_access_key, key.session_token)
        return key

    def key(self, access_key_id: str) -> IssuedKey | None:
        with self.lock:
            return self.keys.get(access_key_id)

    def record(self, request: RecordedRequest) -> RecordedRequest:
        """Count a request as it arrives (a client that gave up still sent it)."""
        with self.lock:
            self.requests.append(request)
        return request

    def finish(self, arrived: RecordedRequest, status: int) -> None:
        """Fill in the status of a request counted on arrival, unless the list was reset."""
        with self.lock:
            for index in range(len(self.requests) - 1, -1, -1):
                if self.requests[index] is arrived:
                    self.requests[index] = replace(arrived, status=status)
                    return

    def take_fault(self, operation: str) -> Fault | None:
        """The first pending fault for ``operation``, counted down by one use."""
        with self.lock:
            for index, fault in enumerate(self.faults):
                if fault.operation == operation:
                    if fault.times <= 1:
                        del self.faults[index]
                    else:
                        self.faults[index] = replace(fault, times=fault.times - 1)
                    return fault
        return None
