"""Asks AWS for short-lived credentials, with a profile's long-term credentials as the source.

The source is a fresh botocore session of the profile, read through botocore's own config
loader (``AWS_CONFIG_FILE``, ``AWS_SHARED_CREDENTIALS_FILE``, ``AWS_PROFILE``, the profile's
``endpoint_url`` and ``AWS_ENDPOINT_URL``): never boto3's default session, whose credentials
stsmagic replaces with the issued ones (STS refuses session credentials for GetSessionToken).
"""

from __future__ import annotations

import functools
import getpass
import logging
import os
import re
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import botocore
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from .. import limits
from .._version import __version__
from ..errors import (
    NoSourceCredentials,
    ParameterError,
    RequestRefused,
    StsMagicError,
    refusal_without_frames,
)
from ..redact import redact_wire_logs, scrub
from ..session import IssuedSession, Recipe, SecretCredentials
from ..source import inherited as source_inherited
from ..source import plain_http, source_providers, source_session
from ..sso.cache import find_token
from . import answers

if TYPE_CHECKING:
    from botocore.credentials import ReadOnlyCredentials

log = logging.getLogger(__name__)

# Sessions that are themselves a role's: assuming a role with one is role chaining (1 hour).
ROLE_SESSION_KINDS = frozenset({"role", "sso", "delegated"})

# GetSessionToken and GetFederationToken are global; STS answers in us-east-1 when no region
# is configured, as the AWS CLI does.
DEFAULT_STS_REGION = "us-east-1"


def _single_use(**_: Any) -> IssuedSession:
    raise StsMagicError("a trade-in token is single use; issue a new session")


def default_role_session_name() -> str:
    """``stsmagic-<user>`` (the OS user, within AssumeRole's limits), else ``stsmagic-<time>``."""

    try:
        user = re.sub(r"[^\w+=,.@-]", "-", getpass.getuser(), flags=re.ASCII)
    except (OSError, KeyError, ImportError):
        user = ""
    return f"stsmagic-{user or int(datetime.now(timezone.utc).timestamp())}"[:64]


