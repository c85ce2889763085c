"""One issued set of short-lived credentials, shown masked everywhere."""

from __future__ import annotations

import contextlib
import dataclasses
import html
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from botocore.credentials import ReadOnlyCredentials

from .limits import printable  # a label from elsewhere may hold control characters

KINDS = ("session", "federation", "delegated", "sso", "role")
RENEWALS = ("auto", "mfa", "none")

_ZERO = timedelta(0)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)
REFRESH_WINDOW = timedelta(minutes=10)


class SecretCredentials(ReadOnlyCredentials):
    """botocore's ``ReadOnlyCredentials`` whose repr shows the access key masked, nothing else."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"SecretCredentials(access_key={mask_access_key(self.access_key)!r}, <hidden>)"

    __str__ = __repr__


def mask_access_key(access_key_id: str) -> str:
    """``ASIAXXXXXXXXXXXXWXYZ`` -> ``ASIA…WXYZ`` (aws-vault style: prefix and last four)."""
    if len(access_key_id) <= 8:
        return "…" + access_key_id[-4:]
    return f"{access_key_id[:4]}…{access_key_id[-4:]}"


def utc(value: datetime | str) -> datetime:
    """An aware UTC datetime from a botocore timestamp (aware datetime or ISO 8601 text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def format_remaining(remaining: timedelta, *, words: bool = False) -> str:
    """Time left, never negative: ``"11:00:05"`` (days spill into hours), or with ``words``
    ``"11 h 0 min"`` / ``"59 min"`` (what a one-line message says)."""
    seconds = max(int(remaining.total_seconds()), 0)
    hours, minutes = seconds // 3600, seconds // 60 % 60
    if words:
        return f"{hours} h {minutes} min" if hours else f"{minutes} min"
    return f"{hours}:{minutes:02d}:{seconds % 60:02d}"


def describe(session: IssuedSession) -> str:
    """One line about a session, without its secret: label, kind, masked key, time left."""
    remaining = format_remaining(session.remaining, words=True)
    label = printable(session.label or "(unlabelled)")
    return (
        f"{label} ({session.kind}, {session.masked_access_key}, expires "
        f"{session.expiration:%Y-%m-%d %H:%M:%S} UTC, in {remaining})"
    )


def epoch_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch (how the ledger's table builds its time columns)."""
    return (moment - _EPOCH) // _MICRO


@dataclasses.dataclass(frozen=True)
class IssuedSession:
    """Short-lived credentials as AWS issued them, with the secret parts kept out of sight.

    ``credentials`` (botocore's ``ReadOnlyCredentials`` triple) holds the secret key and session
    token. It is given to the constructor but is not a dataclass field, so ``dataclasses.asdict``,
    ``repr`` and comparisons never see it, and its own repr is masked too. It is kept in a slot,
    not in the instance's ``__dict__``: ``vars(session)`` (and a DataFrame made of it, which
    prints a tuple's items, not its repr) never holds it. A session refuses to be pickled
    (``%store``, a file on disk); ``copy`` returns the same immutable session.
    """

    # "__dict__" keeps the fields where dataclasses put them; the secret alone is a slot.
    __slots__ = ("__dict__", "__weakref__", "_secret")

    label: str | None
    kind: str
    principal: str | None
    access_key_id: str
    issued_at: datetime
    expiration: datetime
    packed_policy_size: int | None
    profile: str | None
    region: str | None
    # Not a field: an InitVar, kept in the ``_secret`` slot and read through the ``credentials``
    # property set below the class. Its default only lets ``dataclasses.replace`` read the
    # current value from the property; a session without credentials is refused.
    # ``recipe`` likewise: how the session was made (``Recipe``, below), so it can be
    # made again; ``dataclasses.replace`` (``with_label``) keeps it. It holds no secret.
    if TYPE_CHECKING:  # what a reader of the class gets: the credentials, read-only
        credentials: ReadOnlyCredentials
        recipe: Recipe | None = None
    else:
        credentials: dataclasses.InitVar[ReadOnlyCredentials | None] = None
        recipe: dataclasses.InitVar[Any] = None

    def __post_init__(  # type: ignore[override]
        self, credentials: ReadOnlyCredentials | None, recipe: Recipe | None
    ) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.expiration.tzinfo is None or self.issued_at.tzinfo is None:
            raise ValueError("issued_at and expiration must be timezone-aware")
        # Computed once: the panel masks and counts down every row on every tick.
        object.__setattr__(self, "_masked", mask_access_key(self.access_key_id))
        object.__setattr__(self, "_issued_us", epoch_us(self.issued_at))
        object.__setattr__(self, "_expiration_us", epoch_us(self.expiration))
        if credentials is None:
            raise TypeError("IssuedSession needs credentials (access key, secret key, token)")
        if not isinstance(credentials, SecretCredentials):
            credentials = SecretCredentials(
                credentials.access_key, credentials.secret_key, credentials.token
            )
        object.__setattr__(self, "_secret", credentials)
        object.__setattr__(self, "_recipe", recipe)
        # The refresh window opens 10 minutes before expiry, or halfway through a session
        # shorter than 20 minutes (the gate, stsmagic.outlets.gate, compares against this once
        # per request).
        window = min(REFRESH_WINDOW, (self.expiration - self.issued_at) / 2)
        object.__setattr__(self, "_renew_from", self.expiration - max(window, _ZERO))

    # --- never serialised -----------------------------------------------------------------------

    def __reduce_ex__(self, protocol: object) -> Any:
        raise TypeError(
            "an IssuedSession holds a secret key and is not pickled (nor kept by %store); "
            "issue a new one in each kernel"
        )

    def __copy__(self) -> IssuedSession:
        return self  # immutable: a copy would be the same session

    def __deepcopy__(self, memo: object) -> IssuedSession:
        return self

    # --- constructors -------------------------------------------------------------------------

    @classmethod
    def from_sts(
        cls,
        kind: str,
        response: Mapping[str, Any],
        *,
        issued_at: datetime,
        label: str | None = None,
        profile: str | None = None,
        region: str | None = None,
    ) -> IssuedSession:
        """From a GetSessionToken, GetFederationToken, GetDelegatedAccessToken or AssumeRole
        response."""
        creds = response["Credentials"]
        if kind == "federation":
            principal = response.get("FederatedUser", {}).get("Arn")
        elif kind == "delegated":
            principal = response.get("AssumedPrincipal")
        elif kind == "role":
            principal = response.get("AssumedRoleUser", {}).get("Arn")
        else:
            # GetSessionToken names no principal; asking GetCallerIdentity would cost a round trip.
            principal = None
        return cls(
            label=label,
            kind=kind,
            principal=principal,
            access_key_id=creds["AccessKeyId"],
            issued_at=utc(issued_at),
            expiration=utc(creds["Expiration"]),
            packed_policy_size=response.get("PackedPolicySize"),
            profile=profile,
            region=region,
            credentials=SecretCredentials(
                creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken")
            ),
        )

    @classmethod
    def from_sso(
        cls,
        response: Mapping[str, Any],
        *,
        account_id: str,
        role_name: str,
        issued_at: datetime,
        label: str | None = None,
        profile: str | None = None,
        region: str | None = None,
    ) -> IssuedSession:
        """From an SSO GetRoleCredentials response, whose ``expiration`` is epoch milliseconds."""
        creds = response["roleCredentials"]
        expiration = datetime.fromtimestamp(int(creds["expiration"]) / 1000, tz=timezone.utc)
        return cls(
            label=label,
            kind="sso",
            # The real ARN names the AWSReservedSSO_ role and the user; this is its readable part.
            principal=f"arn:aws:sts::{account_id}:assumed-role/{role_name}",
            access_key_id=creds["accessKeyId"],
            issued_at=utc(issued_at),
            expiration=expiration,
            packed_policy_size=None,
            profile=profile,
            region=region,
            credentials=SecretCredentials(
                creds["accessKeyId"], creds["secretAccessKey"], creds.get("sessionToken")
            ),
        )

    # --- time -----------------------------------------------------------------------------------

    def remaining_at(self, now: datetime) -> timedelta:
        """Time left at ``now``; never negative."""
        return max(self.expiration - now, _ZERO)

    def expired_at(self, now: datetime) -> bool:
        """Whether the session has expired at ``now``."""
        return now >= self.expiration

    @property
    def remaining(self) -> timedelta:
        """Time left now; never negative."""
        return self.remaining_at(_now())

    @property
    def expired(self) -> bool:
        """Whether the session has expired now."""
        return self.expired_at(_now())

    # --- display --------------------------------------------------------------------------------

    @property
    def masked_access_key(self) -> str:
        """The access key id masked to its last four characters (``ASIA…WXYZ``)."""
        return self._masked  # type: ignore[attr-defined]

    def with_label(self, label: str) -> IssuedSession:
        """The same session under another label."""
        return self._twin(label=label)

    def with_recipe(self, recipe: Recipe | None) -> IssuedSession:
        """The same session, remembering ``recipe`` as how it was made."""
        return self._twin(_recipe=recipe)

    def _twin(self, **changes: Any) -> IssuedSession:
        """A copy with ``changes`` to attributes no check depends on (the label, the recipe):
        checked once, when it was made. ``dataclasses.replace`` ran ``__init__`` and
        ``__post_init__`` again, twice at every issue (its recipe, then its label)."""
        twin = object.__new__(type(self))
        state = vars(twin)
        state.update(vars(self))  # the fields and what __post_init__ computed; no secret
        state.update(changes)
        object.__setattr__(twin, "_secret", self._secret)  # type: ignore[attr-defined]
        return twin

    @property
    def renewal(self) -> str:
        """``auto`` (renews itself), ``mfa`` (needs a new code) or ``none``."""
        recipe = self._recipe  # type: ignore[attr-defined]
        return "none" if recipe is None else recipe.renewal

    @property
    def renew_from(self) -> datetime:
        """When the refresh window opens: 10 minutes before expiry, or half the life of a
        session shorter than 20 minutes."""
        return self._renew_from  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return (
            f"IssuedSession(label={self.label!r}, kind={self.kind!r}, "
            f"principal={self.principal!r}, access_key={self.masked_access_key!r}, "
            f"expiration='{self.expiration:%Y-%m-%d %H:%M:%S} UTC', "
            f"remaining='{format_remaining(self.remaining)}')"
        )

    def __str__(self) -> str:
        state = "expired" if self.expired else f"{format_remaining(self.remaining)} left"
        who = f" as {self.principal}" if self.principal else ""

        label = printable(self.label or "(unlabelled)")
        return (
            f"{label}: {self.kind} {self.masked_access_key}{who}, "
            f"expires {self.expiration:%Y-%m-%d %H:%M:%S} UTC ({state})"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("label", self.label or ""),
            ("kind", self.kind),
            ("principal", self.principal or ""),
            ("access key", self.masked_access_key),
            ("issued", f"{self.issued_at:%Y-%m-%d %H:%M:%S} UTC"),
            ("expires", f"{self.expiration:%Y-%m-%d %H:%M:%S} UTC"),
            ("remaining", "expired" if self.expired else format_remaining(self.remaining)),
        ]
        if self.packed_policy_size is not None:
            rows.append(("packed policy size", f"{self.packed_policy_size}%"))
        if self.profile:
            rows.append(("profile", self.profile))
        if self.region:
            rows.append(("region", self.region))
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(str(value))}</td></tr>"
            for name, value in rows
        )
        return f"<table class='stsmagic-session'>{body}</table>"


