"""AWS's limits on the four requests, checked before anything is sent. Pure: no I/O.

Each check takes the value as a user gave it and returns it as AWS wants it, or raises
``ParameterError`` naming the parameter, what is wrong and the limit. Secret values (trade-in
and SSO access tokens, MFA codes) are never echoed: only their length or emptiness.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .errors import ParameterError

DURATION_MIN = 900
DURATION_MAX = 129_600
POLICY_MAX = 2048
POLICY_ARNS_MAX = 10
ARN_MIN, ARN_MAX = 20, 2048
TAGS_MAX = 50
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
ROLE_DURATION_MAX = 43_200
CHAINED_DURATION_MAX = 3600


class _Pattern:
    """``re.compile(pattern, flags)`` on first use: compiled at import, every ``%load_ext``
    would pay for checks that run only when a request is made."""

    __slots__ = ("_args", "fullmatch")
    fullmatch: Callable[[str], re.Match[str] | None]

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)

    def __getattr__(self, name: str) -> Any:  # only until the first fullmatch
        compiled = re.compile(*self._args)
        self.fullmatch = compiled.fullmatch
        return getattr(compiled, name)


_SERIAL = _Pattern(r"[\w+=/:,.@-]+", re.ASCII)
_NAME = _Pattern(r"[\w+=,.@-]+", re.ASCII)
_TOKEN_CODE = _Pattern(r"[0-9]{6}")
_ACCOUNT_ID = _Pattern(r"[0-9]{12}")
_EXTERNAL_ID = _Pattern(r"[\w+=,.@:/-]+", re.ASCII)
_POLICY_CHARS = _Pattern(r"[\t\n\r\u0020-\u00ff]*")
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _shown(value: object, limit: int = 40) -> str:
    """A short, one-line rendering of a value that is not secret."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _characters(n: int) -> str:
    return "1 character" if n == 1 else f"{n} characters"


def _type_name(value: object) -> str:
    name = type(value).__name__
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _require_str(parameter: str, value: object, limit: str, *, secret: bool = False) -> str:
    if isinstance(value, str):
        return value
    shown = _type_name(value) if secret else f"{_shown(value)} ({_type_name(value)})"
    raise ParameterError(parameter, f"{shown} is not a string", limit)


def _bounded_name(
    parameter: str, value: object, shortest: int, longest: int, allowed: _Pattern, limit: str
) -> str:
    """A string of ``shortest``-``longest`` characters, every one matching ``allowed``."""
    text = _require_str(parameter, value, limit)
    if not shortest <= len(text) <= longest:
        raise ParameterError(parameter, f"{_shown(text)} is {_characters(len(text))}", limit)
    if not allowed.fullmatch(text):
        raise ParameterError(parameter, f"{_shown(text)} has a character not allowed", limit)
    return text


LABEL_RULE = (
    "a label is printable characters only: no control characters, escape sequences or line breaks"
)


def label(value: object, parameter: str = "label") -> str:
    """A session's label: non-empty text of printable characters (``str.isprintable``), so
    printing it never moves the cursor, colours the terminal or starts a new line."""
    text = _require_str(parameter, value, LABEL_RULE)
    if not text.strip():
        raise ParameterError(parameter, f"{_shown(text)} is empty", "give a non-empty name")
    bad = next((c for c in text if not c.isprintable() and c != " "), None)
    if bad is not None:
        raise ParameterError(
            parameter, f"{_shown(text)} holds U+{ord(bad):04X} ({_char_name(bad)})", LABEL_RULE
        )
    return text


def _char_name(char: str) -> str:
    if char in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
        return "a line break"
    if char == "\x1b":
        return "escape: the start of a terminal escape sequence"
    return unicodedata.name(char, "a control character").lower()