class Broker:
    """The four requests for short-lived credentials, in AWS's own names, each argument
    keyword-only (``broker.assume_role(RoleArn=..., TokenCode=...)``).

    ``profile`` (default: ``AWS_PROFILE`` or ``default``) gives the source credentials,
    ``region``, ``mfa_serial``, ``duration_seconds``, ``endpoint_url`` and the SSO settings.
    ``region_name`` and ``endpoint_url`` override the profile's. ``config`` is a
    ``botocore.config.Config`` (timeouts, ``retries={"mode": "standard"}``). A plain ``http://``
    endpoint that is not loopback is refused unless ``allow_http=True``.
    """

    def __init__(
        self,
        profile: str | None = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        *,
        config: Config | None = None,
        allow_http: bool = False,
    ) -> None:
        redact_wire_logs()
        # the user's own config files, even while serving points children at copies
        self._session = source_session(profile)
        try:
            self._scoped = self._session.get_scoped_config()
        except ProfileNotFound:
            known = ", ".join(sorted(self._session.available_profiles)) or "none"
            # Named after where it came from: the argument, or AWS_PROFILE when none was given.
            given = profile is not None or not os.environ.get("AWS_PROFILE")
            raise ParameterError(
                "profile" if given else "AWS_PROFILE",
                f"{self._session.profile!r} is not in the AWS config files",
                f"known profiles: {known}",
            ) from None
        process = self._scoped.get("credential_process")
        if process is not None and not str(process).strip():
            # botocore would run an empty command line (an IndexError deep in subprocess)
            raise ParameterError(
                f"credential_process (profile {self._session.profile or 'default'})",
                "is blank",
                "remove the line, or give the command that prints the credentials",
            )
        # The environment as it was before any `--env` export: the source keys, if they are
        # in the environment, are the user's, never an issued session's.
        # Never the live provider either: the source is the profile's own chain.
        resolver = self._session.get_component("credential_provider")
        resolver.providers = source_providers(resolver.providers)
        # resolved once: botocore looks the name up in its config chain on every access
        self._profile = profile or self._session.profile or "default"
        self._region_name = region_name or self._session.get_config_variable("region")
        self._endpoint_url = None if endpoint_url is None else limits.endpoint_url(endpoint_url)
        self._allow_http = bool(allow_http)
        # refused at once when the URL is known now; client() checks the one botocore picks
        if self._endpoint_url is not None:
            plain_http.check(self._endpoint_url, self._allow_http)
        elif os.environ.get("AWS_ENDPOINT_URL"):
            plain_http.check(os.environ["AWS_ENDPOINT_URL"], self._allow_http, "AWS_ENDPOINT_URL")
        else:
            plain_http.check(
                self._scoped.get("endpoint_url"),
                self._allow_http,
                f"endpoint_url (profile {self._profile!r})",
            )
        base = Config(user_agent_extra=f"stsmagic/{__version__}")
        self._config = base.merge(config) if config is not None else base
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    # --- what the profile says ------------------------------------------------------------------

    @property
    def profile(self) -> str:
        """The profile whose source credentials sign its requests (``default`` if none named)."""
        return self._profile

    @property
    def region_name(self) -> str | None:
        """The region requests go to: the one given, else the profile's; None if neither says."""
        return self._region_name

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint given to the Broker, or None: botocore then finds the profile's or the
        environment's."""
        return self._endpoint_url

    @property
    def allow_http(self) -> bool:
        """Whether a plain ``http://`` endpoint that is not this machine is allowed."""
        return self._allow_http

    @property
    def mfa_serial(self) -> str | None:
        """The profile's ``mfa_serial`` (the MFA device's ARN), or None."""
        value = self._scoped.get("mfa_serial")
        return str(value) if value else None

    @property
    def duration_seconds(self) -> int | None:
        """The profile's ``duration_seconds``, checked against AWS's limits; None if it sets none.

        Raises ``ParameterError`` naming the profile when the value is not a whole number of
        seconds from 900 to 129600.
        """
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
        return limits.duration_seconds(seconds, parameter=name)

    @property
    def sso_region(self) -> str | None:
        """The region of the profile's SSO portal: ``sso_region``, else its ``sso-session``'s, else
        the Broker's region.
        """
        region = self._scoped.get("sso_region")
        if not region and self._scoped.get("sso_session"):
            sso_sessions = self._session.full_config.get("sso_sessions", {})
            region = sso_sessions.get(self._scoped["sso_session"], {}).get("sso_region")
        return region or self._region_name

    def source_credentials(self) -> ReadOnlyCredentials:
        """The profile's own credentials, frozen (to sign a first AssumeRole of a chain)."""

        found = self._session.get_credentials()
        if found is None:
            raise NoSourceCredentials("AssumeRole", self.profile)
        frozen = found.get_frozen_credentials()
        return SecretCredentials(frozen.access_key, frozen.secret_key, frozen.token)

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
                # the endpoint botocore chose is checked, AWS_ENDPOINT_URL_<SERVICE> included
                client = plain_http.create_client(
                    self._session,
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint_url,
                    config=config,
                    allow_http=self._allow_http,
                )
                self._clients[service] = client
        return client

    # --- the four requests ----------------------------------------------------------------------

    @refusal_without_frames
    def get_session_token(
        self,
        *,
        SerialNumber: str | None = None,
        TokenCode: str | None = None,
        DurationSeconds: int | None = None,
        label: str | None = None,
    ) -> IssuedSession:
        """STS GetSessionToken; SerialNumber and DurationSeconds default to the profile's."""
        if SerialNumber is None and TokenCode is not None:
            SerialNumber = self.mfa_serial
        if DurationSeconds is None:
            DurationSeconds = self.duration_seconds
        request = limits.session_token_request(SerialNumber, TokenCode, DurationSeconds)
        session = self._issue_sts(
            "session", "GetSessionToken", request, label, (), client=self._long_term_client()
        )
        make = functools.partial(
            self.get_session_token, SerialNumber=SerialNumber, DurationSeconds=DurationSeconds
        )
        mfa = TokenCode is not None
        return self._recipe(session, "GetSessionToken", make, SerialNumber if mfa else None)

    @refusal_without_frames
    def get_federation_token(
        self,
        *,
        Name: str,
        Policy: Any = None,
        PolicyArns: Any = None,
        Tags: Any = None,
        DurationSeconds: int | None = None,
        label: str | None = None,
    ) -> IssuedSession:
        """STS GetFederationToken; DurationSeconds defaults to the profile's.

        ``Policy`` is a dict or JSON text; ``PolicyArns`` ARN strings or ``[{"arn": ...}]``;
        ``Tags`` a dict or ``[{"Key": ..., "Value": ...}]``.
        """
        if DurationSeconds is None:
            DurationSeconds = self.duration_seconds
        request = limits.federation_token_request(Name, Policy, PolicyArns, Tags, DurationSeconds)
        session = self._issue_sts(
            "federation", "GetFederationToken", request, label, (), client=self._long_term_client()
        )
        make = functools.partial(
            self.get_federation_token,
            Name=Name,
            Policy=Policy,
            PolicyArns=PolicyArns,
            Tags=Tags,
            DurationSeconds=DurationSeconds,
        )
        return self._recipe(session, "GetFederationToken", make)

    @refusal_without_frames
    def get_delegated_access_token(
        self, *, TradeInToken: str, label: str | None = None
    ) -> IssuedSession:
        """STS GetDelegatedAccessToken: trade a one-time token for credentials."""
        request = limits.delegated_access_token_request(TradeInToken)
        del TradeInToken  # the request holds it; one reference fewer for a frame to show
        session = self._issue_sts(
            "delegated", "GetDelegatedAccessToken", request, label, (request["TradeInToken"],)
        )
        # A trade-in token is single use: nothing to make it again with.
        return self._recipe(session, "GetDelegatedAccessToken", _single_use, renewal="none")

    @refusal_without_frames
    def get_role_credentials(
        self, *, accountId: str, roleName: str, accessToken: str, label: str | None = None
    ) -> IssuedSession:
        """SSO GetRoleCredentials with an IAM Identity Center access token."""
        request = limits.role_credentials_request(accountId, roleName, accessToken)
        del accessToken  # the request holds it; one reference fewer for a frame to show
        if label is not None:
            limits.label(label)
        issued_at = datetime.now(timezone.utc)
        log.debug(
            "GetRoleCredentials for %s in %s (profile %s)",
            request["roleName"],
            request["accountId"],
            self.profile,
        )
        response = self._call("sso", "GetRoleCredentials", request, (request["accessToken"],))
        answers.check_sso("GetRoleCredentials", response)
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
        # Made again with the token the CLI's cache holds then (never this one), refreshed
        # there if it expired; a profile without SSO settings has no cache to read.
        cached = bool(self._scoped.get("sso_session") or self._scoped.get("sso_start_url"))
        make = functools.partial(self._sso_again, request["accountId"], request["roleName"])
        return self._recipe(
            session, "GetRoleCredentials", make, renewal="auto" if cached else "none"
        )

    def _sso_again(self, accountId: str, roleName: str, *, label: str | None) -> IssuedSession:

        return self.get_role_credentials(
            accountId=accountId,
            roleName=roleName,
            accessToken=find_token(
                self.profile, endpoint_url=self.endpoint_url, allow_http=self._allow_http
            ),
            label=label,
        )

    @refusal_without_frames
    def assume_role(
        self,
        *,
        RoleArn: str,
        RoleSessionName: str | None = None,
        SerialNumber: str | None = None,
        TokenCode: str | None = None,
        ExternalId: str | None = None,
        Policy: Any = None,
        PolicyArns: Any = None,
        Tags: Any = None,
        TransitiveTagKeys: Any = None,
        SourceIdentity: str | None = None,
        DurationSeconds: int | None = None,
        label: str | None = None,
        signed_by: IssuedSession | ReadOnlyCredentials | None = None,
    ) -> IssuedSession:
        """STS AssumeRole, signed by the profile's source credentials, or by ``signed_by``.

        ``signed_by`` (an ``IssuedSession``, e.g. the ledger's active one, or botocore
        credentials) is role chaining when it is a role session: DurationSeconds is then at
        most 3600. Without DurationSeconds none is sent (AWS's default, 3600). Without
        RoleSessionName, ``default_role_session_name()``.
        """
        chained = self.chains(signed_by)
        request = limits.assume_role_request(
            RoleArn,
            default_role_session_name() if RoleSessionName is None else RoleSessionName,
            SerialNumber,
            TokenCode,
            ExternalId,
            Policy,
            PolicyArns,
            Tags,
            TransitiveTagKeys,
            SourceIdentity,
            DurationSeconds,
            chained=chained,
        )
        client = None if signed_by is None else self._signed_client(signed_by)
        session = self._issue_sts("role", "AssumeRole", request, label, (), client=client)
        make = functools.partial(
            self.assume_role,
            RoleArn=RoleArn,
            RoleSessionName=request["RoleSessionName"],
            SerialNumber=SerialNumber,
            ExternalId=ExternalId,
            Policy=Policy,
            PolicyArns=PolicyArns,
            Tags=Tags,
            TransitiveTagKeys=TransitiveTagKeys,
            SourceIdentity=SourceIdentity,
            DurationSeconds=DurationSeconds,
        )
        # --chain: made again signed by the session that signed it, as the ledger holds it
        # then (renewed, perhaps), while that one is valid. Signed by bare credentials, or by a
        # session without a label, it cannot be found again: not renewable.
        signer = signed_by.label if isinstance(signed_by, IssuedSession) else None
        renewal = "none" if signed_by is not None and signer is None else None
        mfa = TokenCode is not None
        return self._recipe(
            session,
            "AssumeRole",
            make,
            SerialNumber if mfa else None,
            renewal=renewal,
            signer=signer,
        )

    @staticmethod
    def chains(signed_by: IssuedSession | ReadOnlyCredentials | None) -> bool:
        """True when an AssumeRole signed by ``signed_by`` is role chaining: a role's (or SSO,
        or delegated) session signs, and AWS allows the new session one hour at most."""
        return isinstance(signed_by, IssuedSession) and signed_by.kind in ROLE_SESSION_KINDS

    def check_assume_role(
        self, *, signed_by: IssuedSession | ReadOnlyCredentials | None = None, **request: Any
    ) -> bool:
        """Check an AssumeRole whose MFA code is still to be typed (the form): ``request`` is
        ``assume_role``'s keyword arguments but ``TokenCode``, every one checked now so nothing
        fails after the code; nothing is sent. Returns ``chains(signed_by)``."""
        chained = self.chains(signed_by)
        name = request.pop("RoleSessionName", None)
        limits.assume_role_request(
            RoleSessionName=default_role_session_name() if name is None else name,
            **request,
            chained=chained,
            code_later=True,
        )
        return chained

    @staticmethod
    def _recipe(
        session: IssuedSession,
        operation: str,
        make: Callable[..., IssuedSession],
        serial_number: str | None = None,
        *,
        renewal: str | None = None,
        signer: str | None = None,
    ) -> IssuedSession:
        """``session`` remembering how it was made (the one place recipes are attached)."""
        kind = renewal or ("mfa" if serial_number else "auto")
        recipe = Recipe(operation, make, renewal=kind, serial_number=serial_number, signer=signer)
        return session.with_recipe(recipe)

    def _long_term_client(self) -> Any:
        """An STS client signing with the profile's own chain even in a kernel of a serving
        Jupyter server, whose session goes first in the source chain otherwise: AWS refuses
        GetSessionToken and GetFederationToken signed with a session. None elsewhere (the
        usual client is that already)."""
        if not source_inherited():
            return None
        client = self._clients.get("sts-long-term")
        if client is None:
            session = source_session(self._session.profile)
            resolver = session.get_component("credential_provider")
            resolver.providers = source_providers(resolver.providers, served_first=False)
            client = plain_http.create_client(
                session,
                "sts",
                region_name=self._region_name or DEFAULT_STS_REGION,
                endpoint_url=self._endpoint_url,
                config=self._config,
                allow_http=self._allow_http,
            )
            self._clients["sts-long-term"] = client
        return client

    def _signed_client(self, signer: IssuedSession | ReadOnlyCredentials) -> Any:
        """An STS client signing with ``signer``'s keys, not the source chain's (not cached:
        the keys are the caller's, for one request)."""
        creds = signer.credentials if isinstance(signer, IssuedSession) else signer
        return plain_http.create_client(
            self._session,
            "sts",
            region_name=self._region_name or DEFAULT_STS_REGION,
            endpoint_url=self._endpoint_url,
            config=self._config,
            allow_http=self._allow_http,
            aws_access_key_id=creds.access_key,
            aws_secret_access_key=creds.secret_key,
            aws_session_token=creds.token,
        )

    # --- sending --------------------------------------------------------------------------------

    def _issue_sts(
        self,
        kind: str,
        operation: str,
        request: dict[str, Any],
        label: str | None,
        secrets: tuple[str, ...],
        *,
        client: Any = None,
    ) -> IssuedSession:
        if label is not None:
            limits.label(label)  # a label the ledger would refuse costs no request
        issued_at = datetime.now(timezone.utc)
        log.debug("%s (profile %s)", operation, self._profile)
        response = self._call("sts", operation, request, secrets, client=client)
        answers.check_sts(operation, response)
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
        self,
        service: str,
        operation: str,
        request: dict[str, Any],
        secrets: tuple[str, ...],
        *,
        client: Any = None,
    ) -> Any:
        method = botocore.xform_name(operation)
        # Each refusal is raised after its handler ends: raised inside one it would keep
        # botocore's exception, whose frames hold the request (tokens), as its __context__.
        refusal: StsMagicError
        try:
            client = client or self.client(service)
            return getattr(client, method)(**request)
        except StsMagicError:
            raise  # the endpoint refused by the http rule: its own line, nothing was sent
        except ClientError as e:
            error = e.response.get("Error", {})
            code = str(error.get("Code") or "Unknown")
            message = scrub(str(error.get("Message") or ""), secrets)
            refusal = RequestRefused(operation, code, message)
        except NoCredentialsError:
            # nothing was refused: nothing was sent, for want of keys to sign with
            refusal = NoSourceCredentials(operation, self.profile)
        except ParamValidationError as e:
            # limits.py checks first; this is botocore's own model catching what it missed.
            refusal = ParameterError("request", scrub(str(e), secrets), f"{operation}'s API model")
        except ResponseParserError:
            # Not a BotoCoreError. Its message quotes the body, which may hold credentials.
            refusal = RequestRefused(
                operation, "ResponseParserError", "the endpoint's answer is not an AWS response"
            )
        except BotoCoreError as e:
            refusal = RequestRefused(operation, type(e).__name__, scrub(str(e), secrets))
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            # botocore's parser on a 200 answer it cannot read (a timestamp that is not one);
            # its message quotes the answer.
            refusal = RequestRefused(
                operation, answers.INVALID, "the endpoint's answer could not be read"
            )
        raise refusal

    def __repr__(self) -> str:
        return (
            f"Broker(profile={self.profile!r}, region_name={self._region_name!r}, "
            f"endpoint_url={self._endpoint_url!r}"
            + (", allow_http=True)" if self._allow_http else ")")
        )
