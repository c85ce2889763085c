"""A federation session's policy, applied to its S3 requests (moto applies none).

AWS grants a federated user the intersection of the IAM user's permissions and the session
policy; the sandbox's IAM user may do anything, so the session policy alone decides. Enough
of IAM's evaluation for a demo to be refused: an explicit Deny wins, else an Allow is needed;
``Action`` and ``Resource`` are strings or lists with ``*``/``?`` wildcards.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from .request import Request
from .state import IssuedKey
from .wire import AwsError


def s3_action_and_resource(request: Request) -> tuple[str, str]:
    """The IAM action and resource ARN of a path-style S3 request."""
    bucket, _, key = request.path.lstrip("/").partition("/")
    method = request.method
    if not bucket:
        return "s3:ListAllMyBuckets", "*"
    if not key:
        actions = {"GET": "s3:ListBucket", "HEAD": "s3:ListBucket", "PUT": "s3:CreateBucket"}
        return actions.get(method, "s3:DeleteBucket"), f"arn:aws:s3:::{bucket}"
    actions = {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject"}
    return actions.get(method, "s3:DeleteObject"), f"arn:aws:s3:::{bucket}/{key}"


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(statement: dict[str, Any], action: str, resource: str) -> bool:
    actions = _listed(statement.get("Action"))
    resources = _listed(statement.get("Resource"))
    return any(fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
        fnmatchcase(resource, r) for r in resources
    )


def allows(policy: Any, action: str, resource: str) -> bool:
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    matching = [s for s in statements if isinstance(s, dict) and _matches(s, action, resource)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return False
    return any(s.get("Effect") == "Allow" for s in matching)


def check_s3(request: Request, key: IssuedKey) -> None:
    """AccessDenied (403) when ``key``'s session policy does not allow the request."""
    if key.policy is None:
        return
    action, resource = s3_action_and_resource(request)
    if not allows(key.policy, action, resource):
        raise AwsError("AccessDenied", "Access Denied", 403)