def printable(text: str) -> str:
    """``text`` with every character that is not printable written as its escape (``\\x1b``,
    ``\\n``, ``\\u202e``), the rest as is: for printing a label that came from elsewhere."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def endpoint_url(value: object, parameter: str = "endpoint_url") -> str:
    """An http(s) URL with a host, as botocore needs it for ``endpoint_url``."""
    text = _require_str(parameter, value, _ENDPOINT_LIMIT)
    endpoint_host(text, parameter)
    return text


_ENDPOINT_LIMIT = "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:5000"


def endpoint_host(url: str, parameter: str = "endpoint_url") -> str:
    """The host an HTTP client connects to for ``url``, lowercase, without brackets.

    ``urlsplit`` (which the checks read) and urllib3 (which botocore connects with) disagree
    on some URLs: ``http://HOST\\@127.0.0.1/`` is 127.0.0.1 to one and HOST to the other. So a
    backslash, a user name or password, whitespace or a control character is refused, and so
    is any URL the two do not read as the same scheme, host and port.
    """
    limit = _ENDPOINT_LIMIT
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ParameterError(parameter, "has whitespace or a control character", limit)
    if not url.isascii():
        raise ParameterError(parameter, "has a character that is not ASCII", limit)
    if "\\" in url:
        raise ParameterError(
            parameter, "has a backslash, which URL parsers read differently", limit
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ParameterError(parameter, f"{_shown(url)} is not a URL", limit) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ParameterError(parameter, f"{_shown(url)} is not an http(s) URL", limit)
    if "@" in parts.netloc:
        # not echoed: the part before @ may be a password
        raise ParameterError(
            parameter, "has a user name or password before the host (user@host)", limit
        )
    host = parts.hostname.lower()
    from urllib3.util import parse_url  # botocore's HTTP client, as it reads the URL

    try:
        read = parse_url(url)
    except ValueError:
        raise ParameterError(parameter, f"{_shown(url)} is not a URL", limit) from None
    theirs = (read.scheme or "").lower(), (read.host or "").lower().strip("[]"), read.port
    if theirs != (parts.scheme.lower(), host, port):
        raise ParameterError(parameter, f"{_shown(url)} names its host ambiguously", limit)
    return host


def duration_seconds(value: object, parameter: str = "DurationSeconds") -> int:
    limit = f"must be a whole number of seconds from {DURATION_MIN} to {DURATION_MAX}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(
            parameter, f"{_shown(value)} ({_type_name(value)}) is not an int", limit
        )
    if value < DURATION_MIN:
        raise ParameterError(parameter, f"{value} is too short", limit)
    if value > DURATION_MAX:
        raise ParameterError(parameter, f"{value} is too long", limit)
    return value


def serial_number(value: object) -> str:
    limit = "must be 9-256 characters of letters, digits and _+=/:,.@- (an MFA device ARN)"
    return _bounded_name("SerialNumber", value, 9, 256, _SERIAL, limit)


def token_code(value: object) -> str:
    # The code is one-time but still a credential: never echoed.
    limit = "must be exactly 6 digits from the MFA device"
    text = _require_str("TokenCode", value, limit, secret=True)
    if not text:
        raise ParameterError("TokenCode", "is empty", limit)
    if not _TOKEN_CODE.fullmatch(text):
        problem = (
            f"is {_characters(len(text))}"
            if len(text) != 6
            else "has a character that is not a digit"
        )
        raise ParameterError("TokenCode", problem, limit)
    return text


def federation_name(value: object) -> str:
    limit = "must be 2-32 characters of letters, digits and _+=,.@-"
    return _bounded_name("Name", value, 2, 32, _NAME, limit)


def policy(value: object) -> str:
    """A session policy as compact JSON text: a dict, or JSON text of an object."""
    limit = (
        f"must be a JSON policy document (a dict or JSON text) of at most {POLICY_MAX} "
        "characters, each tab, newline, carriage return or U+0020-U+00FF"
    )
    if isinstance(value, Mapping):
        try:
            text = json.dumps(value, separators=(",", ":"))
        except RecursionError:
            raise ParameterError(
                "Policy", "the dict is nested too deeply for JSON", limit
            ) from None
        except (TypeError, ValueError) as e:
            raise ParameterError(
                "Policy", f"the dict cannot be written as JSON ({e})", limit
            ) from None
    else:
        text = _require_str("Policy", value, limit)
        if not text.strip():
            raise ParameterError("Policy", "is empty", limit)
        if len(text) > POLICY_MAX:  # before parsing: no time spent on what is refused anyway
            raise ParameterError("Policy", f"is {_characters(len(text))}", limit)
        try:
            document = json.loads(text)
        except RecursionError:
            raise ParameterError("Policy", "is JSON nested too deeply", limit) from None
        except ValueError as e:
            raise ParameterError("Policy", f"is not valid JSON ({e})", limit) from None
        if not isinstance(document, dict):
            raise ParameterError(
                "Policy", f"is JSON, but {_type_name(document)}, not an object", limit
            )
    if len(text) > POLICY_MAX:
        raise ParameterError("Policy", f"is {_characters(len(text))}", limit)
    if not _POLICY_CHARS.fullmatch(text):
        bad = next(c for c in text if not _POLICY_CHARS.fullmatch(c))
        raise ParameterError("Policy", f"has the character U+{ord(bad):04X}", limit)
    return text


def policy_arns(value: object) -> list[dict[str, str]]:
    """Managed policy ARNs: ``["arn:..."]`` or AWS's ``[{"arn": "arn:..."}]``."""
    limit = (
        f"must be a list of at most {POLICY_ARNS_MAX} policy ARNs "
        f"(strings or {{'arn': ...}}), each {ARN_MIN}-{ARN_MAX} characters starting 'arn:'"
    )
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ParameterError("PolicyArns", f"{_type_name(value)} is not a list", limit)
    if len(value) > POLICY_ARNS_MAX:
        raise ParameterError("PolicyArns", f"has {len(value)} ARNs", limit)
    result = []
    for i, item in enumerate(value):
        arn = item.get("arn") if isinstance(item, Mapping) else item
        if isinstance(item, Mapping) and set(item) != {"arn"}:
            raise ParameterError(f"PolicyArns[{i}]", f"has keys {sorted(item)}", limit)
        if not isinstance(arn, str):
            raise ParameterError(f"PolicyArns[{i}]", f"{_shown(arn)} is not a string", limit)
        if not ARN_MIN <= len(arn) <= ARN_MAX:
            raise ParameterError(
                f"PolicyArns[{i}]", f"{_shown(arn)} is {len(arn)} characters", limit
            )
        if not arn.startswith("arn:"):
            raise ParameterError(f"PolicyArns[{i}]", f"{_shown(arn)} is not an ARN", limit)
        result.append({"arn": arn})
    return result


