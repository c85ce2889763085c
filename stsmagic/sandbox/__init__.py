"""The local AWS endpoint: moto's server mode behind stsmagic's own STS, SSO, SSO OIDC and
console-federation handlers, on one port of 127.0.0.1.

``Sandbox`` starts one in this process; ``connect()`` reaches a running one over its control
API (``/_sandbox/...``). Not imported by ``import stsmagic``: it needs the ``sandbox`` extra
(moto, pyotp).

How it behaves, where AWS leaves a choice:

- Time: ``advance(seconds)`` moves the sandbox's clock. What was issued ages (keys, trade-in
  and SSO tokens, device codes expire sooner); what is issued afterwards still reports its
  Expiration on the real clock. MFA codes follow the sandbox's clock (``mfa_code()``).
  Signatures are checked against real time (15 minutes either way), so clock-skew tests
  work whatever the sandbox's clock says.
- Refusals: a wrong or stale MFA code is ``AccessDenied``; an unknown trade-in token is
  ``AccessDenied``; a used or expired one ``ExpiredTradeInTokenException``; an unknown SSO
  account or role ``ForbiddenException`` ("No access"), an unknown account in
  ListAccountRoles ``ResourceNotFoundException``; a bad or expired bearer token
  ``UnauthorizedException``.
- Keys: STS calls must be signed by a key the sandbox (or moto) issued. Calls passed on to
  moto are checked (signature, token, expiry) when their key is known, and go through
  unchecked otherwise, as with moto alone.
- Requests are counted on arrival (``requests``; ``status`` is 0 until answered), except the
  control API's.
- moto's state is process-wide: the first sandbox in a process resets it; sandboxes running
  at the same time share moto, each with its own IAM user, keys, tokens, clock and requests.
"""

from __future__ import annotations

from .box import Sandbox
from .control import SandboxClient, connect
from .state import RecordedRequest

__all__ = ["RecordedRequest", "Sandbox", "SandboxClient", "connect"]
