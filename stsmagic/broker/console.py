"""A sign-in link to the AWS console, as the principal of an issued session.

AWS's console federation endpoint trades a session's three parts for a sign-in token
(``getSigninToken``); the ``login`` URL carrying that token opens the console as the session's
principal, once, within 15 minutes. That URL is a credential: ``SigninLink`` holds it in
``.url`` and shows it in no repr, str or format. Everything a user can get wrong is checked
before anything is sent: the session's kind, its expiry, ``SessionDuration``, the destination
and the endpoint.
"""

from __future__ import annotations

import functools
import http
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from .. import limits
from .._version import __version__
from ..errors import RENEW_HINTS, ParameterError, RequestRefused, refusal_without_frames
from ..source.plain_http import is_loopback

if TYPE_CHECKING:
    from ..session import IssuedSession

ISSUER = "stsmagic"
ENVIRONMENT_VARIABLE = "STSMAGIC_SIGNIN_URL"
LINK_LIFETIME = timedelta(minutes=15)  # a sign-in token is good for 15 minutes
SESSION_DURATION_MIN, SESSION_DURATION_MAX = 900, 43_200
# The kinds whose credentials AWS lets sign in: not GetSessionToken's ("session").
CONSOLE_KINDS = ("federation", "role", "sso", "delegated")
# SessionDuration is sent only for these; a federation session's console lasts as long as it does.
SESSION_DURATION_KINDS = ("role", "sso")
DEFAULT_TIMEOUT = 10.0
OPERATION = "getSigninToken"

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True)
class Partition:
    """An AWS partition's console: its federation endpoint and its console domain."""

    name: str
    signin_url: str
    console_domain: str


PARTITIONS = {
    p.name: p
    for p in (
        Partition("aws", "https://signin.aws.amazon.com/federation", "console.aws.amazon.com"),
        Partition("aws-cn", "https://signin.amazonaws.cn/federation", "console.amazonaws.cn"),
        Partition(
            "aws-us-gov",
            "https://signin.amazonaws-us-gov.com/federation",
            "console.amazonaws-us-gov.com",
        ),
    )
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SigninLink:
    """A console sign-in URL for one session, good until ``expires_at`` (15 minutes after it
    was made, or the session's end if sooner) and for one sign-in.

    ``url`` holds the URL. Every text form of the object (``repr``, ``str``, ``format``, an
    f-string, IPython's output) shows whom it signs in as, where it goes and until when, never
    the URL. It is not a ``str`` on purpose: a ``str`` subclass hands its characters to
    ``json.dumps``, ``"".join`` and ``%`` formatting whatever its repr says.
    """

    __slots__ = (
        "_url",
        "destination",
        "expires_at",
        "issued_at",
        "kind",
        "label",
        "principal",
        "signin_endpoint",
    )

    def __init__(
        self,
        url: str,
        *,
        destination: str,
        issued_at: datetime,
        expires_at: datetime,
        label: str | None,
        kind: str,
        principal: str | None,
        signin_endpoint: str,
    ) -> None:
        self._url = url
        self.destination = destination
        self.issued_at = issued_at
        self.expires_at = expires_at
        self.label = label
        self.kind = kind
        self.principal = principal
        self.signin_endpoint = signin_endpoint

    @property
    def url(self) -> str:
        """The sign-in URL itself: a credential until ``expires_at``. Open it, never print it
        where it is kept (a notebook's output, a log)."""
        return self._url

    def remaining_at(self, now: datetime) -> timedelta:
        """Time left at ``now`` before the link stops working; never negative."""
        return max(self.expires_at - now, timedelta(0))

    def expired_at(self, now: datetime) -> bool:
        """Whether the link no longer works at ``now``."""
        return now >= self.expires_at

    @property
    def expired(self) -> bool:
        """Whether the link no longer works now."""
        return self.expired_at(_now())

    @property
    def who(self) -> str:
        """The principal it signs in as, else the session's label."""
        return self.principal or self.label or "(unlabelled session)"

    def __repr__(self) -> str:
        return (
            f"SigninLink(label={self.label!r}, principal={self.principal!r}, "
            f"destination={self.destination!r}, "
            f"expires='{self.expires_at:%Y-%m-%d %H:%M:%S} UTC', url=<hidden: .url>)"
        )

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)

    def __reduce_ex__(self, protocol: object) -> Any:
        raise TypeError("a SigninLink holds a sign-in URL and is not pickled")

    def __copy__(self) -> SigninLink:
        return self

    def __deepcopy__(self, memo: object) -> SigninLink:
        return self


