"""``stsmagic demo``: the whole product offline, in one command.

A local sandbox, a throwaway AWS config for a ``demo`` profile (source keys, an MFA device, an
SSO session with a cached token, the sandbox as endpoint), and JupyterLab on a working copy of
the example notebooks with that environment (the originals stay untouched).
Files holding a secret are created 0600. Ctrl-C or SIGTERM stops JupyterLab and the sandbox
and removes every file the demo wrote.

``python -m stsmagic.demo sandbox DIR`` is the same minus JupyterLab, for ``binder/start``: it
writes the config and an ``env.sh`` into DIR, then serves until its parent process ends.
``python -m stsmagic.demo execute [NOTEBOOK ...]`` re-runs the example notebooks in place, so
they are committed with real outputs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import signal
import site
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .private_file import write_private
from .sso.cache import write_token

if TYPE_CHECKING:
    from .sandbox import Sandbox

DEMO_PROFILE = "demo"
# Role profiles over the demo's keys, as a user's ~/.aws/config would have them.
ROLE_PROFILES = ("demo-role", "demo-mfa-role", "demo-partner")
SSO_SESSION = "stsmagic-demo"
# The sandbox's SSO tokens last 8 hours, like IAM Identity Center's default session.
SSO_TOKEN_SECONDS = 8 * 3600
JUPYTER_STOP_SECONDS = 15.0
DEFAULT_PORT = 8888


def write_demo_config(directory: Path, box: Sandbox, *, home: Path | None = None) -> dict[str, str]:
    """Write a ``demo`` profile (and role profiles over it: ``ROLE_PROFILES``) for ``box`` into
    ``directory``; return the environment to use it.

    ``directory`` gets ``config`` and ``credentials``, as ``~/.aws`` would hold them. The SSO
    token goes where the AWS CLI caches it, ``<home>/.aws/sso/cache`` (``home`` defaults to
    ``directory / "home"``, which the returned environment makes ``HOME``; pass the real home
    to leave ``HOME`` alone, as binder does).
    """

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys = box.source_credentials
    credentials = directory / "credentials"
    config = directory / "config"
    write_private(
        credentials,
        f"[{DEMO_PROFILE}]\n"
        f"aws_access_key_id = {keys.access_key}\n"
        f"aws_secret_access_key = {keys.secret_key}\n",
    )
    config.write_text(
        f"[profile {DEMO_PROFILE}]\n"
        f"region = {box.sso_region}\n"
        f"mfa_serial = {box.mfa_serial}\n"
        f"endpoint_url = {box.endpoint_url}\n"
        f"sso_session = {SSO_SESSION}\n"
        "\n"
        "[profile demo-role]\n"
        f"region = {box.sso_region}\n"
        f"role_arn = {box.role_arn('plain')}\n"
        f"source_profile = {DEMO_PROFILE}\n"
        "role_session_name = demo\n"
        "\n"
        "[profile demo-mfa-role]\n"
        f"region = {box.sso_region}\n"
        f"role_arn = {box.role_arn('mfa')}\n"
        f"source_profile = {DEMO_PROFILE}\n"
        f"mfa_serial = {box.mfa_serial}\n"
        "duration_seconds = 7200\n"
        "\n"
        "[profile demo-partner]\n"
        f"region = {box.sso_region}\n"
        f"role_arn = {box.role_arn('external-id')}\n"
        f"source_profile = {DEMO_PROFILE}\n"
        f"external_id = {box.external_id}\n"
        "\n"
        f"[sso-session {SSO_SESSION}]\n"
        f"sso_start_url = {box.sso_start_url}\n"
        f"sso_region = {box.sso_region}\n"
        "sso_registration_scopes = sso:account:access\n"
    )
    env = {
        "AWS_ENDPOINT_URL": box.endpoint_url,
        "STSMAGIC_SIGNIN_URL": box.signin_url,  # %sts_console signs in at the sandbox
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_PROFILE": DEMO_PROFILE,
    }
    if home is None:
        home = directory / "home"
        env["HOME"] = str(home)
        _quiet_jupyterlab(home)
    home.mkdir(parents=True, exist_ok=True)
    expires_at = datetime.now(timezone.utc) + timedelta(seconds=SSO_TOKEN_SECONDS)
    write_token(
        session_name=SSO_SESSION,
        start_url=box.sso_start_url,
        region=box.sso_region,
        access_token=box.sso_access_token(expires_in=SSO_TOKEN_SECONDS),
        expires_at=expires_at,
        cache_dir=home / ".aws" / "sso" / "cache",
    )
    return env


def _quiet_jupyterlab(home: Path) -> None:
    """No news or update pop-up over the notebooks in a fresh JupyterLab home."""
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}\n'
    )


def bundled_notebooks() -> Path | None:
    """The example notebooks: ``stsmagic/notebooks`` in an installed wheel (the build maps them
    into the package), the repository's top-level ``notebooks/`` in a checkout or an editable
    install, whose package is the checkout's own ``stsmagic/``."""
    package = Path(__file__).resolve().parent
    for folder in (package / "notebooks", package.parent / "notebooks"):
        if folder.is_dir():
            return folder
    return None


