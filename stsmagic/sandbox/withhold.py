"""What IAM's answers, coming back from moto, must never carry.

moto answers ``ListVirtualMFADevices`` (and any call that describes a virtual device) with
the device's seed and QR code; AWS shows a seed once, in ``CreateVirtualMFADevice``, to the
caller who made the device. So the seed and QR code are taken out of every other IAM answer,
and an answer that would still hold a secret of the sandbox's own (the seeded user's secret
key or MFA seed) is not sent at all. Secrets IAM issues to a caller (a new device's seed, a
new access key's secret) are remembered, so ``issued_secrets()`` scans cover them.
"""

from __future__ import annotations

import base64
import binascii
import re

from .context import SandboxContext
from .moto_backend import clean_seed
from .wire import AwsError

_SEED_ELEMENTS = re.compile(
    rb"<(Base32StringSeed|QRCodePNG)>[^<]*</(?:Base32StringSeed|QRCodePNG)>"
)
_SEED = re.compile(rb"<Base32StringSeed>([^<]+)</Base32StringSeed>")
_SECRET_KEY = re.compile(rb"<SecretAccessKey>([^<]+)</SecretAccessKey>")

SHOWS_SEED = "CreateVirtualMFADevice"


def iam_answer(operation: str, body: bytes, context: SandboxContext) -> bytes:
    """``body`` as the caller may see it; AwsError if it holds a secret of the sandbox's own."""
    if operation == SHOWS_SEED:
        for match in _SEED.finditer(body):
            context.state.remember_secret(_seed_text(match[1]))
    else:
        body = _SEED_ELEMENTS.sub(b"", body)
    for match in _SECRET_KEY.finditer(body):
        context.state.remember_secret(match[1].decode("utf-8", "replace"))
    if any(secret in body for secret in _own_secrets(context)):
        raise AwsError("InternalFailure", "The sandbox withheld an answer holding a secret.", 500)
    return body


def _seed_text(encoded: bytes) -> str:
    try:
        return clean_seed(base64.b64decode(encoded, validate=True).decode("ascii"))
    except (binascii.Error, UnicodeDecodeError):
        return encoded.decode("utf-8", "replace")


def _own_secrets(context: SandboxContext) -> list[bytes]:
    """The seeded users' secret keys and MFA seeds, as text and as IAM encodes a seed."""
    with context.state.lock:
        seeds = [seed for seed, _arn in context.state.mfa_seeds.values()]
        keys = [k.secret_access_key for k in context.state.keys.values() if k.kind == "user"]
    found = [s.encode() for s in keys if s]
    for seed in seeds:
        found += [seed.encode(), base64.b64encode(seed.encode())]
    return found
