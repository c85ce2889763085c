"""The seeded account, made through moto's IAM over HTTP as a user would make it: an IAM user
with long-term keys and a virtual MFA device enabled for it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import botocore.session
import pyotp
from botocore.config import Config

from .moto_backend import clean_seed

# moto ignores who signs IAM calls; these well-known example keys only make botocore sign.
_SEEDING_KEY = "AKIAIOSFODNN7EXAMPLE"
_SEEDING_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@dataclass(frozen=True)
class SeededUser:
    user_name: str
    user_arn: str
    user_id: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    mfa_serial: str
    mfa_seed: str = field(repr=False)


_session_lock = threading.Lock()
_session: botocore.session.Session | None = None


def _botocore_session() -> botocore.session.Session:
    """One botocore session for all seeding: its loader caches the models (~0.3 s a load)."""
    global _session
    with _session_lock:
        if _session is None:
            # Nothing from the user's AWS config may reach the seeding client.
            # (name, env var, default, converter): no env var, so AWS_PROFILE & co. are ignored
            _session = botocore.session.Session(
                session_vars={
                    "profile": (None, None, None, None),
                    "config_file": (None, None, os.devnull, None),
                    "credentials_file": (None, None, os.devnull, None),
                }
            )
        return _session


def seed_user(endpoint_url: str, region: str, user_name: str) -> SeededUser:
    iam = _botocore_session().create_client(
        "iam",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=_SEEDING_KEY,
        aws_secret_access_key=_SEEDING_SECRET,
        config=Config(retries={"mode": "standard", "max_attempts": 2}),
    )
    user = iam.create_user(UserName=user_name)["User"]
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=user_name)["VirtualMFADevice"]
    seed = clean_seed(device["Base32StringSeed"])
    totp = pyotp.TOTP(seed)
    iam.enable_mfa_device(
        UserName=user_name,
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp.at(time.time() - totp.interval),
        AuthenticationCode2=totp.now(),
    )
    return SeededUser(
        user_name=user_name,
        user_arn=user["Arn"],
        user_id=user["UserId"],
        access_key_id=key["AccessKeyId"],
        secret_access_key=key["SecretAccessKey"],
        mfa_serial=device["SerialNumber"],
        mfa_seed=seed,
    )