def working_copy(source: Path, folder: Path) -> Path:
    """A copy of the example notebooks in the demo's temporary ``folder``: what JupyterLab
    serves, so File > New, autosave and checkpoints never touch the originals."""
    copy = folder / "notebooks"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return copy


class PortTaken(Exception):
    """The port asked for is in use; the message is the one line to print."""


def _bindable(port: int) -> bool:

    with socket.socket() as probe:
        # As tornado binds: a port in TIME_WAIT is free, one with a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port(requested: int | None) -> int:
    """JupyterLab's port: ``requested`` if free (else PortTaken), or 8888 if free, or any."""

    if requested is not None:
        if not _bindable(requested):
            raise PortTaken(
                f"stsmagic demo: port {requested} on 127.0.0.1 is in use; pass another --port, "
                "or none to pick a free one"
            )
        return requested
    if _bindable(DEFAULT_PORT):
        return DEFAULT_PORT
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def demo_environment(
    sandbox_port: int = 0, *, directory: Path | None = None, home: Path | None = None
) -> Iterator[tuple[Sandbox, Path, dict[str, str]]]:
    """A running sandbox and its demo config in a temp dir; both gone on exit."""
    from .sandbox import Sandbox  # sandbox: moto and its server, only when a demo starts one

    owned = directory is None
    folder = Path(tempfile.mkdtemp(prefix="stsmagic-demo-")) if directory is None else directory
    try:
        with Sandbox(port=sandbox_port) as box:
            env = write_demo_config(folder, box, home=home)
            yield box, folder, env
    finally:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)


class _Stop:
    """Turns SIGINT and SIGTERM into an event, restoring the old handlers afterwards."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> threading.Event:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self.event

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        self.event.set()


def mfa_hint(endpoint_url: str) -> str:
    """The line the status bar's sign-in dialog shows in the demo: where its MFA codes are."""
    return (
        "In this demo the sandbox is your authenticator: its current code is at "
        f"{endpoint_url}/_sandbox/mfa-code, or run "
        "stsmagic.sandbox.connect().mfa_code() in a notebook."
    )


