"""Who signed a request: the key's identity, after its signature, token and expiry check out.

STS requests must be signed by a key the sandbox knows. Requests passed on to moto are
checked the same way when their key is one the sandbox (or moto) issued; moto itself accepts
any key, so unknown keys still pass, as with moto alone.
"""

from __future__ import annotations

from . import session_policy, sigv4
from .context import SandboxContext
from .request import Request
from .state import IssuedKey
from .wire import AwsError

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"


def authenticate(request: Request, context: SandboxContext) -> IssuedKey:
    """The signer's key; AWS's error for a missing, unknown, mis-signed or expired one."""
    if not request.header("Authorization") and not request.presigned:
        raise AwsError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
    if request.access_key_id is None:
        raise AwsError(
            "IncompleteSignature",
            "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' parameters.",
            400,
        )
    key = context.find_key(request.access_key_id)
    _check(request, context, key)
    assert key is not None
    return key


def check_passthrough(request: Request, context: SandboxContext) -> None:
    """Signature, token and expiry of a request for moto signed with a key we know."""
    key_id = request.access_key_id
    if key_id is None:
        return  # unsigned, SigV2 or presigned: moto's business
    key = context.find_key(key_id)
    if key is None:
        return
    try:
        _check(request, context, key)
        if request.signing_service == "s3":
            session_policy.check_s3(request, key)
    except AwsError as error:
        if request.signing_service == "s3":
            raise _as_s3(error) from None
        raise


def _check(request: Request, context: SandboxContext, key: IssuedKey | None) -> None:
    try:
        sigv4.check_time(request)
        token = request.signed_value("X-Amz-Security-Token")
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


def _as_s3(error: AwsError) -> AwsError:
    """S3 words the same refusals its own way."""
    if error.code == "ExpiredToken":
        return AwsError("ExpiredToken", "The provided token has expired.", 400)
    if error.code == "InvalidClientTokenId":
        return AwsError(
            "InvalidToken", "The provided token is malformed or otherwise invalid.", 400
        )
    if error.message.startswith("Signature "):  # expired or not yet current: clock skew
        return AwsError(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            403,
        )
    return error
