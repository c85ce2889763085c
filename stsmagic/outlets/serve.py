"""Serving: every process the kernel starts signs with the active session, and keeps up with it.

``serve_credentials()`` runs the kernel's container-credentials endpoint (``endpoint.py``) and
points the environment children inherit at it:

- ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` (``http://127.0.0.1:<port>/stsmagic/credentials``) and
  ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` (a 0600 file in a 0700 folder, named
  ``stsmagic-serve-<pid>-...``); botocore (boto3, the AWS CLI) re-reads the file at every fetch
  and the AWS SDK for C++ (pyarrow) reads it too. The token itself is not in the environment,
  which a cell prints (``print(os.environ)``, ``!env``, ``%env``) into a saved notebook:
  ``token_in_env=True`` (``StsMagics.serve_token_in_env``) adds
  ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` for an SDK that reads only the variable. A user's
  ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI``, which the SDKs prefer, is set aside;
- no ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` (they come before the
  endpoint in every SDK's chain), and ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE`` at
  private copies in which the profile children sign for keeps its settings and loses its keys
  (``child_files.py``); every other profile is as it was.

Everything changed is recorded with ``stsmagic.source.set_aside`` first, so the kernel
itself keeps reading the user's environment and files (the Broker, ``%sts_profile``, renewal,
the live credentials' source chains). ``CredentialServer.stop()`` (``%sts_serve --off``),
``live.uninstall`` (``%unload_ext``) and the kernel's exit put every variable back exactly and
delete the copies and the token file; a connection accepted before gets no keys after. A
folder left by a serving process that was killed (``kill -9``: no exit handler ran) is removed
by the next start of serving on the machine, for this user: its pid no longer runs. Serving
and the ``--env`` export exclude each other: serving turns the export off; the export refuses
to start while serving.

While a process serves, a child it forks (a ``fork`` process pool) signs through the endpoint
(``fork_source()``), never with the source keys it inherited in memory.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import secrets
import shlex
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.credentials import ContainerMetadataFetcher
from botocore.exceptions import CredentialRetrievalError, MetadataRetrievalError

from .. import source
from ..errors import StsMagicError
from ..ledger import SessionLedger, sessions
from ..private_file import write_private
from . import child_files, environ, renew_ahead, wiring
from .endpoint import NO_SESSION, PATH, Endpoint, EndpointServer, Hidden

if TYPE_CHECKING:
    from botocore.credentials import ReadOnlyCredentials

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


FOLDER_PREFIX = "stsmagic-serve-"
_FOLDER = re.compile(rf"^{FOLDER_PREFIX}(\d+)-")

TOKEN_IN_ENV_WARNING = (
    "the serving token is in os.environ (AWS_CONTAINER_AUTHORIZATION_TOKEN): it is visible "
    "wherever os.environ is printed (print(os.environ), !env, %env, a saved notebook)"
)


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
    The token and the copies' text (other profiles' keys) are kept ``Hidden``: no ``vars()``
    walk or debugger view shows them.
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
        token_in_env: bool = False,
        no_session: str = NO_SESSION,
    ) -> None:
        self._ledger = ledger
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._folder = folder
        # path -> text, to write them again if they are deleted
        self._copies = {path: Hidden(text) for path, text in copies.items()}
        self._token = Hidden(secrets.token_urlsafe(32))  # 32 random bytes
        self.token_in_env = token_in_env
        self.profiles = profiles
        self.token_file = folder / "token"
        self.config_file = config_file
        self.credentials_file = credentials_file
        self._http = EndpointServer(None, port, self._repair_quietly)
        self.port = self._http.server_port
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self._endpoint = Endpoint(
            ledger, self._token.reveal(), self.port, expired=_wake_timer, no_session=no_session
        )
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
        """The variables a child needs to sign with the kernel's active session (the token
        itself only with ``token_in_env``: the SDKs read the token file)."""
        variables = {
            FULL_URI: self.url,
            TOKEN_FILE: str(self.token_file),
            CONFIG_FILE: str(self.config_file),
            CREDENTIALS_FILE: str(self.credentials_file),
        }
        if self.token_in_env:
            variables[TOKEN] = self._token.reveal()
        return ChildEnviron(variables)

    def put_token_in_env(self, on: bool) -> None:
        """Put the token itself in the environment too, or take it out again
        (``StsMagics.serve_token_in_env``); ``stop()`` puts back what the user had."""
        with self._lock:
            self.token_in_env = on
            if not self._running:
                return
            if on:
                os.environ[TOKEN] = self._token.reveal()
            else:
                os.environ.pop(TOKEN, None)

    def fork_source(self) -> ServedCredentials:
        """What a child forked from this process signs with: the endpoint (``wiring``'s
        at-fork handler asks, before it drops its copy of the server)."""
        return ServedCredentials(self.url, self._token, self.profiles)

    @property
    def open_connections(self) -> int:
        """Connections the endpoint holds open now (one thread each; at most 64)."""
        return self._http.open_connections

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
            self._endpoint.close()  # before the thread stops: no late answer carries keys
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
                write_private(path, text.reveal())
                notes.append(f"the children's copy {path} was deleted; written again")
        for note in notes:
            log.warning("stsmagic: serving: %s", note)
        return notes

    def _repair_quietly(self) -> None:
        if self._running:
            self.repair()


_lock = threading.RLock()


class ServedCredentials:
    """Credentials fetched from a serving process's endpoint, as a child forked from it signs
    for ``profiles`` (the ones the server serves): an answer is kept ``FRESH`` seconds (the
    signer asks at every request), so a switch, a renewal or a forget in the parent reaches
    the child within that. Raises botocore's ``CredentialRetrievalError`` (one line) when the
    endpoint gives no keys (404: no session active in the parent; it stopped serving)."""

    FRESH = 5.0  # seconds an answer is kept

    def __init__(self, url: str, token: Hidden[str], profiles: tuple[str, ...]) -> None:
        self.url = url
        self.profiles = profiles
        self._token = token
        self._lock = threading.Lock()
        self._held: tuple[float, ReadOnlyCredentials] | None = None

    def __call__(self) -> ReadOnlyCredentials:
        from ..session import SecretCredentials  # loaded with the first session

        with self._lock:
            held = self._held
            if held is not None and time.monotonic() - held[0] < self.FRESH:
                return held[1]
            headers = {"Authorization": self._token.reveal()}
            try:
                answer = ContainerMetadataFetcher().retrieve_full_uri(self.url, headers=headers)
            except MetadataRetrievalError as e:
                raise CredentialRetrievalError(
                    provider="stsmagic (the parent's endpoint)", error_msg=str(e)
                ) from None
            frozen = SecretCredentials(
                answer["AccessKeyId"], answer["SecretAccessKey"], answer.get("Token") or None
            )
            self._held = (time.monotonic(), frozen)
            return frozen

    def __repr__(self) -> str:
        return f"<ServedCredentials {self.url}>"


def serve_credentials(
    ledger: SessionLedger | None = None,
    *,
    profile: str | None = None,
    port: int = 0,
    token_in_env: bool = False,
    no_session: str = NO_SESSION,
) -> CredentialServer:
    """Serve the active session to every process started from now on; returns the server.

    Idempotent: while serving, returns the running server (writing its token file again if
    it was deleted). ``ledger`` defaults to the one this process follows (the kernel's
    ``stsmagic.sessions``); a process that follows none (a Jupyter server serving a ledger of
    its own) gets a record (``wiring``) for ``ledger``, which holds the server and the
    renewal-ahead timer. ``profile`` is the profile the kernel signs for
    (``StsMagics.profile``; default ``AWS_PROFILE`` or ``default``): it and the profile
    children pick by default lose their keys in the children's copies of the config files.
    ``port`` 0 takes a free port. ``token_in_env`` puts the token itself in the environment
    too (``AWS_CONTAINER_AUTHORIZATION_TOKEN``, for an SDK that reads only that; printed with
    ``os.environ``); ``no_session`` is the message children get while no session is active.
    Folders that serving processes which no longer run left behind (killed) are removed first.

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
        remove_abandoned()
        server = _prepare(ledger, profile, port, token_in_env=token_in_env, no_session=no_session)
        try:
            server._start()
        except BaseException:
            server._abandon()
            raise
        wiring.record_for(ledger).server = server
    renew_ahead.follow(ledger)  # children follow renewals that no request in the kernel makes
    return server