def _tag_text_ok(text: str) -> bool:
    # AWS's pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]: letters, separators, numbers and that punctuation.
    return all(c in _TAG_PUNCTUATION or unicodedata.category(c)[0] in "LZN" for c in text)


def tags(value: object) -> list[dict[str, str]]:
    """Session tags: ``{"k": "v"}`` or AWS's ``[{"Key": "k", "Value": "v"}]``."""
    limit = (
        f"must be at most {TAGS_MAX} tags (a dict or [{{'Key': ..., 'Value': ...}}]), keys "
        f"1-{TAG_KEY_MAX} and values 0-{TAG_VALUE_MAX} characters of letters, digits, spaces "
        "and _.:/=+-@, keys unique ignoring case"
    )
    pairs: list[tuple[object, object]]
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        pairs = []
        for i, item in enumerate(value):
            if not isinstance(item, Mapping) or set(item) != {"Key", "Value"}:
                raise ParameterError(
                    f"Tags[{i}]", f"{_shown(item)} is not {{'Key', 'Value'}}", limit
                )
            pairs.append((item["Key"], item["Value"]))
    else:
        raise ParameterError("Tags", f"{_type_name(value)} is not a dict or list", limit)
    if len(pairs) > TAGS_MAX:
        raise ParameterError("Tags", f"has {len(pairs)} tags", limit)
    seen: dict[str, str] = {}
    result = []
    for key, val in pairs:
        if not isinstance(key, str):
            raise ParameterError("Tags", f"key {_shown(key)} is not a string", limit)
        if not isinstance(val, str):
            raise ParameterError(f"Tags[{key!r}]", f"value {_shown(val)} is not a string", limit)
        if not 1 <= len(key) <= TAG_KEY_MAX:
            raise ParameterError("Tags", f"key {_shown(key)} is {len(key)} characters", limit)
        if len(val) > TAG_VALUE_MAX:
            raise ParameterError(f"Tags[{key!r}]", f"value is {len(val)} characters", limit)
        if not _tag_text_ok(key):
            raise ParameterError("Tags", f"key {_shown(key)} has a character not allowed", limit)
        if not _tag_text_ok(val):
            raise ParameterError(
                f"Tags[{key!r}]", f"value {_shown(val)} has a character not allowed", limit
            )
        folded = key.casefold()
        if folded in seen:
            raise ParameterError(
                "Tags", f"keys {seen[folded]!r} and {key!r} differ only in case", limit
            )
        seen[folded] = key
        result.append({"Key": key, "Value": val})
    return result


