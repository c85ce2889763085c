"""Serving: every process the kernel starts signs with the active session, and keeps up with it.

``serve_credentials()`` runs the kernel's container-credentials endpoint (``endpoint.py``) and
points the environment children inherit at it:

- ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` (``http://127.0.0.1:<port>/stsmagic/credentials``),
  ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` (a 0600 file in a 0700 folder) and
  ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` (for SDKs that read only that); a user's
  ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI``, which the SDKs prefer, is set aside;
- no ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` (they come before the
  endpoint in every SDK's chain), and ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE`` at
  private copies in which the profile children sign for keeps its settings and loses its keys
  (``child_files.py``); every other profile is as it was.

Everything changed is recorded with ``stsmagic.source.set_aside`` first, so the kernel
itself keeps reading the user's environment and files (the Broker, ``%sts_profile``, renewal,
the live credentials' source chains). ``CredentialServer.stop()`` (``%sts_serve --off``),
``live.uninstall`` (``%unload_ext``) and the kernel's exit put every variable back exactly and
delete the copies and the token file. Serving and the ``--env`` export exclude each other:
serving turns the export off; the export refuses to start while serving.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shlex
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from .. import source
from ..errors import StsMagicError
from ..ledger import SessionLedger, sessions
from ..private_file import write_private
from . import child_files, environ, renew_ahead, wiring
from .endpoint import PATH, Endpoint, EndpointServer

log = logging.getLogger(__name__)

OWNER = "serve"  # what this outlet sets aside in stsmagic.source

FULL_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
RELATIVE_URI = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
TOKEN_FILE = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
CONFIG_FILE = "AWS_CONFIG_FILE"
CREDENTIALS_FILE = "AWS_SHARED_CREDENTIALS_FILE"
# Every variable serving sets or removes, in the order it reports them.
NAMES = (FULL_URI, TOKEN_FILE, TOKEN, RELATIVE_URI, *KEYS, CONFIG_FILE, CREDENTIALS_FILE)

__all__ = [
    "CredentialServer",
    "ServeError",
    "describe_serving",
    "serve_credentials",
    "serving",
    "stop_serving",
    "switch_serving",
]


class ServeError(StsMagicError):
    """Serving could not start, or is refused; one line, nothing left changed."""


class _Token:
    """The authorization token; its repr is masked (a traceback under ``%xmode Verbose`` shows
    the frames' variables)."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value = secrets.token_urlsafe(32)  # 32 random bytes

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<token hidden>"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: object) -> Any:
        raise TypeError("the serving token is not pickled")


class ChildEnviron(dict[str, str]):
    """The variables a child needs, as a dict (``subprocess.run(..., env={**os.environ,
    **server.environ()})``); its repr hides the token."""

    def __repr__(self) -> str:
        shown = {name: ("<hidden>" if name == TOKEN else value) for name, value in self.items()}
        return f"ChildEnviron({shown!r})"

    __str__ = __repr__

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        printer.text(repr(self))  # type: ignore[attr-defined]


class CredentialServer:
    """The kernel's container-credentials endpoint while it serves (``serve_credentials()``).

    ``url`` is what ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` holds, ``token_file`` the file with
    the authorization token, ``environ()`` the variables a child needs, ``stop()`` ends serving
    and puts everything back. ``profiles`` are the profiles whose keys children do not see.
    """

    def __init__(
        self,
        ledger: SessionLedger,
        *,
        port: int,
        profiles: tuple[str, ...],
        folder: Path,
        copies: dict[Path, str],
        config_file: Path,
        credentials_file: Path,
    ) -> None:
        self._ledger = ledger
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._folder = folder
        self._copies = copies  # path -> text, to write them again if they are deleted
        self._token = _Token()
        self.profiles = profiles
        self.token_file = folder / "token"
        self.config_file = config_file
        self.credentials_file = credentials_file
        self._http = EndpointServer(None, port, self._repair_quietly)
        self.port = self._http.server_port
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self._endpoint = Endpoint(ledger, self._token.reveal(), self.port, expired=_wake_timer)
        self._http.endpoint = self._endpoint
        self._saved: dict[str, str | None] | None = None
        self.export_turned_off = False
        self._running = False

    # --- what it is -----------------------------------------------------------------------------

    @property
    def ledger(self) -> SessionLedger:
        """The ledger whose active session the endpoint answers with."""
        return self._ledger

    @property
    def running(self) -> bool:
        """Whether it still serves (False once ``stop()`` has run)."""
        return self._running

    @property
    def set_aside(self) -> tuple[str, ...]:
        """The credential variables of the user's that children do not see while serving (keys,
        a container endpoint of the kernel's own), by name; the kernel still reads them."""
        saved = self._saved or {}
        files = (CONFIG_FILE, CREDENTIALS_FILE)  # pointed at copies, not taken away
        return tuple(n for n in NAMES if saved.get(n) is not None and n not in files)

    def environ(self) -> ChildEnviron:
        """The variables a child needs to sign with the kernel's active session."""
        return ChildEnviron(
            {
                FULL_URI: self.url,
                TOKEN_FILE: str(self.token_file),
                TOKEN: self._token.reveal(),
                CONFIG_FILE: str(self.config_file),
                CREDENTIALS_FILE: str(self.credentials_file),
            }
        )

    def answers(self) -> dict[int, int]:
        """How many answers of each HTTP status the endpoint gave."""
        return self._endpoint.counts()

    def __enter__(self) -> CredentialServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "serving" if self._running else "stopped"
        return f"<CredentialServer {self.url} ({state})>"

    # --- life -----------------------------------------------------------------------------------

    def _start(self) -> None:
        """Write the token file, start answering, then point the environment here."""
        write_private(self.token_file, self._token.reveal())  # no trailing newline
        self._http.start()
        if environ.exporting():
            environ.export_environ(False)  # restores what the export had replaced
            self.export_turned_off = True
        values: dict[str, str | None] = dict.fromkeys(NAMES)
        values.update(self.environ())
        saved = {name: os.environ.get(name) for name in NAMES}
        source.set_aside(OWNER, saved)  # before any change: the kernel keeps the originals
        self._saved = saved
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._running = True

    def stop(self) -> None:
        """Stop answering, put every variable back as it was, delete the copies and the token
        file. Idempotent; a forked child's copy of the server does nothing."""
        with self._lock:
            if not self._running or os.getpid() != self._pid:
                return
            self._running = False
            self._http.stop()
            saved, self._saved = self._saved or {}, None
            source.put_back(OWNER, saved)
            shutil.rmtree(self._folder, ignore_errors=True)
        _forget(self)

    def _abandon(self) -> None:
        """Undo a start that failed half-way (nothing of the environment was changed)."""
        self._http.stop()
        shutil.rmtree(self._folder, ignore_errors=True)

    def repair(self) -> list[str]:
        """Write the token file and the copies again where they were deleted; one line each
        (also logged)."""
        notes = []
        if self._running and not self.token_file.exists():
            write_private(self.token_file, self._token.reveal())
            notes.append(f"the token file was deleted; written again at {self.token_file}")
        for path, text in self._copies.items():
            if self._running and not path.exists():
                write_private(path, text)
                notes.append(f"the children's copy {path} was deleted; written again")
        for note in notes:
            log.warning("stsmagic: serving: %s", note)
        return notes

    def _repair_quietly(self) -> None:
        if self._running:
            self.repair()


_lock = threading.RLock()


def serve_credentials(
    ledger: SessionLedger | None = None, *, profile: str | None = None, port: int = 0
) -> CredentialServer:
    """Serve the active session to every process started from now on; returns the server.

    Idempotent: while serving, returns the running server (writing its token file again if
    it was deleted). ``ledger`` defaults to the one this process follows (the kernel's
    ``stsmagic.sessions``); a process that follows none (a Jupyter server serving a ledger of
    its own) gets a record (``wiring``) for ``ledger``, which holds the server and the
    renewal-ahead timer. ``profile`` is the profile the kernel signs for
    (``StsMagics.profile``; default ``AWS_PROFILE`` or ``default``): it and the profile
    children pick by default lose their keys in the children's copies of the config files.
    ``port`` 0 takes a free port.

    Raises ``ServeError`` (one line, nothing changed) when a config file cannot be read or the
    port is taken.
    """
    with _lock:
        current = serving()
        if current is not None:
            current.repair()
            return current
        if ledger is None:
            ledger = wiring.following() or sessions
        server = _prepare(ledger, profile, port)
        try:
            server._start()
        except BaseException:
            server._abandon()
            raise
        wiring.record_for(ledger).server = server
    renew_ahead.follow(ledger)  # children follow renewals that no request in the kernel makes
    return server


def switch_serving(
    on: bool, ledger: SessionLedger | None = None, *, profile: str | None = None, port: int = 0
) -> str:
    """``%sts_serve`` and ``StsMagics.serve``: serve (idempotent) or stop; what to print."""
    if not on:
        if stop_serving():
            return (
                "Stopped serving: the environment and the config files are as they were; "
                "child processes started meanwhile get no more sessions"
            )
        return "Not serving"
    already = serving() is not None
    said = describe_serving(serve_credentials(ledger, profile=profile, port=port))
    return f"Already serving. {said}" if already else said


def _prepare(ledger: SessionLedger, profile: str | None, port: int) -> CredentialServer:
    if not 0 <= port <= 65535:
        raise ServeError(f"port: {port} is not a port; give 1 to 65535, or 0 for a free one")
    children = source.source_session().profile or "default"  # AWS_PROFILE as the user set it
    profiles = tuple(dict.fromkeys([profile or children, children]))
    folder = Path(tempfile.mkdtemp(prefix="stsmagic-serve-"))  # 0700
    try:
        try:
            config_copy, credentials_copy = child_files.write_copies(
                source.source_file("config_file"),
                source.source_file("credentials_file"),
                profiles,
                folder,
            )
        except child_files.ConfigUnreadable as e:
            raise ServeError(f"{e}; not serving (fix the file, then %sts_serve)") from None
        copies = {p: p.read_text(encoding="utf-8") for p in (config_copy, credentials_copy)}
        try:
            return CredentialServer(
                ledger,
                port=port,
                profiles=profiles,
                folder=folder,
                copies=copies,
                config_file=config_copy,
                credentials_file=credentials_copy,
            )
        except OSError as e:
            why = e.strerror or type(e).__name__
            raise ServeError(
                f"port: 127.0.0.1:{port} cannot be used ({why}); give another, or 0 for a free one"
            ) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def serving() -> CredentialServer | None:
    """The running server of this process, or None."""
    record = wiring.current()
    return record.serving() if record is not None else None


def stop_serving() -> bool:
    """Stop serving if it runs (``%sts_serve --off``); True when it did."""
    record = wiring.current()
    current = record.server if record is not None else None
    if current is None:
        return False
    was = current.running
    current.stop()
    return was


def _forget(server: CredentialServer) -> None:
    with _lock:
        record = wiring.current()
        if record is not None and record.server is server:
            record.server = None


def _wake_timer() -> None:
    timer = renew_ahead.timer()
    if timer is not None:
        timer.wake()


# Registered once, when serving is first loaded: at exit, whatever serves stops. A forked child
# exiting leaves its parent's serving alone (its record holds no server; a server stops only
# in the process that started it).
atexit.register(stop_serving)


# --- what %sts_serve prints -----------------------------------------------------------------


def describe_serving(server: CredentialServer) -> str:
    """What ``%sts_serve`` prints: one line saying what is served, a line for what was set
    aside or turned off (if anything), and the ``export`` lines for a terminal. Never the
    token: the terminal reads the token file."""
    if not server.running:
        return f"Not serving (stopped: {server.url} no longer answers)"
    active = server.ledger.active
    what = (
        f"{active.label!r} ({active.kind} {active.masked_access_key})"
        if active is not None
        else "no session yet (children get 404 NoActiveSession until one is active)"
    )
    profiles = " and ".join(repr(p) for p in server.profiles)
    lines = [
        f"Serving {what} at {server.url} to every process started from here; "
        f"profile {profiles} has no keys for them (stop: %sts_serve --off)"
    ]
    notes = []
    if server.set_aside:
        notes.append(f"set aside until --off: {', '.join(server.set_aside)}")
    if server.export_turned_off:
        notes.append("the --env export is off while serving (its variables restored)")
    if notes:
        note = "; ".join(notes)
        lines.append(note[0].upper() + note[1:])
    lines.append("In a terminal:")
    terminal = {
        FULL_URI: server.url,
        TOKEN_FILE: str(server.token_file),
        CONFIG_FILE: str(server.config_file),
        CREDENTIALS_FILE: str(server.credentials_file),
    }
    lines.extend(f"  export {name}={shlex.quote(value)}" for name, value in terminal.items())
    return "\n".join(lines)
