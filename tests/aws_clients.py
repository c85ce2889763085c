"""boto3 clients for a sandbox, made the one way the sandbox tests make them, and the key that
signed a call of theirs."""

from __future__ import annotations

import functools
from typing import Any

import boto3


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