def _credentials(session: IssuedSession) -> SecretCredentials:
    """The (access_key, secret_key, token) triple botocore signs with; its repr is masked."""
    return session._secret  # type: ignore[attr-defined]


def _recipe(session: IssuedSession) -> Recipe | None:
    return session._recipe  # type: ignore[attr-defined]


# --- as plain fields (secrets included) ---------------------------------------------------------

_TEXT_FIELDS = ("label", "kind", "access_key_id", "secret_access_key")
_OPTIONAL_TEXT_FIELDS = ("principal", "session_token", "profile", "region")


def to_record(session: IssuedSession) -> dict[str, Any]:
    """The session as plain JSON fields, secret key and token included: only for the two
    places that must carry a session whole (the remembered sessions file, the push to Dask
    workers). ``from_record`` makes it again."""
    credentials = session.credentials
    return {
        "label": session.label,
        "kind": session.kind,
        "principal": session.principal,
        "access_key_id": session.access_key_id,
        "secret_access_key": credentials.secret_key,
        "session_token": credentials.token,
        "issued_at": session.issued_at.isoformat(),
        "expiration": session.expiration.isoformat(),
        "packed_policy_size": session.packed_policy_size,
        "profile": session.profile,
        "region": session.region,
    }


def from_record(record: Mapping[str, Any]) -> IssuedSession:
    """The session ``to_record`` wrote. A field of the wrong type is a ``ValueError`` naming
    the field (never its value: it may be a secret)."""
    if not isinstance(record, Mapping):
        raise ValueError("a session record must be an object")
    for name in _TEXT_FIELDS:
        if not isinstance(record.get(name), str) or not record[name]:
            raise ValueError(f"a session record's {name} must be non-empty text")
    for name in _OPTIONAL_TEXT_FIELDS:
        if record.get(name) is not None and not isinstance(record[name], str):
            raise ValueError(f"a session record's {name} must be text or null")
    size = record.get("packed_policy_size")
    if size is not None and (type(size) is not int or not 0 <= size <= 100):
        raise ValueError("a session record's packed_policy_size must be 0-100 or null")
    if record["kind"] not in KINDS:
        raise ValueError(f"a session record's kind must be one of {', '.join(KINDS)}")
    moments: dict[str, datetime] = {}
    for name in ("issued_at", "expiration"):
        value = record.get(name)
        moment = None
        with contextlib.suppress(ValueError, OverflowError):
            moment = utc(datetime.fromisoformat(value)) if isinstance(value, str) else None
        if moment is None:  # raised here, not in the handler: no context to keep
            raise ValueError(f"a session record's {name} must be an ISO 8601 time")
        moments[name] = moment
    return IssuedSession(
        label=record["label"],
        kind=record["kind"],
        principal=record.get("principal"),
        access_key_id=record["access_key_id"],
        issued_at=moments["issued_at"],
        expiration=moments["expiration"],
        packed_policy_size=size,
        profile=record.get("profile"),
        region=record.get("region"),
        credentials=SecretCredentials(
            record["access_key_id"], record["secret_access_key"], record.get("session_token")
        ),
    )