# -- the checks, before anything is sent ---------------------------------------------------------


@functools.cache
def partition_of_region(region: str) -> str | None:
    """The partition botocore's endpoint data puts ``region`` in (None: no partition has it)."""
    import botocore.session  # botocore: not loaded by stsmagic.console until a link is made
    from botocore.exceptions import UnknownRegionError  # botocore: as above

    from ..source.loader import share_loader  # loader: botocore, only when a link is made

    try:
        session = share_loader(botocore.session.get_session())
        return str(session.get_partition_for_region(region))
    except UnknownRegionError:
        return None


def partition_of(session: IssuedSession, region: str | None = None) -> Partition:
    """The session's partition: its principal's ARN says it (``arn:aws-cn:…``), except for SSO
    sessions, whose ARN stsmagic writes itself; else its region's, else ``region``'s; else
    ``aws``."""
    name = None
    if session.kind != "sso" and (session.principal or "").startswith("arn:"):
        name = (session.principal or "").split(":")[1]
    else:
        where = session.region or region
        if where:
            name = partition_of_region(where)
    name = name or "aws"
    if name not in PARTITIONS:
        raise ParameterError(
            "session",
            f"its partition {name} has no console federation endpoint known to stsmagic",
            "give the endpoint with signin_endpoint= or STSMAGIC_SIGNIN_URL",
        )
    return PARTITIONS[name]


def check_session(session: IssuedSession, now: datetime) -> None:
    """A session AWS lets sign in to the console, and not expired."""
    kind = getattr(session, "kind", None)
    if kind is None or not hasattr(session, "credentials"):
        raise ParameterError(
            "session",
            f"{type(session).__name__} is not an IssuedSession",
            "give one from stsmagic.sessions (stsmagic.sessions.active, or .get(label))",
        )
    label = session.label or "(unlabelled)"
    if kind not in CONSOLE_KINDS:
        raise ParameterError(
            "session",
            f"{label} is a GetSessionToken session, which AWS does not let sign in to the console",
            "issue a federation or role session (%sts_federation, %sts_role) and use that one",
        )
    if session.expired_at(now):
        raise ParameterError(
            "session",
            f"{label} expired at {session.expiration:%Y-%m-%d %H:%M:%S} UTC",
            f"{RENEW_HINTS.get(kind, 'issue a new session')}, then ask for the link again",
        )


