"""The SSO OIDC client (``sso-oidc``) and its three calls, with errors as one line.

Unsigned, as the AWS CLI sends them: RegisterClient, StartDeviceAuthorization and CreateToken
carry no SigV4 and need no credentials. The client is made from the profile's botocore session,
so ``AWS_ENDPOINT_URL`` and the profile's ``endpoint_url`` apply as botocore reads them.
"""

from __future__ import annotations

from typing import Any

import botocore
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from botocore.parsers import ResponseParserError

from .._version import __version__
from ..broker.source import source_session
from ..errors import RequestRefused
from ..redact import redact_wire_logs, scrub

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_GRANT = "refresh_token"


def client(
    profile: str | None, region: str, endpoint_url: str | None = None, config: Config | None = None
) -> Any:
    """An unsigned ``sso-oidc`` client for ``region`` (the profile's sso_region)."""
    redact_wire_logs()
    session = source_session(profile)
    base = Config(signature_version=UNSIGNED, user_agent_extra=f"stsmagic/{__version__}")
    return session.create_client(
        "sso-oidc",
        region_name=region,
        endpoint_url=endpoint_url,
        config=base.merge(config) if config is not None else base,
    )


def call(oidc: Any, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """``oidc.<operation>(**request)``; any failure is a ``RequestRefused`` whose message holds
    none of the request's values (they include the client secret, device code, refresh token)."""
    secrets = [str(v) for v in request.values() if isinstance(v, str) and len(v) >= 16]
    try:
        return dict(getattr(oidc, botocore.xform_name(operation))(**request))
    except ClientError as e:
        error = e.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        message = scrub(str(error.get("Message") or ""), secrets)
        raise RequestRefused(operation, code, message) from None
    except ResponseParserError:
        raise RequestRefused(
            operation, "ResponseParserError", "the endpoint's answer is not an AWS response"
        ) from None
    except (BotoCoreError, ParamValidationError) as e:
        raise RequestRefused(operation, type(e).__name__, scrub(str(e), secrets)) from None


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
