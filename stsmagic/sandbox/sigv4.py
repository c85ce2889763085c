"""SigV4 checks: the request's signature recomputed with botocore's own signer.

Nothing here hand-rolls HMAC: the canonical request, string to sign and signature come from
``botocore.auth.SigV4Auth`` fed with the headers the client said it signed.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta, timezone

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .request import Request
from .wire import AwsError

MAX_SKEW = timedelta(minutes=15)
_SIGNED_HEADERS = re.compile(r"SignedHeaders=([^,\s]+)")
_SIGNATURE = re.compile(r"Signature=([0-9a-f]+)")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


def signature_error(message: str = MISMATCH) -> AwsError:
    return AwsError("SignatureDoesNotMatch", message, 403)


def check_time(request: Request, now: datetime | None = None) -> None:
    """Refuse a request signed more than 15 minutes away from real time, as AWS words it."""
    stamp = request.signed_value("X-Amz-Date")
    if not stamp:
        raise AwsError(
            "IncompleteSignature",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            400,
        )
    try:
        signed_at = datetime.strptime(stamp, _AMZ_DATE).replace(tzinfo=timezone.utc)
    except ValueError:
        raise AwsError(
            "IncompleteSignature", f"Date must be in ISO-8601 'basic format'. Got '{stamp}'.", 400
        ) from None
    now = now or datetime.now(timezone.utc)
    fmt = now.strftime(_AMZ_DATE)
    expires = request.signed_value("X-Amz-Expires")
    if (
        request.presigned
        and expires
        and expires.isdigit()
        and now > signed_at + timedelta(seconds=int(expires))
    ):
        raise AwsError("AccessDenied", "Request has expired", 403)
    if signed_at < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(_AMZ_DATE)
        raise signature_error(
            f"Signature expired: {stamp} is now earlier than {earliest} ({fmt} - 15 min.)"
        )
    if signed_at > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(_AMZ_DATE)
        raise signature_error(
            f"Signature not yet current: {stamp} is still later than {latest} ({fmt} + 15 min.)"
        )


def verify(request: Request, secret_access_key: str, session_token: str | None) -> None:
    """Raise SignatureDoesNotMatch unless the request's SigV4 signature is right."""
    if request.presigned:
        _verify_presigned(request, secret_access_key, session_token)
    else:
        _verify_header(request, secret_access_key, session_token)


def _url(request: Request, query_string: str) -> str:
    url = f"http://{request.header('Host') or 'localhost'}{request.raw_path}"
    return url + (f"?{query_string}" if query_string else "")


def _compare(signer: SigV4Auth, aws_request: AWSRequest, given: str) -> None:
    canonical = signer.canonical_request(aws_request)
    expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
    if not hmac.compare_digest(expected, given):
        raise signature_error()


def _verify_header(request: Request, secret_access_key: str, session_token: str | None) -> None:
    authorization = request.header("Authorization") or ""
    signed = _SIGNED_HEADERS.search(authorization)
    given = _SIGNATURE.search(authorization)
    if request.scope is None or signed is None or given is None:
        raise AwsError(
            "IncompleteSignature",
            "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' parameters.",
            400,
        )
    access_key_id, _date, region, service = request.scope
    headers = {}
    for name in signed[1].split(";"):
        value = request.header(name)
        if value is not None:
            headers[name] = value
    aws_request = AWSRequest(
        method=request.method,
        url=_url(request, request.query_string),
        data=request.body,
        headers=headers,
    )
    aws_request.context["timestamp"] = request.header("X-Amz-Date") or ""
    # S3 signs the path as sent; every other service normalizes and re-encodes it.
    signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(
        Credentials(access_key_id, secret_access_key, session_token), service, region
    )
    _compare(signer, aws_request, given[1])


def _verify_presigned(request: Request, secret_access_key: str, session_token: str | None) -> None:
    if request.scope is None:
        raise AwsError("AuthorizationQueryParametersError", "X-Amz-Credential is malformed", 400)
    access_key_id, _date, region, service = request.scope
    unsigned_query = "&".join(
        pair for pair in request.query_string.split("&") if not pair.startswith("X-Amz-Signature=")
    )
    headers = {}
    for name in (request.signed_value("X-Amz-SignedHeaders") or "host").split(";"):
        value = request.header(name)
        if value is not None:
            headers[name] = value
    aws_request = AWSRequest(
        method=request.method, url=_url(request, unsigned_query), data=b"", headers=headers
    )
    aws_request.context["timestamp"] = request.signed_value("X-Amz-Date") or ""
    signer = (S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth)(
        Credentials(access_key_id, secret_access_key, session_token), service, region
    )
    _compare(signer, aws_request, request.signed_value("X-Amz-Signature") or "")
