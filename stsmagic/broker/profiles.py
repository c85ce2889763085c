"""What the AWS CLI would do for a profile, as plain Broker calls: ``%sts_profile`` underneath.

``resolve(name)`` reads the profile through botocore's config loader and follows its
``source_profile`` chain into a ``ProfilePlan``: a source (a profile's long-term keys, the
environment, or an SSO role) and the roles to assume from it, in order. ``issue(plan, ...)``
makes those calls and returns the last session. Both are pure of IPython; ``issue`` can be
called again with the same plan and arguments to make the session anew (renewal).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.credentials import EnvProvider

from .. import limits
from ..errors import ParameterError, StsMagicError, refusal_without_frames
from ..session import Recipe, SecretCredentials
from ..source import SourceEnviron, source_session
from ..sso.cache import find_token

if TYPE_CHECKING:
    from ..session import IssuedSession
    from .broker import Broker

# Settings the AWS CLI honours that stsmagic does not: named, one line, instead of a surprise.
UNSUPPORTED = ("credential_process", "web_identity_token_file")
SSO_SETTINGS = ("sso_account_id", "sso_role_name")
# The most roles a profile's chain may assume. Each one is an AssumeRole at every issue and
# every renewal, and every role after the first lasts one hour at most (AWS's limit on role
# chaining), so real chains are two or three roles long; the AWS CLI has no cap, but a chain of
# hundreds is a config file gone wrong (or written to make the kernel send hundreds of
# requests), refused before anything is sent.
MAX_ROLE_CHAIN = 10


class ProfileError(StsMagicError):
    """A profile stsmagic cannot turn into a session; the message says which and why."""


@dataclass(frozen=True)
class RoleHop:
    """One AssumeRole of a chain, as the profile that names the role says it."""

    profile: str
    role_arn: str
    external_id: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None
    mfa_serial: str | None = None


@dataclass(frozen=True)
class ProfilePlan:
    """How to make the session for profile ``name``.

    ``source`` is ``"keys"`` (``source_profile``'s long-term keys, through a Broker of that
    profile), ``"environment"`` (``credential_source = Environment``) or ``"sso"`` (the SSO
    role of ``source_profile``, token from the CLI's cache). With no ``hops`` the session is
    the source's own: GetSessionToken for keys (with ``mfa_serial`` if the profile has one),
    GetRoleCredentials for SSO.
    """

    name: str
    source: str
    source_profile: str
    hops: tuple[RoleHop, ...] = ()
    mfa_serial: str | None = None  # for GetSessionToken (no hops)
    sso_account_id: str | None = None
    sso_role_name: str | None = None

    @property
    def kind(self) -> str:
        """The kind of session the plan makes: ``role``, ``sso`` or ``session``."""
        if self.hops:
            return "role"
        return "sso" if self.source == "sso" else "session"

    @property
    def serial_number(self) -> str | None:
        """The MFA device a code is needed for, if any (the first hop's that names one)."""
        serials = [hop.mfa_serial for hop in self.hops if hop.mfa_serial]
        return serials[0] if serials else self.mfa_serial

    @property
    def duration_seconds(self) -> int | None:
        """The last role's ``duration_seconds`` from its profile, if it sets one."""
        return self.hops[-1].duration_seconds if self.hops else None

    @property
    def chained(self) -> bool:
        """Whether the last request is signed by a role session (AWS's 1-hour limit)."""
        return len(self.hops) > 1 or (bool(self.hops) and self.source == "sso")

    @property
    def durations(self) -> tuple[int, ...]:
        """The durations the last request accepts (for the MFA form)."""
        if not self.hops:
            return (900, 3600, 4 * 3600, 8 * 3600, 12 * 3600, 24 * 3600, 36 * 3600)
        if self.chained:
            return (900, 1800, 3600)
        return (900, 3600, 4 * 3600, 8 * 3600, 12 * 3600)


def _config(session: botocore.session.Session) -> Mapping[str, Any]:
    return session.full_config.get("profiles", {})


def resolve(name: str, session: botocore.session.Session | None = None) -> ProfilePlan:
    """The plan for profile ``name``, read through botocore's config loader (the user's own
    files, even while serving points children at copies)."""
    if session is None:
        session = source_session()
    profiles = _config(session)
    chain: list[str] = []
    hops: list[RoleHop] = []
    current = name
    while True:
        if current in chain:
            loop = " -> ".join([*chain[chain.index(current) :], current])
            raise ProfileError(f"profile {name!r}: its source_profile chain loops: {loop}")
        chain.append(current)
        if current not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            where = f"profile {current!r}" + (
                f" (source of {chain[-2]!r})" if len(chain) > 1 else ""
            )
            raise ProfileError(f"{where} is not in the AWS config files; known profiles: {known}")
        settings = profiles[current]
        for setting in UNSUPPORTED:
            if setting in settings and not str(settings[setting]).strip():
                raise ProfileError(
                    f"profile {current!r} has a blank {setting} line; remove it "
                    "(stsmagic does not run it)"
                )
            if setting in settings:
                raise ProfileError(
                    f"profile {current!r} uses {setting}, which stsmagic does not support; "
                    "use the AWS CLI or boto3 for it"
                )
        if not settings.get("role_arn"):
            return _source_only(name, current, settings, hops)
        if len(hops) == MAX_ROLE_CHAIN:
            raise ProfileError(
                f"profile {name!r}: its source_profile chain assumes more than "
                f"{MAX_ROLE_CHAIN} roles ({' -> '.join(chain[:3])} -> ...); stsmagic stops "
                f"at {MAX_ROLE_CHAIN}"
            )
        hops.insert(0, _hop(current, settings))
        source = settings.get("credential_source")
        if settings.get("source_profile") and source:
            raise ProfileError(
                f"profile {current!r} sets both source_profile and credential_source; keep one"
            )
        if source:
            if source != "Environment":
                raise ProfileError(
                    f"profile {current!r}: credential_source = {source} is not supported by "
                    "stsmagic (only Environment)"
                )
            return ProfilePlan(name, "environment", current, tuple(hops))
        if not settings.get("source_profile"):
            raise ProfileError(
                f"profile {current!r} has role_arn but neither source_profile nor credential_source"
            )
        current = settings["source_profile"]


def _source_only(
    name: str, profile: str, settings: Mapping[str, Any], hops: list[RoleHop]
) -> ProfilePlan:
    """The end of a chain: a profile without role_arn (SSO, or long-term keys)."""
    # An sso_session alone (no account or role) only configures %sso_role: like botocore, the
    # profile's keys are then its credentials.
    if any(settings.get(s) for s in SSO_SETTINGS):
        missing = [s for s in (*SSO_SETTINGS, "sso_session") if not settings.get(s)]
        if missing == ["sso_session"] and settings.get("sso_start_url"):
            missing = []
        if missing:
            raise ProfileError(
                f"profile {profile!r} is an SSO profile without {' and '.join(missing)}"
            )
        return ProfilePlan(
            name,
            "sso",
            profile,
            tuple(hops),
            sso_account_id=str(settings["sso_account_id"]),
            sso_role_name=str(settings["sso_role_name"]),
        )
    serial = settings.get("mfa_serial") if not hops else None
    return ProfilePlan(name, "keys", profile, tuple(hops), mfa_serial=serial or None)


def _hop(profile: str, settings: Mapping[str, Any]) -> RoleHop:
    duration = settings.get("duration_seconds")
    if duration not in (None, ""):
        try:
            duration = int(str(duration).strip())
        except ValueError:
            raise ParameterError(
                f"duration_seconds (profile {profile})",
                f"{duration!r} is not a whole number",
                "must be seconds from 900 to 43200",
            ) from None
    return RoleHop(
        profile=profile,
        role_arn=str(settings["role_arn"]),
        external_id=settings.get("external_id") or None,
        role_session_name=settings.get("role_session_name") or None,
        duration_seconds=duration or None,
        mfa_serial=settings.get("mfa_serial") or None,
    )


@refusal_without_frames
def issue(
    plan: ProfilePlan,
    broker_for: Callable[[str], Broker],
    *,
    TokenCode: str | None = None,
    DurationSeconds: int | None = None,
    label: str | None = None,
    SerialNumber: str | None = None,
) -> IssuedSession:
    """Make the session ``plan`` describes; ``broker_for(profile)`` gives each call's Broker.

    ``TokenCode`` is the MFA code for ``plan.serial_number`` (the one request that needs it);
    ``DurationSeconds`` overrides the last request's. Intermediate sessions go nowhere: only
    the last is returned, labelled ``label``. ``SerialNumber`` is accepted (the MFA form passes
    it) and must be the plan's device. The session's recipe is this call again, the whole
    chain from its source (``mfa`` when the plan names a device, else ``auto``), after the
    profile is read again and found unchanged.
    """

    session = _issue(
        plan,
        broker_for,
        TokenCode=TokenCode,
        DurationSeconds=DurationSeconds,
        label=label,
        SerialNumber=SerialNumber,
    )
    serial = plan.serial_number
    make = functools.partial(_again, plan, broker_for, DurationSeconds=DurationSeconds)
    recipe = Recipe(
        {"session": "GetSessionToken", "sso": "GetRoleCredentials"}.get(session.kind, "AssumeRole"),
        make,
        renewal="mfa" if serial else "auto",
        serial_number=serial,
    )
    return session.with_recipe(recipe)


def _again(
    plan: ProfilePlan,
    broker_for: Callable[[str], Broker],
    *,
    label: str | None,
    TokenCode: str | None = None,
    DurationSeconds: int | None = None,
) -> IssuedSession:
    """Renewal: the profile read again, with every check of a fresh ``%sts_profile``; a
    profile changed on disk since the session was issued is refused, not followed."""
    now = resolve(plan.name)
    if now != plan:
        raise ProfileError(
            f"profile {plan.name!r} changed in the AWS config files since its session was "
            f"issued; run %sts_profile {plan.name} again to use it as it is now"
        )
    return issue(
        plan, broker_for, TokenCode=TokenCode, DurationSeconds=DurationSeconds, label=label
    )


def _issue(
    plan: ProfilePlan,
    broker_for: Callable[[str], Broker],
    *,
    TokenCode: str | None,
    DurationSeconds: int | None,
    label: str | None,
    SerialNumber: str | None,
) -> IssuedSession:
    serial = plan.serial_number
    if SerialNumber and SerialNumber != serial:
        raise ProfileError(f"profile {plan.name!r} names MFA device {serial!r}, not another")
    if serial and TokenCode is None:
        raise ParameterError("TokenCode", "is missing", f"profile {plan.name!r} needs an MFA code")
    if plan.hops and len([h for h in plan.hops if h.mfa_serial]) > 1:
        raise ProfileError(
            f"profile {plan.name!r}: more than one role in its chain asks for MFA; one code "
            "cannot serve two requests"
        )
    target = broker_for(plan.name)  # region and endpoint as the profile says, as the CLI does
    last = not plan.hops
    signer: Any
    if plan.source == "sso":
        sso = broker_for(plan.source_profile)
        signer = sso.get_role_credentials(
            accountId=str(plan.sso_account_id),
            roleName=str(plan.sso_role_name),
            # an expired cached token is refreshed at the same endpoint
            accessToken=find_token(
                plan.source_profile, endpoint_url=sso.endpoint_url, allow_http=sso.allow_http
            ),
            label=label if last else None,
        )
    elif plan.source == "environment":
        signer = _environment_credentials(plan)
    elif last:
        return target.get_session_token(
            SerialNumber=serial, TokenCode=TokenCode, DurationSeconds=DurationSeconds, label=label
        )
    else:
        signer = broker_for(plan.source_profile).source_credentials()
    for index, hop in enumerate(plan.hops):
        final = index == len(plan.hops) - 1
        duration = (
            DurationSeconds if final and DurationSeconds is not None else hop.duration_seconds
        )
        signer = target.assume_role(
            RoleArn=hop.role_arn,
            RoleSessionName=hop.role_session_name,
            SerialNumber=hop.mfa_serial,
            TokenCode=TokenCode if hop.mfa_serial else None,
            ExternalId=hop.external_id,
            DurationSeconds=duration,
            label=label if final else None,
            signed_by=signer,
        )
    return signer


def check_duration(plan: ProfilePlan, seconds: int) -> int:
    """``seconds`` within the limits of the plan's last request."""
    if plan.kind == "role":
        return limits.role_duration_seconds(seconds, chained=plan.chained)
    return limits.duration_seconds(seconds)


def _environment_credentials(plan: ProfilePlan) -> Any:

    found = EnvProvider(environ=SourceEnviron()).load()
    if found is None:
        raise ProfileError(
            f"profile {plan.source_profile!r} has credential_source = Environment, but "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"
        )

    frozen = found.get_frozen_credentials()
    return SecretCredentials(frozen.access_key, frozen.secret_key, frozen.token)