def check_session_duration(value: object, kind: str) -> int | None:
    """``SessionDuration`` for a role or SSO session: whole seconds, 900-43200."""
    if value is None:
        return None
    limit = (
        f"must be whole seconds from {SESSION_DURATION_MIN} to {SESSION_DURATION_MAX}, "
        "for role and SSO sessions only"
    )
    if kind not in SESSION_DURATION_KINDS:
        raise ParameterError(
            "SessionDuration",
            f"AWS refuses it with {kind} credentials (their console session lasts as long as "
            "they do)",
            limit,
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError("SessionDuration", f"{value!r} is not a whole number", limit)
    if not SESSION_DURATION_MIN <= value <= SESSION_DURATION_MAX:
        problem = "too short" if value < SESSION_DURATION_MIN else "too long"
        raise ParameterError("SessionDuration", f"{value} is {problem}", limit)
    return value


def check_region(value: object, partition: Partition) -> str | None:
    """``value`` if it is a region of ``partition`` (None stays None), else a ``ParameterError``."""
    if value is None:
        return None
    limit = f"must be a region of the session's partition ({partition.name}), e.g. us-east-1"
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise ParameterError("region", f"{value!r} is not a region name", limit)
    found = partition_of_region(value)
    if found is not None and found != partition.name:
        raise ParameterError("region", f"{value} is in partition {found}", limit)
    return value


def check_destination(value: object, partition: Partition) -> str:
    """An https URL on the partition's console domain or a subdomain of it."""
    domain = partition.console_domain
    limit = f"must be an https:// URL on {domain} or a subdomain of it"
    if not isinstance(value, str):
        raise ParameterError("Destination", f"{value!r} is not a URL", limit)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ParameterError("Destination", f"{value[:60]!r} is not a URL", limit) from None
    host = (parts.hostname or "").lower()
    if any(c.isspace() or ord(c) < 32 for c in value) or parts.scheme.lower() != "https":
        raise ParameterError("Destination", f"{value[:60]!r} is not an https:// URL", limit)
    if parts.username is not None or parts.password is not None or port not in (None, 443):
        raise ParameterError("Destination", f"{value[:60]!r} names a user or a port", limit)
    if host != domain and not host.endswith("." + domain):
        raise ParameterError("Destination", f"its host {host or '(none)'} is not {domain}", limit)
    return value


def console_destination(
    partition: Partition, service: str | None = None, region: str | None = None
) -> str:
    """The console home, or a service's page: ``https://<region>.console.aws.amazon.com/
    <service>/home?region=<region>`` (outside ``aws``, the console domain itself)."""
    domain = partition.console_domain
    host = f"{region}.{domain}" if region and partition.name == "aws" else domain
    query = f"?{urlencode({'region': region})}" if region else ""
    if service is None:
        return f"https://{host}/console/home{query}" if region else f"https://{domain}/"
    return f"https://{host}/{service}/home{query}"


def check_service(value: object) -> str | None:
    """``value`` if it reads as a console service name (``s3``, ``ec2``; None stays None), else a
    ``ParameterError``.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not _SERVICE.fullmatch(value):
        raise ParameterError(
            "service",
            f"{value!r} is not a console service name",
            "must be 1-63 lowercase letters, digits or -, as in the console's URLs (s3, ec2, iam)",
        )
    return value


def resolve_endpoint(partition: Partition, signin_endpoint: str | None = None) -> str:
    """The federation endpoint: ``signin_endpoint`` (the argument, or ``StsMagics.signin_url``),
    else ``STSMAGIC_SIGNIN_URL``, else the partition's. https://, or http:// to this machine."""
    if signin_endpoint:
        return check_endpoint(signin_endpoint, "signin_endpoint")
    if os.environ.get(ENVIRONMENT_VARIABLE):
        return check_endpoint(os.environ[ENVIRONMENT_VARIABLE], ENVIRONMENT_VARIABLE)
    return partition.signin_url


def check_endpoint(url: object, parameter: str = "signin_endpoint") -> str:
    """A federation endpoint's URL: https://, or http:// to this machine; no query."""
    text = limits.endpoint_url(url, parameter)
    parts = urlsplit(text)
    if parts.query or parts.fragment:
        raise ParameterError(
            parameter,
            f"{text[:60]!r} has a query or a fragment",
            f"must be the federation endpoint alone, e.g. {PARTITIONS['aws'].signin_url}",
        )
    if parts.scheme.lower() == "http" and not is_loopback(parts.hostname or ""):
        raise ParameterError(
            parameter,
            f"http://{parts.hostname} would carry the session's secret key and token in clear text",
            "use https:// (plain http:// only to this machine: 127.0.0.1, ::1 or localhost)",
        )
    return text


# -- the request ---------------------------------------------------------------------------------


def _opener(url: str) -> Any:
    """urllib's opener: no proxy to this machine; else the environment's proxies, and botocore's
    ``AWS_CA_BUNDLE`` when set."""
    import ssl  # ssl: only when the federation endpoint is asked
    import urllib.request  # urllib.request: http.client and email, only then

    handlers: list[Any] = []
    if is_loopback(urlsplit(url).hostname or ""):
        handlers.append(urllib.request.ProxyHandler({}))
    bundle = os.environ.get("AWS_CA_BUNDLE")
    if bundle:
        handlers.append(
            urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=bundle))
        )
    return urllib.request.build_opener(*handlers)


