"""The server's desk: its own ledger, the requests the REST API makes, and serving.

Everything here is plain Python (no tornado): ``handlers.py`` parses a request, calls one
method and turns a ``Refused`` into a 400 with its one line. The ledger, the Broker, the
profiles' rules, SSO's device login, renewal ahead of time and the credentials endpoint are
the ones a kernel uses; the desk is one more place that wires them, for the server process.

What is refused is refused before anything is sent, in one line naming the field, and leaves
the ledger exactly as it was. An MFA code is used once and never kept, logged or echoed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError

from .. import limits, renewal, source
from ..errors import StsMagicError, bare
from ..keep import keep
from ..ledger import SessionLedger
from ..magics.args import explain
from ..outlets import renew_ahead, serve, wiring
from ..source import source_session
from . import rows
from .config import StsMagicServer
from .refused import Refused

if TYPE_CHECKING:
    from ..broker.broker import Broker
    from ..session import IssuedSession
    from .control import ControlServer

log = logging.getLogger(__name__)

# What a profile needs before it can sign: then the server serves from its start (serve=auto).
NEEDS_A_SESSION = ("mfa_serial", "sso_session", "sso_start_url", "role_arn")
# The fields each kind of sign-in takes, beside kind, label and activate.
FIELDS: dict[str, frozenset[str]] = {
    "session": frozenset({"token_code", "serial_number", "duration_seconds", "profile"}),
    "profile": frozenset({"profile", "token_code", "duration_seconds"}),
    "role": frozenset(
        {
            "role_arn",
            "role_session_name",
            "serial_number",
            "token_code",
            "external_id",
            "policy",
            "duration_seconds",
            "profile",
        }
    ),
    "federation": frozenset({"name", "policy", "duration_seconds", "profile"}),
}
COMMON = frozenset({"kind", "label", "activate"})
WHERE_TO_SIGN_IN = (
    "no session is active in the Jupyter server; sign in with the AWS item in JupyterLab's "
    "status bar, %sts_session in a notebook, or POST /stsmagic/api/sessions"
)


def _field(body: Mapping[str, Any], name: str, kind: type = str) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise Refused(f"{name}: must be {'a whole number' if kind is int else 'text'}")
    return value


class ServerDesk:
    """The server's sessions: ``state()`` for GET, ``sign_in(body)`` for POST, ``use``,
    ``forget``, ``renew``, and SSO's ``sso_start``/``sso_status``. ``start()`` wires the
    ledger (renewal ahead of time; serving as ``config.serve`` says), ``stop()`` undoes it."""

    def __init__(self, config: StsMagicServer, ledger: SessionLedger | None = None) -> None:
        self.config = config
        self.ledger = ledger if ledger is not None else SessionLedger()
        self._brokers: dict[str | None, Broker] = {}
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        self._sso: _SsoAttempt | None = None
        # Kernels long-poll ``changes``: a counter bumped on every ledger event.
        self.generation = 0
        self._changed = threading.Condition()
        self._unfollow: Callable[[], None] | None = None
        self.control: ControlServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def profile(self) -> str | None:
        return self.config.profile or os.environ.get("AWS_PROFILE") or None

    def start(self) -> None:
        """This process follows the server's ledger (its record, ``outlets.wiring``): its
        ``auto`` sessions renewed ahead of time, and served from now on if the profile needs
        a session (``serve = auto``) or always."""
        wiring.wire(self.ledger)
        renew_ahead.follow(self.ledger)
        self._unfollow = self.ledger.subscribe(self._bump)
        policy = self.config.serve
        if policy == "always" or (policy == "auto" and self.needs_a_session()):
            self.start_serving()
        elif policy == "auto":
            # a profile whose own keys sign: children keep them until the first sign-in
            self._unsubscribe = self.ledger.subscribe(self._serve_at_first_sign_in)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._unfollow is not None:
            self._unfollow()
            self._unfollow = None
        if self.control is not None:
            self.control.stop()
            self.control = None
        serve.stop_serving()
        for variable, _ in source.FILE_VARIABLES.values():
            os.environ.pop(source.INHERITED + variable, None)
        renew_ahead.stop()
        wiring.unwire()

    @property
    def serving(self) -> bool:
        return serve.serving() is not None

    def needs_a_session(self) -> bool:
        """Whether the profile signs only through a session (MFA, SSO, a role)."""

        try:
            scoped = source_session(self.profile).get_scoped_config()
        except Exception:  # a missing profile: the first sign-in says which
            return False
        return any(scoped.get(name) for name in NEEDS_A_SESSION)

    def start_serving(self) -> serve.CredentialServer:
        """Serve the active session, and open the control endpoint kernels join through
        (both named in ``os.environ`` before the next kernel starts)."""
        served = serve.serve_credentials(
            self.ledger, profile=self.profile, no_session=WHERE_TO_SIGN_IN
        )
        # Where the user's own config files are, for kernels that load stsmagic: they keep
        # issuing with the profile's keys, and sign with them while the server has no session.
        for name, (variable, _) in source.FILE_VARIABLES.items():
            os.environ[source.INHERITED + variable] = source.source_file(name)
        if self.control is None:
            # control: tornado's server, only when the desk starts it
            from .control import ControlServer

            control = ControlServer(self)
            control.start()
            self.control = control
        return served

    # -- changes, for kernels that follow -------------------------------------------------------

    def _bump(self, event: str, session: Any) -> None:
        with self._changed:
            self.generation += 1
            self._changed.notify_all()

    def changes(self, since: int, timeout: float) -> int:
        """The generation, as soon as it is past ``since`` or after ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self.generation != since, timeout)
            return self.generation

    def _serve_at_first_sign_in(self, event: str, session: Any) -> None:
        if event == "activated" and serve.serving() is None:
            try:
                self.start_serving()
            except StsMagicError as e:
                log.warning("stsmagic: the server could not serve its session: %s", e)

    # -- reading -------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        active = self.ledger.active
        broker = self._broker_or_none()
        return {
            "active": None if active is None else active.label,
            "serving": self.serving,
            "profile": self.profile,
            "mfa_serial": broker.mfa_serial if broker is not None else None,
            "profiles": self.profiles(),
            "hint": self.config.mfa_hint,
            "sessions": rows.rows(self.ledger),
        }

    def profiles(self) -> list[str]:

        try:
            return sorted(source_session().full_config.get("profiles", {}))
        except Exception:  # a config file that does not parse: no list
            return []

    # -- issuing -------------------------------------------------------------------------------

    def broker(self, profile: str | None = None) -> Broker:
        profile = profile or self.profile
        with self._lock:
            broker = self._brokers.get(profile)
            if broker is None:
                from ..broker.broker import Broker  # broker: only when the desk issues

                broker = Broker(
                    profile=profile,
                    region_name=self.config.region,
                    endpoint_url=self.config.endpoint_url,
                    config=Config(read_timeout=self.config.read_timeout, connect_timeout=10),
                    allow_http=self.config.allow_http,
                )
                self._brokers[profile] = broker
        return broker

    def _broker_or_none(self) -> Broker | None:
        try:
            return self.broker()
        except StsMagicError:
            return None

    def sign_in(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Issue a session as ``body`` says and keep it (active unless ``activate`` is false);
        its row. Raises ``Refused`` with one line, the ledger unchanged."""
        if not isinstance(body, Mapping):
            raise Refused("the body must be a JSON object")
        kind = body.get("kind")
        if kind not in FIELDS:
            raise Refused(f"kind: must be one of {', '.join(sorted(FIELDS))}")
        unknown = sorted(set(body) - FIELDS[kind] - COMMON)
        if unknown:
            raise Refused(f"{unknown[0]}: not a field of a {kind} sign-in")
        label = _field(body, "label")
        activate = body.get("activate", True)
        if not isinstance(activate, bool):
            raise Refused("activate: must be true or false")
        code = _field(body, "token_code")
        with _refusals(code):
            if label is not None:
                limits.label(label, "label")
            issue = self._issuer(kind, body, code)
            with self.ledger.reserve(label):
                session = issue(label)
                kept = keep(session, self.ledger, activate=activate)
        return rows.row(kept, self.ledger)

    def _issuer(
        self, kind: str, body: Mapping[str, Any], code: str | None
    ) -> Callable[[str | None], IssuedSession]:
        duration = _field(body, "duration_seconds", int)
        if kind == "profile":
            return self._profile_issuer(body, code, duration)
        broker = self.broker(_field(body, "profile"))
        if kind == "session":
            serial = _field(body, "serial_number") or broker.mfa_serial
            if serial and not code:
                raise Refused(f"token_code: the 6-digit code of the MFA device {serial} is needed")
            if code and not serial:
                raise Refused("token_code: the profile names no mfa_serial (give serial_number)")
            duration = duration or self.config.duration_seconds
            return functools.partial(
                _labelled,
                broker.get_session_token,
                SerialNumber=serial,
                TokenCode=code,
                DurationSeconds=duration,
            )
        if kind == "role":
            role_arn = _field(body, "role_arn")
            if not role_arn:
                raise Refused("role_arn: required for a role sign-in")
            return functools.partial(
                _labelled,
                broker.assume_role,
                RoleArn=role_arn,
                RoleSessionName=_field(body, "role_session_name"),
                SerialNumber=_field(body, "serial_number"),
                TokenCode=code,
                ExternalId=_field(body, "external_id"),
                Policy=body.get("policy"),
                DurationSeconds=duration,
            )
        name = _field(body, "name")
        if not name:
            raise Refused("name: required for a federation sign-in")
        return functools.partial(
            _labelled,
            broker.get_federation_token,
            Name=name,
            Policy=body.get("policy"),
            DurationSeconds=duration or self.config.duration_seconds,
        )

    def _profile_issuer(
        self, body: Mapping[str, Any], code: str | None, duration: int | None
    ) -> Callable[[str | None], IssuedSession]:
        from ..broker import profiles  # profiles: only when the desk reads them

        name = _field(body, "profile")
        if not name:
            raise Refused("profile: required for a profile sign-in")
        plan = profiles.resolve(name)
        if duration is not None:
            profiles.check_duration(plan, duration)
        if plan.serial_number and not code:
            raise Refused(
                f"token_code: profile {name!r} needs the code of its MFA device "
                f"{plan.serial_number}"
            )
        if code and not plan.serial_number:
            raise Refused(f"token_code: profile {name!r} names no mfa_serial")

        def issue(label: str | None) -> IssuedSession:
            return profiles.issue(
                plan, self.broker, TokenCode=code, DurationSeconds=duration, label=label or name
            )

        return issue

    # -- switching -----------------------------------------------------------------------------

    def switch(self, body: Any) -> dict[str, Any]:
        """``PUT /active``: ``{"label": LABEL}`` or ``{"label": null}``; the state."""
        if not isinstance(body, Mapping) or "label" not in body:
            raise Refused("label: required (a label, or null for none)")
        return self.use(body["label"])

    def use(self, label: Any) -> dict[str, Any]:
        """Make ``label`` active (None: back to the server's own source); the state."""
        if label is None:
            self.ledger.deactivate()
        else:
            if not isinstance(label, str):
                raise Refused("label: must be text or null")
            with _refusals(None):
                session = self._known(label)
                if session.expired:
                    raise Refused(f"label: {label!r} has expired; renew it or sign in again")
                self.ledger.activate(label)
        return self.state()

    def forget(self, label: str) -> None:
        self._known(label)
        self.ledger.forget(label)

    def renew(self, label: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Make ``label``'s session again (an ``mfa`` one with ``token_code``); its row."""

        code = _field(body, "token_code") if isinstance(body, Mapping) else None
        session = self._known(label)
        if session.renewal == "mfa" and not code:
            raise Refused(f"token_code: {label} is an MFA session; its renewal needs a new code")
        with _refusals(code):
            renewed = renewal.renew(self.ledger, label, TokenCode=code)
        return rows.row(renewed, self.ledger)

    def _known(self, label: str) -> IssuedSession:
        session = self.ledger.find(label)
        if session is None:
            raise Refused(f"no session labelled {limits.printable(label)!r}", status=404)
        return session

    # -- SSO -----------------------------------------------------------------------------------

    def sso_start(self, body: Mapping[str, Any], wait: float = 30.0) -> dict[str, Any]:
        """Start IAM Identity Center's device login for ``profile`` (default the server's);
        the link and the user code once the endpoint gave them. When the user approves, the
        profile's role session is issued and made active (if the profile names one)."""
        profile = _field(body, "profile") if isinstance(body, Mapping) else None
        profile = profile or self.profile
        with self._lock:
            if self._sso is not None and self._sso.status == "pending":
                raise Refused("an SSO login is already waiting for approval", status=409)
            attempt = self._sso = _SsoAttempt(self, profile)
        attempt.start()
        if not attempt.shown.wait(wait):
            raise Refused("the SSO endpoint gave no device code in time", status=504)
        if attempt.authorization is None:
            raise Refused(attempt.message or "the SSO login failed")
        authorization = attempt.authorization
        return {
            "verification_uri_complete": authorization.verification_uri_complete,
            "user_code": authorization.user_code,
            "expires_in": authorization.expires_in,
        }

    def sso_status(self) -> dict[str, Any]:
        attempt = self._sso
        if attempt is None:
            return {"status": "none"}
        answer: dict[str, Any] = {"status": attempt.status}
        if attempt.message:
            answer["message"] = attempt.message
        if attempt.label:
            answer["label"] = attempt.label
        return answer


def _labelled(issue: Callable[..., IssuedSession], label: str | None, **request: Any) -> Any:
    return issue(label=label, **request)


@contextlib.contextmanager
def _refusals(secret: str | None) -> Iterator[None]:
    """stsmagic's and botocore's errors as ``Refused``: one line, never quoting ``secret``."""
    try:
        yield
    except (StsMagicError, BotoCoreError) as e:
        line = explain(e)
        if secret and secret in line:
            line = line.replace(secret, "…")
        bare(e)  # its frames held the request and the code
        raise Refused(line) from None


class _SsoAttempt:
    """One device login in a daemon thread: ``status`` pending, done, expired or failed."""

    def __init__(self, desk: ServerDesk, profile: str | None) -> None:
        self._desk = desk
        self.profile = profile
        self.status = "pending"
        self.message: str | None = None
        self.label: str | None = None
        self.authorization: Any = None
        self.shown = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="stsmagic-sso-login", daemon=True).start()

    def _show(self, authorization: Any) -> None:
        self.authorization = authorization
        self.shown.set()

    def _run(self) -> None:
        from ..sso.login import LoginNotApproved, sso_login  # sso/: only for a login

        config = self._desk.config
        try:
            sso_login(
                self.profile,
                endpoint_url=config.endpoint_url,
                allow_http=config.allow_http,
                show=self._show,
            )
            self.label = self._issue_role()
            self.status = "done"
        except LoginNotApproved as e:
            self.status, self.message = "expired", explain(e)
        except (StsMagicError, BotoCoreError) as e:
            self.status, self.message = "failed", explain(e)
        except Exception as e:
            self.status, self.message = "failed", f"the SSO login failed ({type(e).__name__})"
        finally:
            self.shown.set()

    def _issue_role(self) -> str | None:
        """The profile's role session (sso_account_id and sso_role_name), made active."""
        from ..broker import profiles  # profiles: only when the desk reads them

        if self.profile is None:
            return None
        plan = profiles.resolve(self.profile)
        if plan.kind != "sso":
            return None
        session = profiles.issue(plan, self._desk.broker, label=self.profile)
        desk_ledger = self._desk.ledger
        if desk_ledger.find(self.profile) is not None:
            desk_ledger.forget(self.profile)
        return str(keep(session, desk_ledger).label)
