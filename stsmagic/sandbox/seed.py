"""The seeded account: an IAM user with long-term keys and a virtual MFA device enabled for it.

Made in moto's IAM backend directly, not through a botocore client: a client would log the
new secret key and MFA seed in its DEBUG records (response bodies), and those records are
part of what the project scans for leaked secrets. In-process, nothing is logged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pyotp

from . import moto_backend


@dataclass(frozen=True)
class SeededUser:
    user_name: str
    user_arn: str
    user_id: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    mfa_serial: str
    mfa_seed: str = field(repr=False)


def seed_user(account_id: str, region: str, user_name: str) -> SeededUser:
    iam = moto_backend.iam(account_id)
    user = iam.create_user(region_name=region, user_name=user_name)
    key = iam.create_access_key(user_name=user_name)
    device = iam.create_virtual_mfa_device(device_name=user_name, path="/")
    seed = moto_backend.clean_seed(device.base32_string_seed)
    totp = pyotp.TOTP(seed)
    iam.enable_mfa_device(
        user_name=user_name,
        serial_number=device.serial_number,
        authentication_code_1=totp.at(time.time() - totp.interval),
        authentication_code_2=totp.now(),
    )
    return SeededUser(
        user_name=user_name,
        user_arn=user.arn,
        user_id=user.id,
        access_key_id=key.access_key_id,
        secret_access_key=key.secret_access_key,
        mfa_serial=device.serial_number,
        mfa_seed=seed,
    )
