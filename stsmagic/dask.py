"""Dask workers that follow the kernel's active session.

``client.register_plugin(CredentialsPlugin())`` (or ``%sts_dask``) gives every worker of the
cluster, present and joining later, one ledger of its own that ``stsmagic.outlets.live``
watches; the kernel pushes its active session into it on every ledger change, so every
botocore/boto3 session the worker makes signs with the kernel's active session (or with the
worker's own credentials when none is active). Unregistering the plugin
(``client.unregister_worker_plugin(CredentialsPlugin.name)``) restores the worker's own.

How a session travels: never as an ``IssuedSession`` (its pickle would carry the secret under
any name); as a ``_Payload`` of the fields needed to rebuild it, whose repr shows no secret.
Each change is stored on the scheduler (``Client.set_metadata``, serialized: the scheduler
keeps opaque frames, and Dask's DEBUG message log shows none of it); then every present worker
is told to fetch it (``Client.run`` of a function with no argument), before the ledger call
that made the change returns. The plugin's ``setup`` fetches it too, for workers that join
later. The plugin object itself holds nothing of the kernel's when it is pickled to register.

This is the only module that imports ``distributed``.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from distributed import Client, WorkerPlugin
from distributed import default_client as _default_client
from distributed.protocol import to_serialize

from .errors import StsMagicError
from .ledger import SessionLedger, sessions
from .session import IssuedSession, from_record, mask_access_key, to_record

if TYPE_CHECKING:
    from .ledger import SessionLedger

log = logging.getLogger(__name__)

NAME = "stsmagic-credentials"
METADATA_KEY = ["stsmagic", NAME]
"""Where the scheduler keeps the latest push, for workers that join later."""


class _Payload:
    """The active session as it crosses Dask's comms: plain fields, a masked repr.

    ``fields`` None means "no session active: the worker's own credentials". ``sequence``
    orders pushes (a worker keeps the newest it saw).
    """

    __slots__ = ("fields", "sequence")

    def __init__(self, sequence: int, fields: Mapping[str, Any] | None) -> None:
        self.sequence = sequence
        self.fields = dict(fields) if fields is not None else None

    @classmethod
    def of(cls, session: IssuedSession | None, sequence: int) -> _Payload:
        if session is None:
            return cls(sequence, None)
        return cls(sequence, to_record(session))

    def session(self) -> IssuedSession | None:
        """The IssuedSession again (the worker's side)."""
        return None if self.fields is None else from_record(self.fields)

    def __getstate__(self) -> tuple[int, dict[str, Any] | None]:
        return (self.sequence, self.fields)

    def __setstate__(self, state: tuple[int, dict[str, Any] | None]) -> None:
        self.sequence, self.fields = state

    def __repr__(self) -> str:
        if self.fields is None:
            return f"<stsmagic session payload #{self.sequence}: none active>"
        key = mask_access_key(self.fields["access_key_id"])
        return f"<stsmagic session payload #{self.sequence}: {self.fields['label']!r} {key}>"

    __str__ = __repr__


# --- the kernel's side ----------------------------------------------------------------------


# Dask's comms that carry messages unencrypted: TCP, WebSockets without TLS, and UCX (which
# has no TLS of its own). tls:// and wss:// are encrypted; inproc:// never leaves the process.
PLAINTEXT_SCHEMES = {"tcp": "plain TCP", "ws": "plain WebSocket (ws://)", "ucx": "UCX"}


def plaintext_warning(address: str) -> str | None:
    """One line when ``address`` is a scheduler on an unencrypted comm (``tcp://``,
    ``ws://``, ``ucx://``) that is not on loopback."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    comm = PLAINTEXT_SCHEMES.get(parts.scheme.lower())
    if comm is None:
        return None
    host = parts.hostname or ""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: not known to be loopback
    return (
        f"the Dask scheduler {address} is {comm}, not on this machine: session secrets "
        "cross the network unencrypted; use TLS (a tls:// or wss:// scheduler, distributed's "
        "security=)"
    )


def scheduler_address(client: Client) -> str:
    """The address the client talks to its scheduler at (``tcp://host:port``)."""
    scheduler: Any = client.scheduler
    return str(scheduler.address) if scheduler is not None else "(not connected)"


def _now_sequence() -> int:
    # Nanoseconds: newer pushes (from any plugin object in this kernel) compare larger.
    return time.time_ns()


class _Pusher:
    """Subscribed to the kernel's ledger; sends its active session to one client's workers."""

    def __init__(self, ledger: SessionLedger, client: Client | None) -> None:
        self.ledger = ledger
        self._client_ref: Callable[[], Client | None] | None = (
            weakref.ref(client) if client is not None else None
        )
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        self.registered = False  # set once the plugin was pickled for registration
        self._pushed: Any = _NOTHING  # the session pushed last (an event may change nothing)
        self.last_push_seconds: float | None = None

    def client(self) -> Client | None:
        if self._client_ref is not None:
            return self._client_ref()
        try:
            return _default_client()
        except ValueError:
            return None

    def start(self) -> None:
        with self._lock:
            if self._unsubscribe is None:
                self._unsubscribe = self.ledger.subscribe(self._on_event)

    def stop(self) -> None:
        """Stop following the ledger (this plugin object sends nothing more)."""
        with self._lock:
            self._stop_locked()

    def _on_event(self, event: str, session: IssuedSession | None) -> None:
        # Any event (renewals too): what matters is what is active now.
        self.push(only_if_changed=True)

    def push(self, *, only_if_changed: bool = False) -> None:
        """Store the active session on the scheduler and set it on every present worker."""
        with self._lock:
            active = self.ledger.active
            if only_if_changed and active is self._pushed:
                return
            client = self.client()
            if client is None or client.status in ("closing", "closed"):
                if self._client_ref is not None:
                    self._stop_locked()  # that client is gone for good
                return
            payload = _Payload.of(active, _now_sequence())
            start = time.perf_counter()
            try:
                # Serialized: the scheduler keeps it as opaque frames (it needs no stsmagic) and
                # Dask's DEBUG log of the message shows no field of it.
                client.set_metadata(METADATA_KEY, to_serialize(payload))
                if not self.registered:
                    return
                # Each worker fetches it from the scheduler: nothing secret in run's arguments
                # (which Dask pickles to bytes and logs at DEBUG).
                results = client.run(_refresh, on_error="return")
            except Exception as error:  # a ledger subscriber never raises
                log.warning("stsmagic could not reach the Dask workers: %s", type(error).__name__)
                return
            self.last_push_seconds = time.perf_counter() - start
            self._pushed = active
            if results and not any(r is True for r in results.values()):
                # No worker has the plugin any more: it was unregistered. Stop sending.
                self._stop_locked()
                client.set_metadata(METADATA_KEY, None)

    def _stop_locked(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        _pushers.pop(id(self), None)


_NOTHING = object()

_pushers: dict[int, _Pusher] = {}
"""Every running pusher in this kernel (one per registered plugin object)."""


async def _refresh(dask_worker: Any = None) -> bool:
    """Run on each worker by ``Client.run``: True when the plugin is there (and refreshed)."""
    plugin = dask_worker.plugins.get(NAME) if dask_worker is not None else None
    if not isinstance(plugin, CredentialsPlugin):
        return False
    await plugin.pull(dask_worker)
    return True


class CredentialsPlugin(WorkerPlugin):
    """Every worker signs with the kernel's active session: ``client.register_plugin(
    CredentialsPlugin())``.

    ``ledger`` is the kernel's ledger to follow (default ``stsmagic.sessions``); ``client`` the
    client whose workers to update (default: ``distributed.default_client()`` at each change).
    Nothing of the kernel's is pickled with the plugin: the session goes separately, and is
    stored on the scheduler for workers that join later.
    """

    name = NAME
    idempotent = False

    def __init__(self, ledger: SessionLedger | None = None, client: Client | None = None) -> None:
        if ledger is None:
            ledger = sessions
        self._pusher: _Pusher | None = _Pusher(ledger, client)
        self._worker_ledger: SessionLedger | None = None
        self._sequence = -1
        self._worker_lock = threading.Lock()
        resolved = self._pusher.client()
        if resolved is not None:
            warning = plaintext_warning(scheduler_address(resolved))
            if warning is not None:
                warnings.warn(warning, UserWarning, stacklevel=2)
            # Workers read this in setup, which runs before register_plugin returns.
            self._pusher.push()
        self._pusher.start()

    # --- pickling: nothing of the kernel's travels ----------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        pusher = self.__dict__.get("_pusher")
        if pusher is not None and not pusher.registered:
            # Pickled in the kernel: that is registration. Present workers are updated from
            # the next change on; the state they start with is on the scheduler already.
            pusher.registered = True
            _pushers[id(pusher)] = pusher
        return {"side": "worker"}  # not empty: an empty state would skip __setstate__

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._pusher = None
        self._worker_ledger = None
        self._sequence = -1
        self._worker_lock = threading.Lock()

    def __repr__(self) -> str:
        where = "kernel" if self._pusher is not None else "worker"
        return f"<CredentialsPlugin {NAME!r} ({where})>"

    # --- the worker's side ----------------------------------------------------------------------

    async def setup(self, worker: Any) -> None:
        """On a worker: follow the kernel's active session, starting with the one the scheduler
        holds. Distributed calls it; in the kernel's own process (``processes=False``) it does
        nothing, since that process follows the kernel's ledger already.
        """
        from .outlets import live  # outlets/: boto3, only on a worker

        if live.installed():
            # A worker thread in a process that already follows a ledger: the kernel's own
            # (LocalCluster(processes=False)). Its boto3 is the kernel's; leave it be.
            return
        self._worker_ledger = SessionLedger()
        live.watch(self._worker_ledger)
        await self.pull(worker)

    async def pull(self, worker: Any) -> None:
        """Take the kernel's latest push from the scheduler."""
        if self._worker_ledger is None:
            return
        stored = await worker.scheduler.get_metadata(keys=METADATA_KEY, default=None)
        if isinstance(stored, _Payload):
            self.receive(stored)

    def teardown(self, worker: Any) -> None:
        """On a worker: give it its own credentials back and forget the sessions it was sent.
        Distributed calls it when the plugin is removed or the worker closes.
        """
        from .outlets import live  # outlets/: boto3, only on a worker

        with self._worker_lock:
            ledger, self._worker_ledger = self._worker_ledger, None
        if ledger is not None:  # None: the kernel's process (see setup), not ours to undo
            live.uninstall()
            ledger.forget_all()

    def receive(self, payload: _Payload) -> None:
        """Make the pushed session the worker's active one (None: the worker's own keys)."""
        with self._worker_lock:
            ledger = self._worker_ledger
            if ledger is None or payload.sequence <= self._sequence:
                return
            self._sequence = payload.sequence
            session = payload.session()
            if session is None:
                ledger.forget_all()
                return
            active = ledger.active
            if active is not None and active == session:
                return
            if session.label is not None and session.label in ledger.labels:
                ledger.forget(session.label)  # renewed under the same label
            kept = ledger.add(session, activate=True)
            for other in ledger.labels:
                if other != kept.label:
                    ledger.forget(other)


# --- %sts_dask ------------------------------------------------------------------------------


def find_client(value: Any = None) -> Client:
    """``value`` when it is a Client, else ``distributed.default_client()``; one line if none."""
    if value is not None:
        if not isinstance(value, Client):
            raise StsMagicError(f"CLIENT: {type(value).__name__} is not a distributed.Client")
        return value
    try:
        return _default_client()
    except ValueError:
        raise StsMagicError(
            "no Dask client: make one (distributed.Client(...)) or name its variable: "
            "%sts_dask CLIENT"
        ) from None


def register(client: Client, ledger: SessionLedger | None = None) -> CredentialsPlugin:
    """Register a CredentialsPlugin on ``client`` (replacing one registered before)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the caller says it once, its own way
        plugin = CredentialsPlugin(ledger, client)
    for pusher in list(_pushers.values()):
        if pusher.client() is client and pusher is not plugin._pusher:
            pusher.stop()
            _pushers.pop(id(pusher), None)
    client.register_plugin(plugin)
    return plugin
