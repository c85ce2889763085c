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
- Keys: every call of every service must be signed (SigV4, header or presigned URL) by a
  key the sandbox or moto's IAM issued, and its signature, token and expiry must check out;
  an unsigned call or one with a made-up key never reaches moto (``MissingAuthenticationToken``
  / ``InvalidClientTokenId``; S3: ``AccessDenied`` / ``InvalidAccessKeyId``), and SigV2 is
  refused. Unsigned by design: the SSO portal (bearer token), SSO OIDC, console sign-in, the
  STS calls AWS takes unsigned, and the control API. ``/moto-api/`` is not served.
- IAM: a known user may create access keys, as on AWS; the new key works at once (the sandbox
  finds it in moto's IAM) and its secret joins ``issued_secrets()``. A virtual MFA device's
  seed is shown only by ``CreateVirtualMFADevice``, to its creator; every other IAM answer
  (``ListVirtualMFADevices``, ...) goes out without it, and no answer carries the seeded
  user's secret key or seed.
- HEAD answers never have a body.
- Requests are counted on arrival (``requests``; ``status`` is 0 until answered; ``signers``
  names the key of each), except the control API's.
- moto's state is process-wide: the first sandbox in a process resets it; sandboxes running
  at the same time share moto, each with its own IAM user, keys, tokens, clock and requests.
"""

from __future__ import annotations

from .box import Sandbox
from .control import SandboxClient, connect
from .state import RecordedRequest

__all__ = ["RecordedRequest", "Sandbox", "SandboxClient", "connect"]
