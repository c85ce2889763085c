"""The local AWS endpoint: moto's server mode behind stsmagic's own STS, SSO, SSO OIDC and
console-federation handlers, on one port of 127.0.0.1.

``Sandbox`` starts one in this process; ``connect()`` reaches a running one over its control
API. Not imported by ``import stsmagic``: it needs the ``sandbox`` extra (moto, pyotp).
"""

from __future__ import annotations

from .box import Sandbox
from .control import SandboxClient, connect
from .state import RecordedRequest

__all__ = ["RecordedRequest", "Sandbox", "SandboxClient", "connect"]
