"""STS operations moto lacks or fakes: GetSessionToken, GetFederationToken,
GetDelegatedAccessToken and GetCallerIdentity. Every other STS action goes on to moto.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyotp

from . import limits, tokens
from .authn import authenticate
from .context import SandboxContext
from .request import Request
from .state import IssuedKey
from .wire import AwsError, Response, query_result

MFA_INVALID = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
MFA_UNKNOWN = (
    "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA "
    "serial number is valid and associated with this user."
)
MFA_INCOMPLETE = (
    "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
)


def _credentials(key: IssuedKey, context: SandboxContext) -> dict[str, Any]:
    return {
        "AccessKeyId": key.access_key_id,
        "SecretAccessKey": key.secret_access_key,
        "SessionToken": key.session_token,
        "Expiration": context.on_the_wire(key.expiration) if key.expiration else None,
    }


def _refuse_session_credentials(caller: IssuedKey, operation: str) -> None:
    if caller.session_token:
        raise AwsError("AccessDenied", f"Cannot call {operation} with session credentials", 403)


def _members(params: dict[str, str], prefix: str, fields: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Query-protocol lists (``Tags.member.1.Key``) back into tuples, in member order."""
    found: dict[int, dict[str, str]] = {}
    for name, value in params.items():
        if not name.startswith(prefix + ".member."):
            continue
        index, _, leaf = name[len(prefix) + 8 :].partition(".")
        if index.isdigit():
            found.setdefault(int(index), {})[leaf] = value
    return [tuple(found[i].get(f, "") for f in fields) for i in sorted(found)]


def get_session_token(request: Request, context: SandboxContext) -> Response:
    caller = authenticate(request, context)
    _refuse_session_credentials(caller, "GetSessionToken")
    params = request.form
    serial, code = params.get("SerialNumber"), params.get("TokenCode")
    violations = limits.Violations()
    seconds = limits.duration(params.get("DurationSeconds"), violations)
    limits.serial_and_code(serial, code, violations)
    violations.raise_any()
    if serial is not None or code is not None:
        if not serial or not code:
            raise AwsError("AccessDenied", MFA_INCOMPLETE, 403)
        device = context.find_mfa_seed(serial)
        if device is None or device[1] != caller.arn:
            raise AwsError("AccessDenied", MFA_UNKNOWN, 403)
        totp = pyotp.TOTP(device[0])
        if not totp.verify(code, for_time=context.now(), valid_window=1):
            raise AwsError("AccessDenied", MFA_INVALID, 403)
    issued = context.issue_key("session", caller.arn, caller.user_id, seconds)
    return query_result("GetSessionToken", {"Credentials": _credentials(issued, context)})


def get_federation_token(request: Request, context: SandboxContext) -> Response:
    caller = authenticate(request, context)
    _refuse_session_credentials(caller, "GetFederationToken")
    params = request.form
    violations = limits.Violations()
    name = limits.federation_name(params.get("Name"), violations)
    seconds = limits.duration(params.get("DurationSeconds"), violations)
    policy = params.get("Policy")
    limits.policy_text(policy, violations)
    arns = [arn for (arn,) in _members(params, "PolicyArns", ("arn",))]
    limits.policy_arns(arns, violations)
    pairs = [(k, v) for k, v in _members(params, "Tags", ("Key", "Value"))]
    limits.tags(pairs, violations)
    violations.raise_any()
    limits.unique_tag_keys(pairs)
    document = limits.parse_policy(policy) if policy is not None else None
    size = limits.packed_policy_size(document, arns, pairs)
    limits.too_large(size)
    arn = f"arn:aws:sts::{context.account_id}:federated-user/{name}"
    issued = context.issue_key(
        "federation", arn, f"{context.account_id}:{name}", seconds, policy=document
    )
    return query_result(
        "GetFederationToken",
        {
            "Credentials": _credentials(issued, context),
            "FederatedUser": {"FederatedUserId": issued.user_id, "Arn": arn},
            "PackedPolicySize": size,
        },
    )


def get_delegated_access_token(request: Request, context: SandboxContext) -> Response:
    authenticate(request, context)
    token = request.form.get("TradeInToken")
    if not token:
        violations = limits.Violations()
        violations.add(None, "tradeInToken", "not be null")
        violations.raise_any()
    with context.state.lock:
        trade_in = context.state.trade_ins.get(token or "")
        if trade_in is None:
            raise AwsError("AccessDenied", "The trade-in token is not valid.", 403)
        if trade_in.used:
            raise AwsError(
                "ExpiredTradeInTokenException", "The trade-in token has already been used."
            )
        if trade_in.expires_at <= context.now():
            raise AwsError("ExpiredTradeInTokenException", "The trade-in token has expired.")
        trade_in.used = True
    document = limits.parse_policy(trade_in.policy) if trade_in.policy else None
    size = limits.packed_policy_size(document)
    limits.too_large(size)
    role_name = trade_in.principal_arn.rsplit("/", 1)[-1]
    issued = context.issue_key(
        "delegated",
        trade_in.principal_arn,
        f"{tokens.unique_id('AROA')}:{role_name}",
        trade_in.duration_seconds,
    )
    return query_result(
        "GetDelegatedAccessToken",
        {
            "Credentials": _credentials(issued, context),
            "PackedPolicySize": size,
            "AssumedPrincipal": trade_in.principal_arn,
        },
    )


def get_caller_identity(request: Request, context: SandboxContext) -> Response:
    caller = authenticate(request, context)
    return query_result(
        "GetCallerIdentity",
        {
            "UserId": caller.user_id,
            "Account": caller.account_id,
            "Arn": caller.arn,
        },
    )


HANDLERS: dict[str, Callable[[Request, SandboxContext], Response]] = {
    "GetSessionToken": get_session_token,
    "GetFederationToken": get_federation_token,
    "GetDelegatedAccessToken": get_delegated_access_token,
    "GetCallerIdentity": get_caller_identity,
}
# STS actions that AWS serves without a signature; moto answers them as they come.
UNSIGNED = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}
