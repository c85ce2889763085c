"""Asks AWS for short-lived credentials, with a profile's long-term credentials as the source.

The source is a fresh botocore session of the profile, read through botocore's own config
loader (``AWS_CONFIG_FILE``, ``AWS_SHARED_CREDENTIALS_FILE``, ``AWS_PROFILE``, the profile's
``endpoint_url`` and ``AWS_ENDPOINT_URL``): never boto3's default session, whose credentials
stsmagic replaces with the issued ones (STS refuses session credentials for GetSessionToken).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError, ProfileNotFound
from botocore.parsers import ResponseParserError

from . import __version__, params
from .errors import ParameterError, RequestRefused
from .live_credentials import source_providers
from .redact import redact_wire_logs
from .session import IssuedSession

log = logging.getLogger(__name__)

# GetSessionToken and GetFederationToken are global; STS answers in us-east-1 when no region
# is configured, as the AWS CLI does.
DEFAULT_STS_REGION = "us-east-1"


def _one_line(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())


class Broker:
    """The four requests for short-lived credentials, in AWS's own names.

    ``profile`` (default: ``AWS_PROFILE`` or ``default``) gives the source credentials,
    ``region``, ``mfa_serial``, ``duration_seconds``, ``endpoint_url`` and the SSO settings.
    ``region_name`` and ``endpoint_url`` override the profile's. ``config`` is a
    ``botocore.config.Config`` (timeouts, ``retries={"mode": "standard"}``).
    """

    def __init__(
        self,
        profile: str | None = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        *,
        config: Config | None = None,
    ) -> None:
        redact_wire_logs()
        self._session = botocore.session.Session(profile=profile)
        try:
            self._scoped = self._session.get_scoped_config()
        except ProfileNotFound:
            known = ", ".join(sorted(self._session.available_profiles)) or "none"
            raise ParameterError(
                "profile",
                f"{self._session.profile!r} is not in the AWS config files",
                f"known profiles: {known}",
            ) from None
        # The environment as it was before any `--env` export: the source keys, if they are
        # in the environment, are the user's, never an issued session's.
        # Never the live provider either: the source is the profile's own chain.
        resolver = self._session.get_component("credential_provider")
        resolver.providers = source_providers(resolver.providers)
        # resolved once: botocore looks the name up in its config chain on every access
        self._profile = profile or self._session.profile or "default"
        self._region_name = region_name or self._session.get_config_variable("region")
        self._endpoint_url = None if endpoint_url is None else params.endpoint_url(endpoint_url)
        base = Config(user_agent_extra=f"stsmagic/{__version__}")
        self._config = base.merge(config) if config is not None else base
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    # --- what the profile says ------------------------------------------------------------------

    @property
    def profile(self) -> str:
        return self._profile

    @property
    def region_name(self) -> str | None:
        return self._region_name

    @property
    def endpoint_url(self) -> str | None:
        return self._endpoint_url

    @property
    def mfa_serial(self) -> str | None:
        value = self._scoped.get("mfa_serial")
        return str(value) if value else None

    @property
    def duration_seconds(self) -> int | None:
        value = self._scoped.get("duration_seconds")
        if value in (None, ""):
            return None
        name = f"duration_seconds (profile {self.profile})"
        try:
            seconds = int(str(value).strip())
        except ValueError:
            raise ParameterError(
                name, f"{value!r} is not a whole number", "must be seconds from 900 to 129600"
            ) from None
        return params.duration_seconds(seconds, parameter=name)

    @property
    def sso_region(self) -> str | None:
        region = self._scoped.get("sso_region")
        if not region and self._scoped.get("sso_session"):
            sso_sessions = self._session.full_config.get("sso_sessions", {})
            region = sso_sessions.get(self._scoped["sso_session"], {}).get("sso_region")
        return region or self._region_name

    # --- clients: one per service, made on first use ------------------------------------------

    def client(self, service: str) -> Any:
        """The botocore client for ``"sts"`` or ``"sso"``, made once."""
        client = self._clients.get(service)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                if service == "sso":
                    # GetRoleCredentials carries a bearer token; no SigV4, no source credentials.
                    region = self.sso_region
                    config = self._config.merge(Config(signature_version=UNSIGNED))
                else:
                    region = self._region_name or DEFAULT_STS_REGION
                    config = self._config
                client = self._session.create_client(
                    service, region_name=region, endpoint_url=self._endpoint_url, config=config
                )
                self._clients[service] = client
        return client

    # --- the four requests ----------------------------------------------------------------------

    def get_session_token(
        self,
        SerialNumber: str | None = None,
        TokenCode: str | None = None,
        DurationSeconds: int | None = None,
        *,
        label: str | None = None,
    ) -> IssuedSession:
        """STS GetSessionToken; SerialNumber and DurationSeconds default to the profile's."""
        if SerialNumber is None and TokenCode is not None:
            SerialNumber = self.mfa_serial
        if DurationSeconds is None:
            DurationSeconds = self.duration_seconds
        request = params.session_token_request(SerialNumber, TokenCode, DurationSeconds)
        return self._issue_sts("session", "GetSessionToken", request, label, ())

    def get_federation_token(
        self,
        Name: str,
        Policy: Any = None,
        PolicyArns: Any = None,
        Tags: Any = None,
        DurationSeconds: int | None = None,
        *,
        label: str | None = None,
    ) -> IssuedSession:
        """STS GetFederationToken; DurationSeconds defaults to the profile's.

        ``Policy`` is a dict or JSON text; ``PolicyArns`` ARN strings or ``[{"arn": ...}]``;
        ``Tags`` a dict or ``[{"Key": ..., "Value": ...}]``.
        """
        if DurationSeconds is None:
            DurationSeconds = self.duration_seconds
        request = params.federation_token_request(Name, Policy, PolicyArns, Tags, DurationSeconds)
        return self._issue_sts("federation", "GetFederationToken", request, label, ())

    def get_delegated_access_token(
        self, TradeInToken: str, *, label: str | None = None
    ) -> IssuedSession:
        """STS GetDelegatedAccessToken: trade a one-time token for credentials."""
        request = params.delegated_access_token_request(TradeInToken)
        return self._issue_sts(
            "delegated", "GetDelegatedAccessToken", request, label, (request["TradeInToken"],)
        )

    def get_role_credentials(
        self, accountId: str, roleName: str, accessToken: str, *, label: str | None = None
    ) -> IssuedSession:
        """SSO GetRoleCredentials with an IAM Identity Center access token."""
        request = params.role_credentials_request(accountId, roleName, accessToken)
        issued_at = datetime.now(timezone.utc)
        log.debug(
            "GetRoleCredentials for %s in %s (profile %s)",
            request["roleName"],
            request["accountId"],
            self.profile,
        )
        response = self._call("sso", "GetRoleCredentials", request, (request["accessToken"],))
        session = IssuedSession.from_sso(
            response,
            account_id=request["accountId"],
            role_name=request["roleName"],
            issued_at=issued_at,
            label=label,
            profile=self.profile,
            region=self._region_name or self.sso_region,
        )
        log.info("issued %s credentials %s", session.kind, session.masked_access_key)
        return session

    # --- sending --------------------------------------------------------------------------------

    def _issue_sts(
        self,
        kind: str,
        operation: str,
        request: dict[str, Any],
        label: str | None,
        secrets: tuple[str, ...],
    ) -> IssuedSession:
        issued_at = datetime.now(timezone.utc)
        log.debug("%s (profile %s)", operation, self._profile)
        response = self._call("sts", operation, request, secrets)
        session = IssuedSession.from_sts(
            kind,
            response,
            issued_at=issued_at,
            label=label,
            profile=self.profile,
            region=self._region_name or DEFAULT_STS_REGION,
        )
        log.info("issued %s credentials %s", kind, session.masked_access_key)
        return session

    def _call(
        self, service: str, operation: str, request: dict[str, Any], secrets: tuple[str, ...]
    ) -> Any:
        method = botocore.xform_name(operation)
        try:
            client = self.client(service)
            return getattr(client, method)(**request)
        except ClientError as e:
            error = e.response.get("Error", {})
            code = str(error.get("Code") or "Unknown")
            message = _one_line(str(error.get("Message") or ""), secrets)
            raise RequestRefused(operation, code, message) from e
        except ParamValidationError as e:
            # params.py checks first; this is botocore's own model catching what it missed.
            raise ParameterError(
                "request", _one_line(str(e), secrets), f"{operation}'s API model"
            ) from None
        except ResponseParserError:
            # Not a BotoCoreError. Its message quotes the body, which may hold credentials.
            raise RequestRefused(
                operation, "ResponseParserError", "the endpoint's answer is not an AWS response"
            ) from None
        except BotoCoreError as e:
            raise RequestRefused(operation, type(e).__name__, _one_line(str(e), secrets)) from None

    def __repr__(self) -> str:
        return (
            f"Broker(profile={self.profile!r}, region_name={self._region_name!r}, "
            f"endpoint_url={self._endpoint_url!r})"
        )
