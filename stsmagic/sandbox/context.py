"""What every handler needs: the sandbox's state, its account and its identity provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyotp

from . import moto_backend, tokens
from .roles import EXTERNAL_ID, ROLE_NAMES, Role, moto_role
from .state import IssuedKey, SandboxState, TradeIn


@dataclass
class SsoAssignment:
    account_id: str
    account_name: str
    email: str
    roles: tuple[str, ...]


@dataclass
class SandboxContext:
    account_id: str
    region: str
    user_name: str = ""
    user_arn: str = ""
    mfa_serial: str = ""
    mfa_seed: str = field(default="", repr=False)
    endpoint_url: str = ""
    sso_start_url: str = "https://stsmagic-sandbox.awsapps.com/start"
    sso_region: str = "us-east-1"
    sso_session_seconds: int = 3600
    sso_assignments: list[SsoAssignment] = field(default_factory=list)
    roles: dict[str, Role] = field(default_factory=dict)  # by ARN
    state: SandboxState = field(default_factory=SandboxState, repr=False)

    def now(self) -> datetime:
        return self.state.clock.now()

    def on_the_wire(self, moment: datetime) -> datetime:
        """A sandbox-clock time as a client on the real clock must see it.

        ``advance`` ages what was already issued; something issued afterwards still says
        "expires in <duration>" on the real clock, as AWS would.
        """
        return moment - self.state.clock.offset

    def find_key(self, access_key_id: str) -> IssuedKey | None:
        return self.state.key(access_key_id) or moto_backend.find_key(
            access_key_id, self.account_id
        )

    def find_mfa_seed(self, serial_number: str) -> tuple[str, str] | None:
        with self.state.lock:
            known = self.state.mfa_seeds.get(serial_number)
        return known or moto_backend.find_mfa_seed(serial_number, self.account_id)

    def find_role(self, arn: str) -> Role | None:
        return self.roles.get(arn) or moto_role(arn, self.account_id)

    def issue_key(
        self, kind: str, arn: str, user_id: str, seconds: int, policy: object = None
    ) -> IssuedKey:
        key = IssuedKey(
            access_key_id=tokens.access_key_id(),
            secret_access_key=tokens.secret_access_key(),
            session_token=tokens.session_token(),
            expiration=self.now() + timedelta(seconds=seconds),
            kind=kind,
            arn=arn,
            user_id=user_id,
            account_id=self.account_id,
            policy=policy,
        )
        return self.state.add_key(key)

    def sso_access_token(self, expires_in: int) -> tuple[str, datetime]:
        token = tokens.opaque("aoa", 64)
        expires_at = self.now() + timedelta(seconds=expires_in)
        with self.state.lock:
            self.state.sso_tokens[token] = expires_at
        self.state.remember_secret(token)
        return token, expires_at

    def mfa_code(self, at: datetime | None = None) -> str:
        """The code the seeded virtual MFA device shows at ``at`` (default: the sandbox's now)."""
        return pyotp.TOTP(self.mfa_seed).at(at or self.now())

    def mint_trade_in_token(
        self,
        principal_arn: str | None = None,
        expires_in: float = 300,
        *,
        policy: str | None = None,
        duration_seconds: int = 3600,
    ) -> str:
        principal = principal_arn or f"arn:aws:iam::{self.account_id}:role/stsmagic-delegated"
        token = tokens.opaque("tit-", 48)
        trade_in = TradeIn(
            principal, self.now() + timedelta(seconds=expires_in), policy, duration_seconds
        )
        with self.state.lock:
            self.state.trade_ins[token] = trade_in
        self.state.remember_secret(token)
        return token

    def info(self) -> dict[str, str]:
        """What the control API tells anyone: no secret of the sandbox's own."""
        return {
            "endpoint_url": self.endpoint_url,
            # the console federation endpoint: STSMAGIC_SIGNIN_URL for stsmagic.console
            "signin_url": f"{self.endpoint_url}/federation",
            "account_id": self.account_id,
            "region": self.region,
            "user_name": self.user_name,
            "user_arn": self.user_arn,
            "mfa_serial": self.mfa_serial,
            "sso_start_url": self.sso_start_url,
            "sso_region": self.sso_region,
            "sso_account_id": self.sso_assignments[0].account_id if self.sso_assignments else "",
            "sso_role_name": self.sso_assignments[0].roles[0] if self.sso_assignments else "",
            **{
                f"role_arn_{which.replace('-', '_')}": f"arn:aws:iam::{self.account_id}:role/{name}"
                for which, name in ROLE_NAMES.items()
            },
            "external_id": EXTERNAL_ID,
        }