def _jupyter_command(
    port: int, root: Path, token: str, open_browser: bool, hint: str | None = None
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.open_browser=" + str(open_browser),
        # The stsmagic server extension (installed with stsmagic, so enabled) signs in for the
        # demo profile; its dialog says where the codes come from.
        *([f"--StsMagicServer.mfa_hint={hint}"] if hint else []),
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses to start as root without it
    return command


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # JupyterLab shuts its kernels down on SIGTERM
        try:
            process.wait(JUPYTER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_demo(
    port: int | None = None,
    sandbox_port: int = 0,
    notebooks: str | None = None,
    open_browser: bool = True,
) -> int:
    """``stsmagic demo``: sandbox + demo config + JupyterLab until Ctrl-C; 0 on a clean stop.

    ``notebooks`` (a folder of the user's) is served as it is; the bundled examples are served
    from a working copy in the demo's temporary folder. ``port`` None: 8888, or a free port
    when 8888 is taken.
    """

    source = Path(notebooks).resolve() if notebooks else bundled_notebooks()
    if source is None or not source.is_dir():
        where = notebooks or "the stsmagic package"
        print(
            f"stsmagic demo: no notebooks folder in {where}; pass --notebooks FOLDER",
            file=sys.stderr,
        )
        return 2
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        print("stsmagic demo needs JupyterLab: pip install 'stsmagic[demo]'", file=sys.stderr)
        return 2
    try:
        port = choose_port(port)
    except PortTaken as taken:
        print(taken, file=sys.stderr)
        return 2

    token = secrets.token_hex(24)
    with _Stop() as stop, demo_environment(sandbox_port) as (box, folder, env):
        root = source if notebooks else working_copy(source, folder)
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        child_env.update(env)
        child_env["STSMAGIC_DEMO_DIR"] = str(folder)
        # HOME is the temp dir (for the SSO cache and a fresh JupyterLab state); packages
        # installed with `pip install --user` must still import.
        child_env.setdefault("PYTHONUSERBASE", site.getuserbase())
        # Its own session: the terminal's Ctrl-C reaches the demo only, which then stops
        # JupyterLab cleanly (JupyterLab would otherwise ask "Shutdown this server?").
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            _jupyter_command(port, root, token, open_browser, mfa_hint(box.endpoint_url)),
            env=child_env,
            cwd=root,
            start_new_session=True,
        )
        print(f"stsmagic demo: sandbox at {box.endpoint_url}, AWS config in {folder}", flush=True)
        if root != source:
            print(
                f"stsmagic demo: serving a working copy of {source} (removed on exit)", flush=True
            )
        print(f"stsmagic demo: JupyterLab at http://127.0.0.1:{port}/lab?token={token}", flush=True)
        print(
            f"stsmagic demo: MFA codes of the demo's device at {box.endpoint_url}/_sandbox/mfa-code"
            " (the AWS item in JupyterLab's status bar signs the server in with one)",
            flush=True,
        )
        print("stsmagic demo: press Ctrl-C to stop everything", flush=True)
        try:
            while process.poll() is None and not stop.wait(0.2):
                pass
        finally:
            _stop_process(process)
        code = 0 if stop.is_set() else (process.returncode or 1)
        if not stop.is_set():
            print(f"stsmagic demo: JupyterLab exited with code {process.returncode}", flush=True)
    print("stsmagic demo: stopped; sandbox and temporary files removed", flush=True)
    return code


def _parent_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve_sandbox(directory: Path, parent_pid: int, sandbox_port: int = 0) -> int:
    """For ``binder/start``: sandbox + config in ``directory`` + ``env.sh``; stop with the parent.

    The SSO token goes into the real ``~/.aws/sso/cache``, where the AWS CLI and stsmagic look.
    ``env.sh`` is written last, so its existence means the sandbox is ready.
    """
    environment = demo_environment(sandbox_port, directory=directory, home=Path.home())
    with _Stop() as stop, environment as (_box, folder, env):
        lines = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
        ready = folder / "env.sh"
        partial = folder / "env.sh.partial"
        partial.write_text("\n".join(lines) + "\n")
        partial.rename(ready)
        while not stop.wait(0.5) and _parent_alive(parent_pid):
            pass
    shutil.rmtree(directory, ignore_errors=True)
    return 0


def execute_notebooks(paths: list[Path]) -> int:
    """Run each notebook top to bottom in a fresh kernel against a fresh sandbox, in place.

    How the committed notebooks get their outputs. Cells tagged ``raises-exception`` may fail;
    any other failure stops with a non-zero code.
    """
    import nbformat  # nbformat: optional, only when the notebook is written

    with demo_environment() as (_box, _folder, env):
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        child_env.update(env)
        for path in paths:
            result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
                [
                    sys.executable,
                    "-m",
                    "jupyter",
                    "nbconvert",
                    "--to",
                    "notebook",
                    "--execute",
                    "--inplace",
                    "--ExecutePreprocessor.timeout=120",
                    str(path),
                ],
                env=child_env,
                cwd=path.parent,
                check=False,
            )
            if result.returncode != 0:
                return result.returncode
            notebook = nbformat.read(path, as_version=4)
            for cell in notebook.cells:
                cell.metadata.pop("execution", None)  # timings: churn in every diff
            nbformat.write(notebook, path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stsmagic.demo")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("sandbox", help="sandbox + demo config for binder/start")
    serve.add_argument("directory", type=Path)
    serve.add_argument("--parent-pid", type=int, default=os.getppid())
    serve.add_argument("--port", type=int, default=0)
    execute = commands.add_parser(
        "execute", help="re-run notebooks in place against a fresh sandbox (their saved outputs)"
    )
    execute.add_argument("notebooks", type=Path, nargs="*")
    args = parser.parse_args(argv)
    if args.command == "execute":
        found = bundled_notebooks()
        paths = args.notebooks or (sorted(found.glob("*.ipynb")) if found else [])
        return execute_notebooks([p.resolve() for p in paths])
    return serve_sandbox(args.directory, args.parent_pid, args.port)


if __name__ == "__main__":
    sys.exit(main())