def role_arn(value: object) -> str:
    limit = (
        f"must be a role ARN of {ARN_MIN}-{ARN_MAX} characters, "
        "e.g. arn:aws:iam::123456789012:role/NAME"
    )
    text = _require_str("RoleArn", value, limit)
    if not ARN_MIN <= len(text) <= ARN_MAX:
        raise ParameterError("RoleArn", f"{_shown(text)} is {len(text)} characters", limit)
    if not text.startswith("arn:") or any(c.isspace() for c in text):
        raise ParameterError("RoleArn", f"{_shown(text)} is not an ARN", limit)
    return text


def role_session_name(value: object) -> str:
    limit = "must be 2-64 characters of letters, digits and _+=,.@-"
    return _bounded_name("RoleSessionName", value, 2, 64, _NAME, limit)


def external_id(value: object) -> str:
    limit = "must be 2-1224 characters of letters, digits and _+=,.@:/-"
    return _bounded_name("ExternalId", value, 2, 1224, _EXTERNAL_ID, limit)


def source_identity(value: object) -> str:
    limit = "must be 2-64 characters of letters, digits and _+=,.@-"
    return _bounded_name("SourceIdentity", value, 2, 64, _NAME, limit)


def role_duration_seconds(value: object, *, chained: bool = False) -> int:
    """AssumeRole's DurationSeconds: 900-43200, and at most 3600 when a role session signs."""
    longest = CHAINED_DURATION_MAX if chained else ROLE_DURATION_MAX
    limit = f"must be a whole number of seconds from {DURATION_MIN} to {longest}"
    if chained:
        limit += " (a role session assuming a role: AWS's 1-hour limit on role chaining)"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(
            "DurationSeconds", f"{_shown(value)} ({_type_name(value)}) is not an int", limit
        )
    if value < DURATION_MIN:
        raise ParameterError("DurationSeconds", f"{value} is too short", limit)
    if value > longest:
        raise ParameterError("DurationSeconds", f"{value} is too long", limit)
    return value


def transitive_tag_keys(value: object, tag_list: Sequence[Mapping[str, str]]) -> list[str]:
    """TransitiveTagKeys: each one of the session tags' keys (ignoring case, as AWS does)."""
    limit = "must be a list of keys, each one of the session tags (--tags) given with it"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ParameterError("TransitiveTagKeys", f"{_type_name(value)} is not a list", limit)
    if len(value) > TAGS_MAX:
        raise ParameterError("TransitiveTagKeys", f"has {len(value)} keys", limit)
    known = {tag["Key"].casefold() for tag in tag_list}
    result = []
    for key in value:
        if not isinstance(key, str):
            raise ParameterError("TransitiveTagKeys", f"{_shown(key)} is not a string", limit)
        if key.casefold() not in known:
            raise ParameterError("TransitiveTagKeys", f"{_shown(key)} is not a tag key", limit)
        result.append(key)
    return result


def trade_in_token(value: object) -> str:
    limit = "must be the non-empty trade-in token text you were given"
    text = _require_str("TradeInToken", value, limit, secret=True)
    if not text.strip():
        raise ParameterError(
            "TradeInToken", "is empty" if not text else "is only whitespace", limit
        )
    return text


def account_id(value: object) -> str:
    limit = "must be the 12-digit AWS account ID, as a string"
    text = _require_str("accountId", value, limit)
    if not _ACCOUNT_ID.fullmatch(text):
        raise ParameterError("accountId", f"{_shown(text)} is not 12 digits", limit)
    return text


def role_name(value: object) -> str:
    limit = "must be 1-64 characters of letters, digits and _+=,.@-"
    return _bounded_name("roleName", value, 1, 64, _NAME, limit)


