"""The SSO OIDC client (``sso-oidc``) and its three calls, with errors as one line.

Unsigned, as the AWS CLI sends them: RegisterClient, StartDeviceAuthorization and CreateToken
carry no SigV4 and need no credentials. The client is made from the profile's botocore session,
so ``AWS_ENDPOINT_URL`` and the profile's ``endpoint_url`` apply as botocore reads them, and its
endpoint follows the same http rule as every other request (``broker/plain_http.py``): the
calls carry the client secret, the device code and the tokens.

Each answer is checked before anything is read from it: a field missing, of the wrong type or
out of range is a ``RequestRefused`` line naming the field, never quoting a value.
"""

from __future__ import annotations

from typing import Any

import botocore
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from botocore.parsers import ResponseParserError

from .._version import __version__
from ..errors import RequestRefused, StsMagicError
from ..redact import redact_wire_logs, scrub
from ..source import plain_http, source_session

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_GRANT = "refresh_token"
INVALID = "InvalidResponse"
_NOT_AWS = "the endpoint is not AWS or something between changed its answer"

# The longest a token, a device code or a client registration is taken to last (a year and a
# day); the latest a registration may expire (the last second datetime can hold); the longest
# wait between polls.
MAX_SECONDS = 366 * 86_400
MAX_EPOCH = 253_402_300_799
MAX_INTERVAL = 300
MAX_TEXT = 16_384

# What each answer must hold: name -> (largest number, or None for text; required).
ANSWERS: dict[str, dict[str, tuple[int | None, bool]]] = {
    "RegisterClient": {
        "clientId": (None, True),
        "clientSecret": (None, True),
        "clientSecretExpiresAt": (MAX_EPOCH, True),
    },
    "StartDeviceAuthorization": {
        "deviceCode": (None, True),
        "userCode": (None, True),
        "verificationUri": (None, True),
        "verificationUriComplete": (None, False),
        "expiresIn": (MAX_SECONDS, True),
        "interval": (MAX_INTERVAL, False),
    },
    "CreateToken": {
        "accessToken": (None, True),
        "expiresIn": (MAX_SECONDS, True),
        "refreshToken": (None, False),
    },
}


def client(
    profile: str | None,
    region: str,
    endpoint_url: str | None = None,
    config: Config | None = None,
    *,
    allow_http: bool = False,
) -> Any:
    """An unsigned ``sso-oidc`` client for ``region`` (the profile's sso_region); refused,
    before anything is sent, when its endpoint is plain http to another machine (unless
    ``allow_http``) or ambiguous."""
    redact_wire_logs()
    session = source_session(profile)
    base = Config(signature_version=UNSIGNED, user_agent_extra=f"stsmagic/{__version__}")
    return plain_http.create_client(
        session,
        "sso-oidc",
        region_name=region,
        endpoint_url=endpoint_url,
        config=base.merge(config) if config is not None else base,
        allow_http=allow_http,
    )


def call(oidc: Any, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """``oidc.<operation>(**request)``, its answer checked (``ANSWERS``); any failure is a
    ``RequestRefused`` whose message holds none of the request's values (they include the
    client secret, device code, refresh token) nor the answer's."""
    secrets = [str(v) for v in request.values() if isinstance(v, str) and len(v) >= 16]
    # Each refusal is raised after its handler ends: raised inside one it would keep
    # botocore's exception, whose frames hold the request, as its __context__.
    refusal: StsMagicError
    try:
        answer = dict(getattr(oidc, botocore.xform_name(operation))(**request))
    except ClientError as e:
        error = e.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        message = scrub(str(error.get("Message") or ""), secrets)
        refusal = RequestRefused(operation, code, message)
    except ResponseParserError:
        refusal = RequestRefused(
            operation, "ResponseParserError", "the endpoint's answer is not an AWS response"
        )
    except (BotoCoreError, ParamValidationError) as e:
        refusal = RequestRefused(operation, type(e).__name__, scrub(str(e), secrets))
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
        refusal = RequestRefused(operation, INVALID, "the endpoint's answer could not be read")
    else:
        check(operation, answer)
        return answer
    raise refusal


def check(operation: str, answer: dict[str, Any]) -> None:
    """Refuse an answer that misses a field ``ANSWERS`` requires or has one of the wrong type
    or range (a whole number from 1 to its largest; non-empty printable text)."""
    for name, (largest, required) in ANSWERS.get(operation, {}).items():
        value = answer.get(name)
        if value is None:
            if required:
                raise RequestRefused(operation, INVALID, f"the answer has no {name}; {_NOT_AWS}")
            continue
        if largest is None:
            if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
                problem = "is not text" if not isinstance(value, str) else "is empty or too long"
                raise RequestRefused(operation, INVALID, f"the answer's {name} {problem}")
            if not value.isprintable():
                raise RequestRefused(
                    operation, INVALID, f"the answer's {name} has a control character"
                )
        elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= largest:
            raise RequestRefused(
                operation,
                INVALID,
                f"the answer's {name} is not a whole number from 1 to {largest}; {_NOT_AWS}",
            )


def refresh(oidc: Any, token: dict[str, Any]) -> dict[str, Any]:
    """CreateToken with the ``refresh_token`` grant, from a cached token's client registration."""
    return call(
        oidc,
        "CreateToken",
        {
            "grantType": REFRESH_GRANT,
            "clientId": token["clientId"],
            "clientSecret": token["clientSecret"],
            "refreshToken": token["refreshToken"],
        },
    )
