"""AWS's limits on STS parameters, checked as STS checks them, and the packed policy size.

Violations are collected and reported together, worded as AWS words them:
``1 validation error detected: Value 'x' at 'name' failed to satisfy constraint: ...``.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import zlib
from collections.abc import Sequence

from .wire import AwsError

DURATION_MIN = 900
DURATION_MAX = 129600
DEFAULT_DURATION = 43200
# The budget a packed (compressed) session policy may use; PackedPolicySize is its percentage.
PACKED_BUDGET_BYTES = 1024

_NAME = re.compile(r"[\w+=,.@-]*", re.ASCII)
_SERIAL = re.compile(r"[\w+=/:,.@-]*", re.ASCII)
_TOKEN_CODE = re.compile(r"[\d]*")
_POLICY_CHARS = re.compile(r"[\u0009\u000A\u000D\u0020-\u00FF]+")
_TAG_PUNCTUATION = set("_.:/=+-@")


class Violations:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, value: object, field: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{value}'"
        self.items.append(
            f"Value {shown} at '{field}' failed to satisfy constraint: Member must {constraint}"
        )

    def length(self, value: str, field: str, low: int | None, high: int | None) -> None:
        if low is not None and len(value) < low:
            self.add(value, field, f"have length greater than or equal to {low}")
        if high is not None and len(value) > high:
            self.add(value, field, f"have length less than or equal to {high}")

    def raise_any(self) -> None:
        if self.items:
            count = len(self.items)
            noun = "error" if count == 1 else "errors"
            raise AwsError(
                "ValidationError",
                f"{count} validation {noun} detected: " + "; ".join(self.items),
            )


def duration(raw: str | None, violations: Violations, field: str = "durationSeconds") -> int:
    if raw is None or raw == "":
        return DEFAULT_DURATION
    try:
        seconds = int(raw)
    except ValueError:
        violations.add(raw, field, "be an integer")
        return DEFAULT_DURATION
    if seconds < DURATION_MIN:
        violations.add(seconds, field, f"have value greater than or equal to {DURATION_MIN}")
    if seconds > DURATION_MAX:
        violations.add(seconds, field, f"have value less than or equal to {DURATION_MAX}")
    return seconds


def serial_and_code(serial: str | None, code: str | None, violations: Violations) -> None:
    if serial is not None:
        violations.length(serial, "serialNumber", 9, 256)
        if not _SERIAL.fullmatch(serial):
            violations.add(
                serial, "serialNumber", r"satisfy regular expression pattern: [\w+=/:,.@-]*"
            )
    if code is not None:
        violations.length(code, "tokenCode", 6, 6)
        if not _TOKEN_CODE.fullmatch(code):
            violations.add(code, "tokenCode", r"satisfy regular expression pattern: [\d]*")


def federation_name(name: str | None, violations: Violations) -> str:
    if name is None:
        violations.add(None, "name", "not be null")
        return ""
    violations.length(name, "name", 2, 32)
    if not _NAME.fullmatch(name):
        violations.add(name, "name", r"satisfy regular expression pattern: [\w+=,.@-]*")
    return name


def policy_text(policy: str | None, violations: Violations) -> None:
    if policy is None:
        return
    violations.length(policy, "policy", 1, 2048)
    if policy and not _POLICY_CHARS.fullmatch(policy):
        violations.add(
            policy,
            "policy",
            "satisfy regular expression pattern: "
            r"[\u0009\u000A\u000D\u0020-\u00FF]+",
        )


def policy_arns(arns: Sequence[str], violations: Violations) -> None:
    if len(arns) > 10:
        violations.add(
            "[" + ", ".join(arns) + "]", "policyArns", "have length less than or equal to 10"
        )
    for index, arn in enumerate(arns, start=1):
        violations.length(arn, f"policyArns.{index}.member.arn", 20, 2048)


def _tag_text(value: str) -> bool:
    return all(
        ch.isalpha()
        or ch.isnumeric()
        or unicodedata.category(ch).startswith("Z")
        or ch in _TAG_PUNCTUATION
        for ch in value
    )


def tags(pairs: Sequence[tuple[str, str]], violations: Violations) -> None:
    if len(pairs) > 50:
        violations.add(f"[{len(pairs)} tags]", "tags", "have length less than or equal to 50")
    for index, (key, value) in enumerate(pairs, start=1):
        violations.length(key, f"tags.{index}.member.key", 1, 128)
        if not _tag_text(key):
            violations.add(
                key,
                f"tags.{index}.member.key",
                r"satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+",
            )
        violations.length(value, f"tags.{index}.member.value", 0, 256)
        if not _tag_text(value):
            violations.add(
                value,
                f"tags.{index}.member.value",
                r"satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*",
            )


def unique_tag_keys(pairs: Sequence[tuple[str, str]]) -> None:
    seen = [key.lower() for key, _ in pairs]
    if len(set(seen)) != len(seen):
        raise AwsError(
            "InvalidParameterValue",
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        )


def parse_policy(policy: str) -> object:
    """The policy as JSON, refused with MalformedPolicyDocument as IAM refuses it."""
    try:
        document = json.loads(policy)
    except ValueError:
        raise AwsError(
            "MalformedPolicyDocument", "The policy is not in the valid JSON format."
        ) from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise AwsError("MalformedPolicyDocument", "Syntax errors in policy.")
    return document


def packed_policy_size(
    policy: object | None, arns: Sequence[str] = (), pairs: Sequence[tuple[str, str]] = ()
) -> int:
    """Percent of the budget the compressed session policy, policy ARNs and tags take.

    Like AWS's figure it grows with the policy, the ARNs and the tags, and exceeds 100 when
    they no longer fit; 0 when there is nothing to pack.
    """
    parts = []
    if policy is not None:
        parts.append(json.dumps(policy, separators=(",", ":"), sort_keys=True))
    parts.extend(arns)
    parts.extend(f"{key}={value}" for key, value in pairs)
    if not parts:
        return 0
    packed = zlib.compress("\n".join(parts).encode(), 9)
    return math.ceil(100 * len(packed) / PACKED_BUDGET_BYTES)


def too_large(size: int) -> None:
    if size > 100:
        raise AwsError(
            "PackedPolicyTooLarge",
            f"Packed policy consumes {size}% of allotted "
            "space, please use smaller policy for user.",
        )


ROLE_DURATION_MAX = 43200
CHAINED_DURATION_MAX = 3600
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]*", re.ASCII)


def role_duration(raw: str | None, violations: Violations) -> int:
    """AssumeRole's DurationSeconds: 900-43200, AWS's default 3600."""
    if raw is None or raw == "":
        return CHAINED_DURATION_MAX
    try:
        seconds = int(raw)
    except ValueError:
        violations.add(raw, "durationSeconds", "be an integer")
        return CHAINED_DURATION_MAX
    if seconds < DURATION_MIN:
        violations.add(
            seconds, "durationSeconds", f"have value greater than or equal to {DURATION_MIN}"
        )
    if seconds > ROLE_DURATION_MAX:
        violations.add(
            seconds, "durationSeconds", f"have value less than or equal to {ROLE_DURATION_MAX}"
        )
    return seconds


def bounded(
    value: str | None,
    field: str,
    low: int,
    high: int,
    pattern: re.Pattern[str] | None,
    violations: Violations,
    *,
    required: bool = False,
) -> str | None:
    """A string parameter's length and pattern, as STS reports them."""
    if value is None:
        if required:
            violations.add(None, field, "not be null")
        return None
    violations.length(value, field, low, high)
    if pattern is not None and not pattern.fullmatch(value):
        violations.add(value, field, f"satisfy regular expression pattern: {pattern.pattern}")
    return value


NAME_PATTERN = _NAME
EXTERNAL_ID_PATTERN = _EXTERNAL_ID
