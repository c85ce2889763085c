"""``stsmagic sandbox``: serve a sandbox until Ctrl-C or SIGTERM.

The IAM user's keys go into a throwaway AWS config (profile ``sandbox``) in a temporary
folder, never onto the terminal; the folder is removed on exit.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any


def write_profile(folder: Path, box: Any) -> tuple[Path, Path]:
    """``config`` and ``credentials`` files with a ``sandbox`` profile for the IAM user."""
    from ..private_file import write_private

    keys = box.source_credentials
    config, credentials = folder / "config", folder / "credentials"
    config.write_text(
        "[profile sandbox]\n"
        f"region = {box.region}\n"
        f"mfa_serial = {box.mfa_serial}\n"
        f"endpoint_url = {box.endpoint_url}\n"
        "sso_session = sandbox\n"
        "\n[sso-session sandbox]\n"
        f"sso_start_url = {box.sso_start_url}\n"
        f"sso_region = {box.sso_region}\n"
        "sso_registration_scopes = sso:account:access\n"
    )
    write_private(
        credentials,
        "[sandbox]\n"
        f"aws_access_key_id = {keys.access_key}\n"
        f"aws_secret_access_key = {keys.secret_key}\n",
    )
    return config, credentials


def serve(port: int = 0) -> int:
    from .box import Sandbox

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    folder = Path(tempfile.mkdtemp(prefix="stsmagic-sandbox-"))
    try:
        with Sandbox(port) as box:
            config, credentials = write_profile(folder, box)
            print(f"stsmagic sandbox serving on {box.endpoint_url}", flush=True)
            print(f"  account {box.account_id}, IAM user {box.user_arn}", flush=True)
            print(f"  MFA device {box.mfa_serial}; SSO start URL {box.sso_start_url}", flush=True)
            print(f"  control API {box.endpoint_url}/_sandbox/info", flush=True)
            print(f"export AWS_ENDPOINT_URL={box.endpoint_url}", flush=True)
            print(f"export STSMAGIC_SIGNIN_URL={box.signin_url}", flush=True)
            print(
                f"export AWS_CONFIG_FILE={config} AWS_SHARED_CREDENTIALS_FILE={credentials} "
                "AWS_PROFILE=sandbox",
                flush=True,
            )
            print("Ctrl-C to stop.", flush=True)
            while not stop.wait(0.2):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        shutil.rmtree(folder, ignore_errors=True)
    print("stsmagic sandbox stopped.", flush=True)
    return 0
