"""moto behind the front app: its WSGI application, its reset, and key and MFA look-ups.

moto keeps its state in process-wide globals, so every sandbox in a process shares one moto.
"""

from __future__ import annotations

import threading
from typing import Any

from .state import IssuedKey

_lock = threading.Lock()
_app: Any = None


def wsgi_app() -> Any:
    """moto's server-mode dispatcher (one per process; it builds backends on first use)."""
    global _app
    with _lock:
        if _app is None:
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                create_backend_app,
            )

            _app = DomainDispatcherApplication(create_backend_app)
        return _app


def reset() -> None:
    """Forget everything moto holds (users, buckets, ...), as ``POST /moto-api/reset`` does."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def default_account_id() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    return str(DEFAULT_ACCOUNT_ID)


def iam(account_id: str) -> Any:
    """moto's IAM backend for the account (global, partition ``aws``)."""
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["aws"]


def find_key(access_key_id: str, account_id: str) -> IssuedKey | None:
    """Keys moto made itself: IAM users' access keys and AssumeRole session keys."""
    try:
        backend = iam(account_id)
        for user in list(backend.users.values()):
            for key in list(user.access_keys):
                if key.access_key_id == access_key_id and key.status == "Active":
                    return IssuedKey(
                        access_key_id,
                        key.secret_access_key,
                        None,
                        None,
                        "user",
                        user.arn,
                        user.id,
                        account_id,
                    )
        from moto.sts.models import sts_backends

        role = sts_backends[account_id]["aws"].get_assumed_role_from_access_key(access_key_id)
        if role is not None:
            return IssuedKey(
                access_key_id,
                role.secret_access_key,
                role.session_token,
                _aware(role.expiration),
                "moto",
                role.arn,
                role.user_id,
                account_id,
            )
    except (KeyError, AttributeError):  # moto internals moved: treat as unknown
        return None
    return None


def _aware(moment: Any) -> Any:
    from datetime import timezone

    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def find_mfa_seed(serial_number: str, account_id: str) -> tuple[str, str] | None:
    """(Base32 seed, the ARN of the user it is enabled for) of an IAM virtual MFA device."""
    try:
        device = iam(account_id).virtual_mfa_devices.get(serial_number)
    except (KeyError, AttributeError):
        return None
    if device is None or device.user is None:
        return None
    return clean_seed(device.base32_string_seed), device.user.arn


def clean_seed(seed: str | bytes) -> str:
    """moto hands the seed back as the text ``b'...'``; pyotp wants the bare Base32."""
    text = seed.decode() if isinstance(seed, bytes) else str(seed)
    if text[:2] in ("b'", 'b"') and text[-1:] in ("'", '"'):
        text = text[2:-1]
    return text
