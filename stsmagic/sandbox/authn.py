"""Who signed a request: the key's identity, after its signature, token and expiry check out."""

from __future__ import annotations

from . import sigv4
from .context import SandboxContext
from .request import Request
from .state import IssuedKey
from .wire import AwsError

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"


def authenticate(request: Request, context: SandboxContext) -> IssuedKey:
    """The signer's key; AWS's error for a missing, unknown, mis-signed or expired one."""
    if not request.header("Authorization"):
        raise AwsError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
    if request.access_key_id is None:
        raise AwsError(
            "IncompleteSignature",
            "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' parameters.",
            400,
        )
    try:
        sigv4.check_time(request)
        key = context.find_key(request.access_key_id)
        token = request.header("X-Amz-Security-Token")
        if key is None or (key.session_token or None) != (token or None):
            raise AwsError("InvalidClientTokenId", INVALID_TOKEN, 403)
        sigv4.verify(request, key.secret_access_key, token)
    except AwsError as error:
        if error.code == "SignatureDoesNotMatch":
            with context.state.lock:
                context.state.signature_failures += 1
        raise
    if key.expiration is not None and key.expiration <= context.now():
        raise AwsError("ExpiredToken", EXPIRED_TOKEN, 400)
    return key


def expired_key(request: Request, context: SandboxContext) -> bool:
    """True when a passed-through request is signed with a session key this sandbox expired."""
    key_id = request.access_key_id
    if key_id is None:
        return False
    key = context.state.key(key_id)
    return key is not None and key.expiration is not None and key.expiration <= context.now()
