"""A kernel that loads stsmagic under a serving stsmagic Jupyter server joins it: its
sign-ins that need long-term keys sign the server in, its roles are signed by the server's
session, ``%sts_use``/``%sts_forget`` reach the server's labels, a switch in the server reaches
its clients at once, and the control endpoint it talks through refuses what the credentials
endpoint refuses and answers no secret. Against a real ``jupyter server`` and the sandbox.
"""

from __future__ import annotations

import json
import os
import re
import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.jupyter_server import JupyterServer
from tests.test_server import WHO, arn, federation, forget_all

pytestmark = pytest.mark.server

LOAD = "%load_ext stsmagic\n"
KEY = "import boto3; print(boto3.session.Session().get_credentials().access_key[-4:])"


def rows(server: JupyterServer) -> dict[str, dict[str, Any]]:
    return {r["label"]: r for r in server.api("GET", "sessions")[1]["sessions"]}


def last4(masked: str) -> str:
    return masked[-4:]


def test_sts_session_in_a_kernel_signs_in_the_whole_server(
    signed_out: JupyterServer, sandbox: Any
) -> None:
    kernel = signed_out.start_kernel()
    code = sandbox.mfa_code()
    line = f"s = %sts_session --server --token-code {code}\nprint(repr(s))"
    out = signed_out.run(kernel, LOAD + line)
    assert re.search(
        r"^Signed in the Jupyter server: session-1 \(session, ASIA…[A-Z0-9]{4}, expires .* UTC, "
        r"in .*\); every kernel and terminal of the server signs with it$",
        out,
        re.M,
    ), out
    row = rows(signed_out)["session-1"]
    assert row["status"] == "active" and row["kind"] == "session"
    # nothing in the kernel's own ledger, and what the magic returned holds no secret
    assert signed_out.run(kernel, "import stsmagic; print(len(stsmagic.sessions))").strip() == "0"
    assert "ServerSession(label='session-1'" in out and "Secret" not in out
    # another kernel, without %load_ext and without a code, signs with it
    other = signed_out.start_kernel()
    assert signed_out.run(other, KEY).strip() == last4(row["access_key"])


def test_a_role_in_a_kernel_is_signed_by_the_servers_mfa_session_and_stays_there(
    signed_out: JupyterServer, sandbox: Any
) -> None:
    status, session = signed_out.api(
        "POST", "sessions", {"kind": "session", "token_code": sandbox.mfa_code()}
    )
    assert status == 201, session
    kernel = signed_out.start_kernel()
    sandbox.reset_requests()
    out = signed_out.run(kernel, f"{LOAD}%sts_role --role-arn {sandbox.role_arn()}\n{KEY}")
    assume = [r for r in sandbox.requests if r.operation == "AssumeRole"]
    assert len(assume) == 1 and assume[0].status == 200
    assert last4(assume[0].access_key_id) == last4(session["access_key"])
    assert list(rows(signed_out)) == [session["label"]]  # the role stayed in the kernel
    kernel_key = out.strip().splitlines()[-1]
    assert kernel_key != last4(session["access_key"])  # the kernel signs with its role

    out = signed_out.run(kernel, f"%sts_role --server --role-arn {sandbox.role_arn()}")
    found = re.match(r"Signed in the Jupyter server: (role-\d+) \(role, ASIA…", out)
    assert found, out
    assert rows(signed_out)[found.group(1)]["status"] == "active"


def test_sts_federation_signs_in_the_server_and_refuses_what_only_a_kernel_takes(
    signed_out: JupyterServer,
) -> None:
    kernel = signed_out.start_kernel()
    out = signed_out.run(kernel, f"{LOAD}%sts_federation --server --name olga")
    found = re.match(r"Signed in the Jupyter server: (federation-\d+) \(federation", out)
    assert found, out
    assert rows(signed_out)[found.group(1)]["principal"] == arn("olga")
    # a UsageError: one line on stderr, nothing sent
    out = signed_out.run(kernel, "%sts_federation --server --name pat --env")
    assert "UsageError: %sts_federation: --env: the Jupyter server signs this session in" in out
    assert "leave out --server to sign in this kernel only" in out
    assert list(rows(signed_out)) == [found.group(1)]


def test_use_and_forget_act_on_the_servers_labels(signed_out: JupyterServer) -> None:
    alice = federation(signed_out, "alice")
    bob = federation(signed_out, "bob", activate=False)
    kernel = signed_out.start_kernel()
    out = signed_out.run(kernel, f"{LOAD}%sts_use {bob['label']}")
    assert out.strip() == f"Using {bob['label']} on the Jupyter server"
    assert signed_out.api("GET", "sessions")[1]["active"] == bob["label"]
    out = signed_out.run(kernel, f"%sts_forget {alice['label']}")
    assert out.strip() == f"Forgot {alice['label']} on the Jupyter server"
    assert list(rows(signed_out)) == [bob["label"]]
    out = signed_out.run(kernel, "%sts_federation --server --name carl --label mine")
    assert out.startswith("Signed in the Jupyter server: mine (federation"), out
    out = signed_out.run(kernel, "%sts_use nobody")
    assert out.startswith("UsageError: %sts_use: ") and "nobody" in out, out


