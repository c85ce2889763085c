"""A real Jupyter server process with the stsmagic extension, on 127.0.0.1, driven as a
front end drives it: its REST API with the token (or a cookie and the XSRF header), a kernel
over the kernel websocket, a terminal over the terminal websocket.

Everything it starts (the server, and through it every kernel and terminal) is stopped by
``stop()``: ``POST /api/shutdown``, then terminate, then kill.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOKEN = "stsmagic-test-token"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_aws_files(home: Path, box: Any, config: str = "") -> dict[str, str]:
    """The user's AWS files for the sandbox: long-term keys in credentials, the default
    profile with ``mfa_serial``, plus ``config``; the variables that point at them."""
    aws = home / "aws"
    aws.mkdir(parents=True, exist_ok=True)
    keys = box.source_credentials
    (aws / "credentials").write_text(
        f"[default]\naws_access_key_id = {keys.access_key}\n"
        f"aws_secret_access_key = {keys.secret_key}\n"
    )
    (aws / "config").write_text(
        f"[default]\nregion = us-east-1\nmfa_serial = {box.mfa_serial}\n"
        f"endpoint_url = {box.endpoint_url}\n{config}"
    )
    return {
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
    }


def end(process: subprocess.Popen[bytes], shutdown: Callable[[], object], wait: float) -> None:
    """Stop a server process: ``shutdown()`` (its own way: ``POST /api/shutdown`` stops its
    kernels too) and ``wait`` seconds for it, else terminate, then kill."""
    try:
        shutdown()
        process.wait(timeout=wait)
    except Exception:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_environ(home: Path, box: Any, config: str = "") -> dict[str, str]:
    """``write_aws_files``' variables, and the environment's own bin first on ``PATH`` (its
    ``aws`` and ``python``), as a user's activated environment has them."""
    return {
        **write_aws_files(home, box, config),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def forget_all(server: JupyterServer) -> None:
    """Forget every session of the server, through its REST API."""
    status, state = server.api("GET", "sessions")
    assert status == 200, state
    for row in state["sessions"]:
        assert server.api("DELETE", f"sessions/{row['label']}")[0] == 204


class JupyterServer:
    """``jupyter server`` with ``--ServerApp.jpserver_extensions={"stsmagic": true}`` and
    ``options``; its log at DEBUG in ``log``."""

    def __init__(
        self,
        home: Path,
        environ: dict[str, str],
        options: tuple[str, ...] = (),
        *,
        module: str = "jupyter_server",
    ) -> None:
        self.home = home
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = home / "server.log"
        for name in ("config", "runtime", "data", "root", "ipython"):
            (home / name).mkdir(parents=True, exist_ok=True)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JUPYTER"))},
            "HOME": str(home),
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "IPYTHONDIR": str(home / "ipython"),
            "AWS_EC2_METADATA_DISABLED": "true",
            **environ,
        }
        command = [
            sys.executable,
            "-m",
            module,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={home / 'root'}",
            '--ServerApp.jpserver_extensions={"stsmagic": True}',
            "--allow-root",
            "--log-level=DEBUG",
            *options,
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()

    # -- the process --------------------------------------------------------------------------

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log_text()[-4000:]}")
            try:
                if self.call("GET", "/api/status")[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server is not up in {timeout:.0f} s")
            time.sleep(0.2)

    def stop(self) -> None:
        end(self.process, lambda: self.call("POST", "/api/shutdown"), wait=15)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    # -- REST ---------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> tuple[int, Any]:
        """``method path`` with the JSON ``body``; (status, the JSON answer or None)."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"token {token}"
        data = None if body is None else json.dumps(body).encode()
        if data is None and method in ("POST", "PUT"):
            data = b""
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def api(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return self.call(method, f"/stsmagic/api/{path}", body, **kwargs)

    # -- kernels ------------------------------------------------------------------------------

    def start_kernel(self) -> str:
        status, answer = self.call("POST", "/api/kernels", {"name": "python3"})
        assert status == 201, answer
        return str(answer["id"])

    def restart_kernel(self, kernel_id: str) -> None:
        status, answer = self.call("POST", f"/api/kernels/{kernel_id}/restart")
        assert status == 200, answer

    def run(self, kernel_id: str, code: str, timeout: float = 90) -> str:
        """Run ``code`` in the kernel over its websocket; what it printed (stdout and
        stderr), or raises with the error it ended with."""
        import websocket

        url = f"ws://127.0.0.1:{self.port}/api/kernels/{kernel_id}/channels?token={TOKEN}"
        ws = websocket.create_connection(url, timeout=timeout)
        try:
            msg_id = uuid.uuid4().hex
            ws.send(
                json.dumps(
                    {
                        "channel": "shell",
                        "header": {
                            "msg_id": msg_id,
                            "msg_type": "execute_request",
                            "username": "test",
                            "session": uuid.uuid4().hex,
                            "version": "5.3",
                            "date": "",
                        },
                        "parent_header": {},
                        "metadata": {},
                        "content": {
                            "code": code,
                            "silent": False,
                            "store_history": False,
                            "user_expressions": {},
                            "allow_stdin": False,
                            "stop_on_error": True,
                        },
                        "buffers": [],
                    }
                )
            )
            out: list[str] = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                message = json.loads(ws.recv())
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = message["msg_type"], message["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "execute_result":
                    out.append(content["data"].get("text/plain", "") + "\n")
                elif kind == "error":
                    raise RuntimeError(f"{content['ename']}: {content['evalue']}\n{''.join(out)}")
                elif kind == "status" and content["execution_state"] == "idle":
                    return "".join(out)
            raise TimeoutError(f"the kernel did not finish in {timeout} s: {''.join(out)}")
        finally:
            ws.close()

    # -- terminals ----------------------------------------------------------------------------

    def terminal(self, command: str, until: str, timeout: float = 60) -> str:
        """Start a terminal, type ``command``, and read its screen until ``until`` (a regex)
        appears; the screen without colours. The terminal is deleted after."""
        import websocket

        status, answer = self.call("POST", "/api/terminals")
        assert status == 200, answer
        name = answer["name"]
        url = f"ws://127.0.0.1:{self.port}/terminals/websocket/{name}?token={TOKEN}"
        ws = websocket.create_connection(url, timeout=5)
        screen = ""
        try:
            ws.send(json.dumps(["stdin", command + "\r"]))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    message = json.loads(ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                if message[0] == "stdout":
                    screen += ANSI.sub("", message[1])
                    if re.search(until, screen.split(command, 1)[-1]):
                        return screen
            raise TimeoutError(f"no {until!r} in the terminal after {timeout} s:\n{screen}")
        finally:
            ws.close()
            self.call("DELETE", f"/api/terminals/{name}")
