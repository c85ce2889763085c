"""Who signed a request: the key's identity, after its signature, token and expiry check out.

Every request the sandbox passes on to moto, of any service, must be signed (SigV4, in a
header or a presigned query) by a key the sandbox (or moto's IAM) issued, and its signature,
token and expiry must check out: moto itself accepts any key and answers anyone, so nothing
unsigned or signed with a made-up key ever reaches it. The sandbox's own unsigned endpoints
(SSO portal, SSO OIDC, console sign-in, the STS calls AWS takes unsigned, its control API) are
routed before this.
"""

from __future__ import annotations

from . import session_policy, sigv4
from .context import SandboxContext
from .request import Request
from .state import IssuedKey
from .wire import AwsError

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
SIGV2_REFUSED = (
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
)


def authenticate(request: Request, context: SandboxContext) -> IssuedKey:
    """The signer's key; AWS's error for a missing, unknown, mis-signed or expired one."""
    authorization = request.header("Authorization") or ""
    if authorization.startswith("AWS ") or "AWSAccessKeyId" in request.query:  # SigV2
        raise AwsError("InvalidRequest", SIGV2_REFUSED, 400)
    if not authorization and not request.presigned:
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


def check_passthrough(request: Request, context: SandboxContext) -> IssuedKey:
    """The signer of a request for moto: refused unless signed by a key we know, well."""
    try:
        key = authenticate(request, context)
        if request.signing_service == "s3":
            session_policy.check_s3(request, key)
        return key
    except AwsError as error:
        if looks_like_s3(request):
            raise _as_s3(
                error, known=context.find_key(request.access_key_id or "") is not None
            ) from None
        raise


def looks_like_s3(request: Request) -> bool:
    """Signed for S3, or unsigned with no query ``Action`` nor JSON target: S3's REST face."""
    if request.scope is not None:
        return request.signing_service == "s3"
    return "Action" not in request.form and request.header("X-Amz-Target") is None


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


def _as_s3(error: AwsError, *, known: bool) -> AwsError:
    """S3 words the same refusals its own way."""
    if error.code == "MissingAuthenticationToken":
        return AwsError("AccessDenied", "Access Denied", 403)
    if error.code == "InvalidClientTokenId" and not known:
        return AwsError(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
        )
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
