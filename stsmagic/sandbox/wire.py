"""Responses in the wire formats botocore parses: query XML (STS), rest-json (SSO, OIDC), S3 XML.

``AwsError`` is what a handler raises; the front app renders it in the protocol of the
service that was called.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from xml.sax.saxutils import escape

STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


class AwsError(Exception):
    """An AWS error: ``code`` as AWS spells it, ``message`` as AWS words it."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def request_id() -> str:
    return str(uuid.uuid4())


def iso8601(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(value: Any) -> str:
    if isinstance(value, Mapping):
        return "".join(f"<{k}>{_xml(v)}</{k}>" for k, v in value.items() if v is not None)
    if isinstance(value, datetime):
        return iso8601(value)
    return escape(str(value))


def query_result(
    action: str, result: Mapping[str, Any], namespace: str = STS_NAMESPACE
) -> Response:
    body = (
        f'<{action}Response xmlns="{namespace}">'
        f"<{action}Result>{_xml(result)}</{action}Result>"
        f"<ResponseMetadata><RequestId>{request_id()}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return Response(200, body.encode(), [("Content-Type", "text/xml")])


def query_error(error: AwsError, namespace: str = STS_NAMESPACE) -> Response:
    kind = "Sender" if error.status < 500 else "Receiver"
    body = (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id()}</RequestId></ErrorResponse>"
    )
    return Response(error.status, body.encode(), [("Content-Type", "text/xml")])


def json_result(payload: Mapping[str, Any], status: int = 200) -> Response:
    body = json.dumps(payload).encode()
    return Response(status, body, [("Content-Type", "application/json")])


def json_error(error: AwsError, extra: Mapping[str, Any] | None = None) -> Response:
    payload: dict[str, Any] = {"__type": error.code, "message": error.message}
    payload.update(extra or {})
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", error.code),
        ("x-amzn-RequestId", request_id()),
    ]
    return Response(error.status, json.dumps(payload).encode(), headers)


def s3_error(error: AwsError) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"<RequestId>{request_id()}</RequestId></Error>"
    )
    return Response(error.status, body.encode(), [("Content-Type", "application/xml")])
