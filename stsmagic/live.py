"""The ledger's active session, live in boto3's default session.

One ``LiveCredentials`` object goes first in the default session's credential chain. botocore's
signer calls ``get_frozen_credentials()`` for every request, so every client made from the
default session signs each request with whatever session is active at that moment, or with
the source chain's credentials when none is.

A credentials object the default session had already resolved before installation (held by
clients made earlier, e.g. in plain Python before the first activation) is adopted: its
``get_frozen_credentials`` answers from the live credentials too, until ``uninstall``.

boto3 is imported when ``install`` runs, never when this module is imported. ``watch`` (what
``%load_ext`` calls) installs into the default session if boto3 has one, and otherwise into
the one boto3 makes on first use: making it at load time would cost every ``%load_ext`` ~6 ms.
While installed, ``boto3.setup_default_session`` is wrapped so that a default session the user
makes anew gets the live credentials at once.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    Credentials,
    EnvProvider,
    ReadOnlyCredentials,
)
from botocore.exceptions import NoCredentialsError

from .errors import SessionExpired

if TYPE_CHECKING:
    from .ledger import SessionLedger
    from .session import IssuedSession

METHOD = "stsmagic"

ENV_NAMES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
)

_lock = threading.RLock()


class _NoLedger:
    """Stands in for the ledger once uninstalled: nothing is ever active."""

    _active = None


_DETACHED: Any = _NoLedger()


class LiveCredentials(Credentials):
    """botocore credentials that are, at every call, the ledger's active session.

    ``source`` returns the source chain's frozen credentials (or None when there are none).
    """

    def __init__(
        self,
        ledger: SessionLedger,
        source: Callable[[], ReadOnlyCredentials | None],
    ) -> None:
        # Credentials.__init__ would assign the key attributes, which are properties here.
        self.method = METHOD
        self._ledger: Any = ledger
        self._source = source

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        # Read the active session once: another thread may switch it while this one signs,
        # and the triple returned must be one session's.
        session: IssuedSession | None = self._ledger._active
        if session is None:
            frozen = self._source()
            if frozen is None:
                raise NoCredentialsError()
            return frozen
        if self._ledger._clock() >= session.expiration:
            raise SessionExpired(session.label or "(unlabelled)", session.kind, session.expiration)
        return session.credentials

    # botocore reads these directly in a few places; each is one frozen snapshot's part.
    @property
    def access_key(self) -> str:
        return self.get_frozen_credentials().access_key

    @property
    def secret_key(self) -> str:
        return self.get_frozen_credentials().secret_key

    @property
    def token(self) -> str | None:
        return self.get_frozen_credentials().token

    @property
    def account_id(self) -> str | None:
        try:
            return self.get_frozen_credentials().account_id
        except (NoCredentialsError, SessionExpired):
            return None

    def __repr__(self) -> str:
        active = self._ledger._active
        return f"<LiveCredentials active={active.label if active else None!r}>"


class LiveProvider(CredentialProvider):
    """The first provider in the chain: always answers with the live credentials."""

    METHOD = METHOD
    CANONICAL_NAME = "stsmagic"

    def __init__(self, credentials: LiveCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> LiveCredentials:
        return self._credentials


class _Source:
    """The source chain's credentials, resolved once, on first need.

    ``previous`` is the credentials object the default session had already resolved (clients
    made before installation hold it); otherwise the chain is walked without stsmagic and with
    the environment as it was before any ``export_environ``.
    """

    def __init__(self, resolver: CredentialResolver, previous: Credentials | None) -> None:
        self._resolver = resolver
        self._credentials = previous
        self._resolved = previous is not None
        self._lock = threading.Lock()

    def __call__(self) -> ReadOnlyCredentials | None:
        if not self._resolved:
            self._resolve()
        creds = self._credentials
        if creds is None:
            return None
        # The class's method, not the instance's: a previously resolved object is adopted
        # (its instance attribute points back at the live credentials).
        return type(creds).get_frozen_credentials(creds)

    def _resolve(self) -> None:
        with self._lock:
            if self._resolved:
                return
            providers = []
            for provider in self._resolver.providers:
                if isinstance(provider, LiveProvider):
                    continue
                if isinstance(provider, EnvProvider):
                    provider = EnvProvider(environ=SourceEnviron())
                providers.append(provider)
            self._credentials = CredentialResolver(providers).load_credentials()
            self._resolved = True


@dataclass
class _Installation:
    boto3_session: Any
    core: Any
    resolver: CredentialResolver
    provider: LiveProvider
    credentials: LiveCredentials
    previous: Credentials | None


_installation: _Installation | None = None
# While watching: the ledger for the default sessions boto3 makes, and the function we wrapped.
_watched_ledger: SessionLedger | None = None
_original_setup: Callable[..., None] | None = None


def _the_ledger(ledger: SessionLedger | None) -> SessionLedger:
    if ledger is not None:
        return ledger
    from .ledger import sessions

    return sessions


def watch(ledger: SessionLedger | None = None) -> None:
    """Install now if boto3 has a default session, else when boto3 makes one (its first
    ``boto3.client``/``resource``). Either way every client made from it is live."""
    global _watched_ledger
    import boto3

    ledger = _the_ledger(ledger)
    with _lock:
        _watched_ledger = ledger
        _wrap_setup(boto3)
        if boto3.DEFAULT_SESSION is not None:
            install(ledger)


def _wrap_setup(boto3: Any) -> None:
    """Make ``boto3.setup_default_session`` install into each session it makes (under _lock)."""
    global _original_setup
    if _original_setup is not None:
        return
    original = boto3.setup_default_session

    @functools.wraps(original)
    def setup_default_session(**kwargs: Any) -> None:
        original(**kwargs)
        ledger = _watched_ledger
        if ledger is not None:
            install(ledger)

    _original_setup = original
    boto3.setup_default_session = setup_default_session


def _unwrap_setup() -> None:
    global _original_setup, _watched_ledger
    _watched_ledger = None
    if _original_setup is not None:
        boto3: Any = sys.modules["boto3"]
        boto3.setup_default_session = _original_setup
        _original_setup = None


def install(ledger: SessionLedger | None = None) -> LiveCredentials:
    """Put the live credentials first in boto3's default session (made if missing).

    Idempotent per default session; a new default session (``boto3.setup_default_session``)
    gets them on the next call.
    """
    global _installation, _watched_ledger
    ledger = _the_ledger(ledger)
    current = _installation
    if current is not None and ledger is current.credentials._ledger:
        # Every activation calls this: answer without a lock when nothing changed.
        boto3_module = sys.modules.get("boto3")
        if boto3_module is not None and boto3_module.DEFAULT_SESSION is current.boto3_session:
            return current.credentials
    import boto3

    from .redact import redact_wire_logs

    redact_wire_logs()  # every signed request's canonical request carries the session token
    with _lock:
        _watched_ledger = ledger
        _wrap_setup(boto3)
        default = boto3.DEFAULT_SESSION
        if default is None:
            assert _original_setup is not None
            _original_setup()  # not the wrapper: this call installs below
            default = boto3.DEFAULT_SESSION
        current = _installation
        if current is not None:
            if current.boto3_session is default:
                if current.credentials._ledger is not ledger:
                    current.credentials._ledger = ledger
                    _exporter.follow(ledger)
                return current.credentials
            _uninstall_locked()
        core = default._session
        resolver = core.get_component("credential_provider")
        previous = core._credentials
        credentials = LiveCredentials(ledger, _Source(resolver, previous))
        provider = LiveProvider(credentials)
        if "env" in [p.METHOD for p in resolver.providers]:
            resolver.insert_before("env", provider)
        else:
            resolver.providers.insert(0, provider)
        if previous is not None:
            # Clients made before now hold `previous`; they switch too.
            previous.get_frozen_credentials = credentials.get_frozen_credentials
        # The next client made resolves through the chain, so gets the live credentials.
        core._credentials = None
        _installation = _Installation(default, core, resolver, provider, credentials, previous)
        _exporter.follow(ledger)
        return credentials


def uninstall() -> None:
    """Restore the default session as it was before ``install``; stop exporting."""
    with _lock:
        _uninstall_locked()
        _unwrap_setup()
        _exporter.disable()


def _uninstall_locked() -> None:
    global _installation
    current = _installation
    if current is None:
        return
    _installation = None
    if current.provider in current.resolver.providers:
        current.resolver.providers.remove(current.provider)
    if current.previous is not None:
        current.previous.__dict__.pop("get_frozen_credentials", None)
    current.core._credentials = current.previous
    # Clients that hold the live credentials fall back to the source chain.
    current.credentials._ledger = _DETACHED


def installed() -> bool:
    """True when boto3's default session is live: the live credentials are in it, or boto3 has
    none yet and will get them in the one it makes (``watch``)."""
    current = _installation
    boto3 = sys.modules.get("boto3")
    if boto3 is None:
        return False
    if boto3.DEFAULT_SESSION is None:
        return _original_setup is not None
    return current is not None and current.boto3_session is boto3.DEFAULT_SESSION


def credentials() -> LiveCredentials | None:
    """The installed live credentials, or None."""
    current = _installation
    return current.credentials if current else None


# --- exporting to os.environ (for `!aws ...`, subprocesses and s3fs) ---------------------------


class _EnvironExport:
    """Mirrors a ledger's active session into ``os.environ`` while enabled."""

    def __init__(self) -> None:
        self.enabled = False
        self._ledger: SessionLedger | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._saved: dict[str, str | None] | None = None  # the values before ours
        self._written: dict[str, str] = {}

    def enable(self, ledger: SessionLedger) -> None:
        with _lock:
            self.enabled = True
            self.follow(ledger)

    def disable(self) -> None:
        with _lock:
            self.enabled = False
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            self._ledger = None
            self._restore()

    def follow(self, ledger: SessionLedger) -> None:
        with _lock:
            if not self.enabled or ledger is self._ledger:
                if self.enabled:
                    self._sync()
                return
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._ledger = ledger
            self._unsubscribe = ledger.subscribe(self._on_event)
            self._sync()

    def _on_event(self, event: str, session: IssuedSession | None) -> None:
        with _lock:
            self._sync()

    def _sync(self) -> None:
        session = self._ledger.active if self._ledger is not None else None
        if session is None:
            self._restore()
            return
        if self._saved is None:
            self._saved = {name: os.environ.get(name) for name in ENV_NAMES}
        creds = session.credentials
        values = {
            "AWS_ACCESS_KEY_ID": creds.access_key,
            "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_SESSION_TOKEN": creds.token or "",
            "AWS_CREDENTIAL_EXPIRATION": session.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for name, value in values.items():
            if value:
                os.environ[name] = value
            else:
                os.environ.pop(name, None)
        self._written = values

    def _restore(self) -> None:
        saved, self._saved = self._saved, None
        self._written = {}
        if saved is None:
            return
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def source_environ(self) -> dict[str, str]:
        with _lock:
            environ = dict(os.environ)
            if self._saved is not None:
                for name, value in self._saved.items():
                    if value is None:
                        environ.pop(name, None)
                    else:
                        environ[name] = value
            return environ


_exporter = _EnvironExport()


def export_environ(enabled: bool, ledger: SessionLedger | None = None) -> None:
    """Mirror the active session into ``os.environ`` (or stop, restoring what was there)."""
    if not enabled:
        _exporter.disable()
        return
    if ledger is None:
        current = _installation
        if current is not None:
            ledger = current.credentials._ledger
        else:
            from .ledger import sessions

            ledger = sessions
    _exporter.enable(ledger)


def exporting() -> bool:
    return _exporter.enabled


def source_environ() -> Mapping[str, str]:
    """``os.environ`` as it would be without stsmagic's exports: where source keys live."""
    return _exporter.source_environ()


class SourceEnviron(Mapping[str, str]):
    """``os.environ``, read live, but with stsmagic's exported keys replaced by what was there.

    For botocore's ``EnvProvider`` in the source chains (the broker's and the live one's).
    """

    def __getitem__(self, name: str) -> str:
        saved = _exporter._saved
        if saved is not None and name in saved:
            value = saved[name]
            if value is None:
                raise KeyError(name)
            return value
        return os.environ[name]

    def __iter__(self) -> Iterator[str]:
        return iter(source_environ())

    def __len__(self) -> int:
        return len(source_environ())