def switch_serving(
    on: bool,
    ledger: SessionLedger | None = None,
    *,
    profile: str | None = None,
    port: int = 0,
    token_in_env: bool = False,
) -> str:
    """``%sts_serve`` and ``StsMagics.serve``: serve (idempotent) or stop; what to print."""
    if not on:
        if stop_serving():
            return (
                "Stopped serving: the environment and the config files are as they were; "
                "child processes started meanwhile get no more sessions, and a terminal "
                "started while serving still points at the deleted copies of the config files "
                '("The config profile (...) could not be found"): open a new one'
            )
        return "Not serving"
    already = serving() is not None
    server = serve_credentials(ledger, profile=profile, port=port, token_in_env=token_in_env)
    said = describe_serving(server)
    return f"Already serving. {said}" if already else said


def _prepare(
    ledger: SessionLedger, profile: str | None, port: int, *, token_in_env: bool, no_session: str
) -> CredentialServer:
    if not 0 <= port <= 65535:
        raise ServeError(f"port: {port} is not a port; give 1 to 65535, or 0 for a free one")
    children = source.source_session().profile or "default"  # AWS_PROFILE as the user set it
    profiles = tuple(dict.fromkeys([profile or children, children]))
    # 0700; the pid in the name: a later start removes it if this process is killed
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
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
                token_in_env=token_in_env,
                no_session=no_session,
            )
        except OSError as e:
            why = e.strerror or type(e).__name__
            raise ServeError(
                f"port: 127.0.0.1:{port} cannot be used ({why}); give another, or 0 for a free one"
            ) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_abandoned(parent: str | None = None) -> list[Path]:
    """Remove the folders (token file, children's copies) that serving processes left in the
    temporary folder when they were killed: named ``stsmagic-serve-<pid>-...``, owned by this
    user, a real folder (not a link), and ``pid`` no longer runs. Returns what was removed.
    A pid reused by a new process keeps its folder until that one ends: never too much."""
    where = Path(parent or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(where))
    except OSError:
        return removed
    for entry in entries:
        found = _FOLDER.match(entry.name)
        if found is None:
            continue
        pid = int(found.group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
        log.info("stsmagic: serving: removed %s (process %d no longer runs)", entry.path, pid)
    return removed


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
