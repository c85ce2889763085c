"""boto3 clients for a sandbox, made the one way the tests make them; who a call was signed by,
and what an AWS refusal said."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.exceptions import ClientError


@functools.cache
def boto3_session() -> boto3.session.Session:
    """One boto3 session for the whole run: its loader reads botocore's models once."""
    return boto3.session.Session()


def _triple(keys: Any) -> tuple[str | None, str | None, str | None]:
    if keys is None:
        return None, None, None
    if isinstance(keys, dict) and "AccessKeyId" in keys:  # STS's Credentials
        return keys["AccessKeyId"], keys["SecretAccessKey"], keys.get("SessionToken")
    if isinstance(keys, dict):  # SSO's roleCredentials
        return keys["accessKeyId"], keys["secretAccessKey"], keys.get("sessionToken")
    return keys.access_key, keys.secret_key, keys.token  # botocore's credentials


def sandbox_client(box: Any, service: str, keys: Any = None, config: Any = None) -> Any:
    """A ``service`` client at ``box`` in us-east-1, signing with ``keys``: botocore
    credentials, an STS ``Credentials`` dict or an SSO ``roleCredentials`` dict (None: none
    given, for the unsigned SSO calls)."""
    access_key, secret_key, token = _triple(keys)
    return boto3_session().client(
        service,
        region_name="us-east-1",
        endpoint_url=box.endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
        config=config,
    )


def signed_with(box: Any, client: Any) -> str:
    """Call GetCallerIdentity with ``client``; the access key the sandbox saw sign it."""
    client.get_caller_identity()
    request = box.requests[-1]
    assert request.operation == "GetCallerIdentity" and request.status == 200
    return str(request.access_key_id)


def caller_arn(client: Any = None) -> str:
    """Who ``client`` signs as: GetCallerIdentity's Arn. By default an STS client of boto3's
    default session, made as a cell would make it."""
    return str((client or boto3.client("sts")).get_caller_identity()["Arn"])


class AwsError(NamedTuple):
    """What an AWS endpoint's refusal said: the error code and message, the HTTP status."""

    code: str
    message: str
    status: int


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> AwsError:
    """The refusal a botocore ``ClientError`` carries, as botocore parsed it off the wire."""
    response = excinfo.value.response
    return AwsError(
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )
