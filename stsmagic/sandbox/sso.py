"""The SSO portal (IAM Identity Center): GetRoleCredentials, ListAccounts, ListAccountRoles,
Logout. Unsigned; the bearer token rides in ``x-amz-sso_bearer_token``.
"""

from __future__ import annotations

from collections.abc import Callable

from . import tokens
from .context import SandboxContext, SsoAssignment
from .request import Request
from .wire import AwsError, Response, json_result

PATHS = {
    "/federation/credentials": "GetRoleCredentials",
    "/assignment/accounts": "ListAccounts",
    "/assignment/roles": "ListAccountRoles",
    "/logout": "Logout",
}
BEARER_HEADER = "x-amz-sso_bearer_token"


def _bearer(request: Request, context: SandboxContext) -> str:
    token = request.header(BEARER_HEADER)
    with context.state.lock:
        expires_at = context.state.sso_tokens.get(token or "")
    if token is None or expires_at is None or expires_at <= context.now():
        raise AwsError("UnauthorizedException", "Session token not found or invalid", 401)
    return token


def _param(request: Request, name: str) -> str:
    values = request.query.get(name)
    if not values or not values[-1]:
        raise AwsError("InvalidRequestException", f"Missing required parameter: {name}", 400)
    return values[-1]


def _assignment(context: SandboxContext, account_id: str) -> SsoAssignment | None:
    return next((a for a in context.sso_assignments if a.account_id == account_id), None)


def get_role_credentials(request: Request, context: SandboxContext) -> Response:
    _bearer(request, context)
    account_id, role_name = _param(request, "account_id"), _param(request, "role_name")
    assignment = _assignment(context, account_id)
    if assignment is None or role_name not in assignment.roles:
        raise AwsError("ForbiddenException", "No access", 403)
    arn = f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{context.user_name}"
    issued = context.issue_key(
        "sso", arn, f"{tokens.unique_id('AROA')}:{context.user_name}", context.sso_session_seconds
    )
    assert issued.expiration is not None
    return json_result(
        {
            "roleCredentials": {
                "accessKeyId": issued.access_key_id,
                "secretAccessKey": issued.secret_access_key,
                "sessionToken": issued.session_token,
                "expiration": int(context.on_the_wire(issued.expiration).timestamp() * 1000),
            }
        }
    )


def list_accounts(request: Request, context: SandboxContext) -> Response:
    _bearer(request, context)
    return json_result(
        {
            "accountList": [
                {"accountId": a.account_id, "accountName": a.account_name, "emailAddress": a.email}
                for a in context.sso_assignments
            ]
        }
    )


def list_account_roles(request: Request, context: SandboxContext) -> Response:
    _bearer(request, context)
    account_id = _param(request, "account_id")
    assignment = _assignment(context, account_id)
    if assignment is None:
        raise AwsError("ResourceNotFoundException", "Account not found", 404)
    return json_result(
        {"roleList": [{"roleName": role, "accountId": account_id} for role in assignment.roles]}
    )


def logout(request: Request, context: SandboxContext) -> Response:
    token = _bearer(request, context)
    with context.state.lock:
        context.state.sso_tokens.pop(token, None)
    return Response(200)


HANDLERS: dict[str, Callable[[Request, SandboxContext], Response]] = {
    "GetRoleCredentials": get_role_credentials,
    "ListAccounts": list_accounts,
    "ListAccountRoles": list_account_roles,
    "Logout": logout,
}