# After the dataclass is made: the class attributes of the same names were the InitVars' defaults.
IssuedSession.credentials = property(_credentials)
IssuedSession.recipe = property(_recipe)  # type: ignore[assignment]


Make = Callable[..., IssuedSession]


class Recipe:
    """How a session was made, so it can be made again; holds no secret.

    ``make(label=, TokenCode=, signed_by=)`` issues a new session with the same parameters
    (``TokenCode`` only for ``mfa``; ``signed_by`` only when ``signer`` names the session that
    signed the first one: ``%sts_role --chain``). ``auto_renew`` is False for a session issued
    with ``--no-renew``.
    """

    __slots__ = ("_make", "auto_renew", "operation", "renewal", "serial_number", "signer")

    def __init__(
        self,
        operation: str,
        make: Make,
        *,
        renewal: str = "auto",
        serial_number: str | None = None,
        signer: str | None = None,
        auto_renew: bool = True,
    ) -> None:
        if renewal not in RENEWALS:
            raise ValueError(f"renewal must be one of {', '.join(RENEWALS)}, not {renewal!r}")
        self.operation = operation
        self.renewal = renewal
        self.serial_number = serial_number
        self.signer = signer
        self.auto_renew = auto_renew
        self._make = make

    def issue(
        self,
        *,
        label: str | None,
        TokenCode: str | None = None,
        signed_by: IssuedSession | None = None,
    ) -> IssuedSession:
        """A new session made as this one was, labelled ``label``, carrying this recipe."""
        kwargs: dict[str, Any] = {"label": label}
        if self.renewal == "mfa":
            kwargs["TokenCode"] = TokenCode
        if self.signer is not None:
            kwargs["signed_by"] = signed_by
        return self._make(**kwargs).with_recipe(self)

    def without_renewal(self) -> Recipe:
        """The same recipe with automatic renewal off (``--no-renew``)."""
        return Recipe(
            self.operation,
            self._make,
            renewal=self.renewal,
            serial_number=self.serial_number,
            signer=self.signer,
            auto_renew=False,
        )

    def __reduce_ex__(self, protocol: object) -> Any:
        raise TypeError("a Recipe holds a Broker and is not pickled")

    def __repr__(self) -> str:
        off = ", auto_renew=False" if not self.auto_renew else ""
        return f"Recipe(operation={self.operation!r}, renewal={self.renewal!r}{off})"