def _refusal(status: int, body: bytes) -> RequestRefused:
    """AWS's error as one line: its JSON code and message when it sent them, else the HTTP
    status (the body is not echoed: it might quote what was sent)."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        code = answer.get("code") or answer.get("Code") or answer.get("__type")
        message = answer.get("message") or answer.get("Message") or ""
        if isinstance(code, str) and isinstance(message, str):
            return RequestRefused(OPERATION, code, " ".join(message.split())[:300])
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    return RequestRefused(OPERATION, f"HTTP {status}", phrase)


@refusal_without_frames  # the URL, the frames' params and urllib's error hold the secret key
def fetch_signin_token(
    endpoint: str, session: IssuedSession, session_duration: int | None, timeout: float
) -> str:
    """``GET <endpoint>?Action=getSigninToken&Session=…[&SessionDuration=N]``: the token."""
    import urllib.error  # urllib: http.client and email, only when the federation endpoint is asked
    import urllib.request  # as above

    credentials = session.credentials
    params = {
        "Action": OPERATION,
        "Session": json.dumps(
            {
                "sessionId": credentials.access_key,
                "sessionKey": credentials.secret_key,
                "sessionToken": credentials.token,
            }
        ),
    }
    if session_duration is not None:
        params["SessionDuration"] = str(session_duration)
    request = urllib.request.Request(  # noqa: S310 - https://, or http:// to loopback (checked)
        f"{endpoint}?{urlencode(params)}",
        headers={"Accept": "application/json", "User-Agent": f"stsmagic/{_version()}"},
    )
    try:
        with _opener(endpoint).open(request, timeout=timeout) as answer:
            body = answer.read(1 << 16)
    except urllib.error.HTTPError as e:
        raise _refusal(e.code, e.read(1 << 16)) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        name = "ReadTimeoutError" if isinstance(reason, TimeoutError) else type(reason).__name__
        where = urlsplit(endpoint).netloc
        raise RequestRefused(OPERATION, name, f"no answer from {where}: {reason}") from None
    try:
        token = json.loads(body)["SigninToken"]
    except (ValueError, KeyError, TypeError):
        token = None
    if not isinstance(token, str) or not token:
        raise RequestRefused(OPERATION, "InvalidAnswer", "the answer held no SigninToken")
    return token


def _version() -> str:

    return __version__


def signin_url(
    session: IssuedSession,
    destination: str | None = None,
    region: str | None = None,
    session_duration: int | None = None,
    signin_endpoint: str | None = None,
    *,
    service: str | None = None,
    clock: Callable[[], datetime] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SigninLink:
    """A link that opens the AWS console as ``session``'s principal, good for 15 minutes.

    ``destination`` is an https:// console page (default: the console home, or ``service``'s
    page in ``region``); ``session_duration`` (900-43200 seconds) how long the console
    session lasts, for role and SSO sessions only; ``signin_endpoint`` the federation
    endpoint (default: ``STSMAGIC_SIGNIN_URL``, else the partition's). Raises
    ``ParameterError`` before anything is sent, and ``RequestRefused`` when the endpoint says
    no. ``clock`` (an aware UTC datetime) is injected by tests.
    """
    now = (clock or _now)()
    check_session(session, now)
    duration = check_session_duration(session_duration, session.kind)
    partition = partition_of(session, region if isinstance(region, str) else None)
    region = check_region(region, partition)
    service = check_service(service)
    if destination is not None and service is not None:
        raise ParameterError(
            "Destination", "given with a service", "give either a destination URL or a service"
        )
    if destination is None:
        where = region or (session.region if service else None)
        destination = console_destination(partition, service, where)
    destination = check_destination(destination, partition)
    endpoint = resolve_endpoint(partition, signin_endpoint)

    token = fetch_signin_token(endpoint, session, duration, timeout)
    query = urlencode(
        {"Action": "login", "Issuer": ISSUER, "Destination": destination, "SigninToken": token}
    )
    return SigninLink(
        f"{endpoint}?{query}",
        destination=destination,
        issued_at=now,
        expires_at=min(now + LINK_LIFETIME, session.expiration),
        label=session.label,
        kind=session.kind,
        principal=session.principal,
        signin_endpoint=endpoint,
    )
