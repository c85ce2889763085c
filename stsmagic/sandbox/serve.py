"""``stsmagic sandbox``: serve a sandbox until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from types import FrameType


def serve(port: int = 0) -> int:
    from .box import Sandbox

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Sandbox(port) as box:
            print(f"stsmagic sandbox serving on {box.endpoint_url}", flush=True)
            print(f"  account {box.account_id}, IAM user {box.user_arn}", flush=True)
            print(f"  MFA device {box.mfa_serial}; SSO start URL {box.sso_start_url}", flush=True)
            print(f"export AWS_ENDPOINT_URL={box.endpoint_url}", flush=True)
            print("Ctrl-C to stop.", flush=True)
            while not stop.wait(0.2):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("stsmagic sandbox stopped.", flush=True)
    return 0
