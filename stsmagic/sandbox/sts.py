"""STS operations moto lacks or fakes: GetSessionToken, GetFederationToken,
GetDelegatedAccessToken, AssumeRole and GetCallerIdentity. Every other STS action goes on to moto.
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


def _session_policies(
    params: dict[str, str], violations: limits.Violations
) -> tuple[str | None, list[str], list[tuple[str, str]]]:
    """Policy, PolicyArns and Tags, as GetFederationToken and AssumeRole both take them, each
    checked against its limits (what is wrong goes to ``violations``)."""
    policy = params.get("Policy")
    limits.policy_text(policy, violations)
    arns = [arn for (arn,) in _members(params, "PolicyArns", ("arn",))]
    limits.policy_arns(arns, violations)
    pairs = [(k, v) for k, v in _members(params, "Tags", ("Key", "Value"))]
    limits.tags(pairs, violations)
    return policy, arns, pairs


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
    policy, arns, pairs = _session_policies(params, violations)
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


# Credentials that are themselves a role session: assuming a role with them is role chaining.
ROLE_SESSION_KINDS = {"role", "delegated", "sso", "moto"}
CHAINED_TOO_LONG = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
    "role chaining."
)
ROLE_MAX_EXCEEDED = (
    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
)


def _not_authorized(caller: IssuedKey, role_arn: str) -> AwsError:
    return AwsError(
        "AccessDenied",
        f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        403,
    )


def _mfa_present(
    serial: str | None, code: str | None, caller: IssuedKey, context: SandboxContext
) -> bool:
    """aws:MultiFactorAuthPresent: a valid code of the caller's own device came with the call."""
    if serial is None and code is None:
        return False
    if not serial or not code:
        raise AwsError("AccessDenied", MFA_INCOMPLETE, 403)
    device = context.find_mfa_seed(serial)
    if device is None or device[1] not in (caller.arn, _user_of(caller, context)):
        raise AwsError("AccessDenied", MFA_UNKNOWN, 403)
    if not pyotp.TOTP(device[0]).verify(code, for_time=context.now(), valid_window=1):
        raise AwsError("AccessDenied", MFA_INVALID, 403)
    return True


def _user_of(caller: IssuedKey, context: SandboxContext) -> str:
    # GetSessionToken keys stand for the IAM user who asked for them (same ARN).
    return caller.arn if caller.kind in ("user", "session") else ""


def assume_role(request: Request, context: SandboxContext) -> Response:
    caller = authenticate(request, context)
    if caller.kind == "federation":
        raise AwsError(
            "AccessDenied", "Cannot call AssumeRole with federated user credentials", 403
        )
    params = request.form
    violations = limits.Violations()
    role_arn = limits.bounded(
        params.get("RoleArn"), "roleArn", 20, 2048, None, violations, required=True
    )
    session_name = limits.bounded(
        params.get("RoleSessionName"),
        "roleSessionName",
        2,
        64,
        limits.NAME_PATTERN,
        violations,
        required=True,
    )
    external_id = limits.bounded(
        params.get("ExternalId"), "externalId", 2, 1224, limits.EXTERNAL_ID_PATTERN, violations
    )
    source_identity = limits.bounded(
        params.get("SourceIdentity"), "sourceIdentity", 2, 64, limits.NAME_PATTERN, violations
    )
    seconds = limits.role_duration(params.get("DurationSeconds"), violations)
    serial, code = params.get("SerialNumber"), params.get("TokenCode")
    limits.serial_and_code(serial, code, violations)
    policy, arns, pairs = _session_policies(params, violations)
    violations.raise_any()
    limits.unique_tag_keys(pairs)
    transitive = [key for (key,) in _members(params, "TransitiveTagKeys", ("",))]
    if not {k.lower() for k in transitive} <= {k.lower() for k, _ in pairs}:
        raise AwsError(
            "InvalidParameterValue",
            "The specified transitive tag key must be included in the requested tags.",
        )
    assert role_arn is not None and session_name is not None
    role = context.find_role(role_arn)
    if role is None:
        raise _not_authorized(caller, role_arn)
    mfa = _mfa_present(serial, code, caller, context)
    if role.requires_mfa and not mfa:
        raise _not_authorized(caller, role_arn)
    if role.external_id is not None and external_id != role.external_id:
        raise _not_authorized(caller, role_arn)
    if caller.kind in ROLE_SESSION_KINDS and seconds > limits.CHAINED_DURATION_MAX:
        raise AwsError("ValidationError", CHAINED_TOO_LONG)
    if seconds > role.max_session_duration:
        raise AwsError("ValidationError", ROLE_MAX_EXCEEDED)
    document = limits.parse_policy(policy) if policy is not None else None
    size = limits.packed_policy_size(document, arns, pairs)
    limits.too_large(size)
    arn = f"arn:aws:sts::{context.account_id}:assumed-role/{role.name}/{session_name}"
    role_id = f"{role.role_id}:{session_name}"
    issued = context.issue_key("role", arn, role_id, seconds)
    result: dict[str, Any] = {
        "Credentials": _credentials(issued, context),
        "AssumedRoleUser": {"AssumedRoleId": role_id, "Arn": arn},
        "PackedPolicySize": size,
    }
    if source_identity is not None:
        result["SourceIdentity"] = source_identity
    return query_result("AssumeRole", result)


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
    "AssumeRole": assume_role,
    "GetCallerIdentity": get_caller_identity,
}
# STS actions that AWS serves without a signature; moto answers them as they come.
UNSIGNED = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}