def test_a_switch_in_the_server_reaches_an_existing_default_client_at_once(
    signed_out: JupyterServer,
) -> None:
    alice = federation(signed_out, "alice")
    kernel = signed_out.start_kernel()
    out = signed_out.run(
        kernel,
        f"{LOAD}import boto3, time\nsts = boto3.client('sts')\n"
        "print(sts.get_caller_identity()['Arn'])",
    )
    assert out.strip() == arn("alice")
    wait_for = (
        "def arn_within(end, seconds=5.0):\n"
        "    deadline = time.monotonic() + seconds\n"
        "    while True:\n"
        "        found = sts.get_caller_identity()['Arn']\n"
        "        if found.endswith(end) or time.monotonic() > deadline:\n"
        "            return found\n"
        "        time.sleep(0.1)\n"
    )
    signed_out.run(kernel, wait_for)
    federation(signed_out, "bob")  # activates bob in the server
    assert signed_out.run(kernel, "print(arn_within('/bob'))").strip() == arn("bob")
    assert signed_out.api("PUT", "active", {"label": alice["label"]})[0] == 200
    assert signed_out.run(kernel, "print(arn_within('/alice'))").strip() == arn("alice")


# -- the control endpoint ---------------------------------------------------------------------


def control(server: JupyterServer) -> tuple[str, str]:
    kernel = server.start_kernel()
    out = server.run(
        kernel,
        "import os; print(os.environ['STSMAGIC_SERVER_URL'], "
        "os.environ['STSMAGIC_SERVER_TOKEN_FILE'])",
    )
    url, token_file = out.split()
    return url, token_file


def ask(
    url: str, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_the_control_endpoint_refuses_a_wrong_token_a_foreign_host_and_a_page(
    signed_out: JupyterServer,
) -> None:
    url, token_file = control(signed_out)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(Path(token_file).parent).st_mode) == 0o700
    token = Path(token_file).read_text()
    port = url.rsplit(":", 1)[1].strip("/")
    body = {"kind": "federation", "name": "mallory"}
    for headers in (
        {},
        {"Authorization": "wrong"},
        {"Authorization": token, "Host": f"evil.example:{port}"},
        {"Authorization": token, "Origin": "http://evil.example"},
    ):
        status, answer = ask(url, "POST", "sessions", headers, body)
        assert status == 403, (headers.keys(), answer)
        assert ask(url, "GET", "sessions", headers)[0] == 403
    assert rows(signed_out) == {}
    status, answer = ask(url, "POST", "sessions", {"Authorization": token}, body)
    assert status == 201, answer
    assert json.loads(answer)["principal"] == arn("mallory")


def test_no_control_answer_holds_a_secret(signed_out: JupyterServer) -> None:
    url, token_file = control(signed_out)
    token = {"Authorization": Path(token_file).read_text()}
    answers = [ask(url, "POST", "sessions", token, {"kind": "federation", "name": "sue"})[1]]
    label = json.loads(answers[0])["label"]
    kernel = signed_out.start_kernel()
    secret = signed_out.run(
        kernel,
        "import boto3; c = boto3.session.Session().get_credentials().get_frozen_credentials()\n"
        "print(c.secret_key, c.token)",
    ).split()
    assert len(secret) == 2 and all(len(s) > 20 for s in secret)
    answers += [
        ask(url, "GET", "sessions", token)[1],
        ask(url, "GET", "changes?since=-1", token)[1],
    ]
    answers.append(ask(url, "POST", f"sessions/{label}/renew", token, {})[1])
    assert json.loads(answers[-1])["label"] == label
    for text in answers:
        for part in secret:
            assert part not in text
    assert json.loads(answers[2]) == {"generation": json.loads(answers[2])["generation"]}


def test_a_joined_kernel_keeps_its_own_sessions_and_its_profiles_keys_while_the_server_has_none(
    signed_out: JupyterServer, sandbox: Any
) -> None:
    """Installing stsmagic changes nothing silently for a notebook that loads it: with no
    session in the server, its kernel signs with the profile's own keys as before, and its
    magics issue in the kernel (with those keys) unless --server says otherwise."""
    kernel = signed_out.start_kernel()
    user = f"arn:aws:iam::{sandbox.account_id}:user/stsmagic-user"
    out = signed_out.run(kernel, f"{LOAD}{WHO}")
    assert out.strip().splitlines()[-1] == user
    out = signed_out.run(kernel, f"s = %sts_session --token-code {sandbox.mfa_code()}\n{KEY}")
    assert "Signed in the Jupyter server" not in out
    assert signed_out.run(kernel, "import stsmagic; print(stsmagic.sessions.labels)").strip() == (
        "('session-1',)"
    )
    assert rows(signed_out) == {}
    # the kernel's own session signs, not the server's (there is none) nor the source
    own = signed_out.run(kernel, "print(stsmagic.sessions.active.masked_access_key[-4:])")
    assert out.strip().splitlines()[-1] == own.strip()
    # back to the source: the server's session once it has one, at once
    signed_out.run(kernel, "%sts_use --source")
    federation(signed_out, "quinn")
    assert signed_out.run(kernel, WHO).strip() == arn("quinn")
    forget_all(signed_out)
    assert signed_out.run(kernel, WHO).strip() == user