def access_token(value: object) -> str:
    limit = "must be the non-empty SSO access token (from `aws sso login`)"
    text = _require_str("accessToken", value, limit, secret=True)
    if not text.strip():
        raise ParameterError("accessToken", "is empty" if not text else "is only whitespace", limit)
    return text


# --- whole requests: the keyword arguments to send, without the ones left out ----------------


def session_token_request(
    SerialNumber: object = None,
    TokenCode: object = None,
    DurationSeconds: object = None,
    *,
    code_later: bool = False,
) -> dict[str, Any]:
    """GetSessionToken's keyword arguments. ``code_later``: the code will be typed in a form,
    so a SerialNumber without a TokenCode is checked, not refused."""
    request: dict[str, Any] = {}
    if DurationSeconds is not None:
        request["DurationSeconds"] = duration_seconds(DurationSeconds)
    if SerialNumber is not None:
        request["SerialNumber"] = serial_number(SerialNumber)
    if TokenCode is not None:
        request["TokenCode"] = token_code(TokenCode)
    if "SerialNumber" in request and "TokenCode" not in request and not code_later:
        raise ParameterError("TokenCode", "is missing", "a SerialNumber needs the 6-digit code")
    if "TokenCode" in request and "SerialNumber" not in request:
        raise ParameterError(
            "SerialNumber", "is missing", "a TokenCode needs the MFA device's serial number or ARN"
        )
    return request


def federation_token_request(
    Name: object,
    Policy: object = None,
    PolicyArns: object = None,
    Tags: object = None,
    DurationSeconds: object = None,
) -> dict[str, Any]:
    request: dict[str, Any] = {"Name": federation_name(Name)}
    if Policy is not None:
        request["Policy"] = policy(Policy)
    if PolicyArns is not None:
        arns = policy_arns(PolicyArns)
        if arns:
            request["PolicyArns"] = arns
    if Tags is not None:
        tag_list = tags(Tags)
        if tag_list:
            request["Tags"] = tag_list
    if DurationSeconds is not None:
        request["DurationSeconds"] = duration_seconds(DurationSeconds)
    return request


def delegated_access_token_request(TradeInToken: object) -> dict[str, Any]:
    return {"TradeInToken": trade_in_token(TradeInToken)}


def role_credentials_request(
    accountId: object,
    roleName: object,
    accessToken: object,
) -> dict[str, Any]:
    return {
        "accountId": account_id(accountId),
        "roleName": role_name(roleName),
        "accessToken": access_token(accessToken),
    }


def assume_role_request(
    RoleArn: object,
    RoleSessionName: object,
    SerialNumber: object = None,
    TokenCode: object = None,
    ExternalId: object = None,
    Policy: object = None,
    PolicyArns: object = None,
    Tags: object = None,
    TransitiveTagKeys: object = None,
    SourceIdentity: object = None,
    DurationSeconds: object = None,
    *,
    chained: bool = False,
    code_later: bool = False,
) -> dict[str, Any]:
    """AssumeRole's keyword arguments; ``chained``: a role session signs (1-hour limit);
    ``code_later``: the MFA code will be typed in a form (see ``session_token_request``)."""
    request: dict[str, Any] = {
        "RoleArn": role_arn(RoleArn),
        "RoleSessionName": role_session_name(RoleSessionName),
    }
    if DurationSeconds is not None:
        request["DurationSeconds"] = role_duration_seconds(DurationSeconds, chained=chained)
    mfa = session_token_request(SerialNumber, TokenCode, code_later=code_later)
    request.update(mfa)
    if ExternalId is not None:
        request["ExternalId"] = external_id(ExternalId)
    if SourceIdentity is not None:
        request["SourceIdentity"] = source_identity(SourceIdentity)
    if Policy is not None:
        request["Policy"] = policy(Policy)
    if PolicyArns is not None:
        arns = policy_arns(PolicyArns)
        if arns:
            request["PolicyArns"] = arns
    tag_list = tags(Tags) if Tags is not None else []
    if tag_list:
        request["Tags"] = tag_list
    if TransitiveTagKeys is not None:
        keys = transitive_tag_keys(TransitiveTagKeys, tag_list)
        if keys:
            request["TransitiveTagKeys"] = keys
    return request
