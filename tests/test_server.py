"""The Jupyter server extension, as users run it: a real ``jupyter server`` on 127.0.0.1 with
stsmagic enabled, its REST API called with the server's token, kernels and a terminal started
through it, all against the sandbox.

One server serves the whole module (each test signs in as it needs); the tests that restart or
reconfigure start their own.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.jupyter_server import JupyterServer, forget_all, server_environ

pytestmark = pytest.mark.server

WHO = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
# a new boto3 session fetches anew (the default session keeps what it fetched until the end
# the endpoint gave it: a switch reaches it within that, DESIGN's 2 minutes)
WHO_NOW = "import boto3; print(boto3.session.Session().client('sts').get_caller_identity()['Arn'])"
AWS = Path(sys.executable).parent / "aws"  # a terminal is a login shell: its PATH is /etc's


environ = server_environ


def federation(server: JupyterServer, name: str, **extra: Any) -> dict[str, Any]:
    status, row = server.api("POST", "sessions", {"kind": "federation", "name": name, **extra})
    assert status == 201, row
    return dict(row)


def arn(name: str) -> str:
    return f"arn:aws:sts::123456789012:federated-user/{name}"


# -- the extension is there ------------------------------------------------------------------


def test_the_extension_is_loaded_and_serves_before_any_sign_in(signed_out: JupyterServer) -> None:
    status, state = signed_out.api("GET", "sessions")
    assert status == 200
    # the profile has mfa_serial: serve = auto serves from the start
    assert state["active"] is None and state["serving"] is True and state["sessions"] == []
    assert state["mfa_serial"].endswith(":mfa/stsmagic-user")
    assert "default" in state["profiles"]
    assert "stsmagic: the server signs in for profile default" in signed_out.log_text()


# -- signing in ------------------------------------------------------------------------------


def test_an_mfa_code_signs_in_the_server_and_a_bad_one_changes_nothing(
    signed_out: JupyterServer, sandbox: Any
) -> None:
    status, answer = signed_out.api("POST", "sessions", {"kind": "session", "token_code": "000000"})
    assert status == 400
    assert answer == {
        "message": "GetSessionToken refused: AccessDenied: MultiFactorAuthentication failed "
        "with invalid MFA one time pass code."
    }
    assert signed_out.api("GET", "sessions")[1]["sessions"] == []

    code = sandbox.mfa_code()
    status, row = signed_out.api("POST", "sessions", {"kind": "session", "token_code": code})
    assert status == 201, row
    assert (row["label"], row["kind"], row["status"], row["renewal"]) == (
        "session-1",
        "session",
        "active",
        "mfa",
    )
    assert re.fullmatch(r"ASIA…[A-Z0-9]{4}", row["access_key"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["expiration"])
    assert 43000 < row["remaining_seconds"] <= 43200
    state = signed_out.api("GET", "sessions")[1]
    assert state["active"] == "session-1" and [r["label"] for r in state["sessions"]] == [
        "session-1"
    ]
    # the code is in no log line, at DEBUG, nor any secret of the session
    assert code not in signed_out.log_text()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "session"}, "token_code: the 6-digit code of the MFA device"),
        ({"kind": "session", "token_code": "12345"}, "TokenCode"),
        ({"kind": "party"}, "kind: must be one of federation, profile, role, session"),
        ({"kind": "federation", "name": "a"}, "Name"),
        ({"kind": "federation", "name": "ok", "colour": "red"}, "colour: not a field of"),
        ({"kind": "federation", "name": "ok", "label": "x\ny"}, "label"),
        ({"kind": "federation", "name": "ok", "duration_seconds": "1h"}, "duration_seconds"),
        ({"kind": "profile", "profile": "nowhere"}, "nowhere"),
        ({"kind": "role"}, "role_arn: required"),
        ([1, 2], "the body must be a JSON object"),
    ],
)
def test_a_bad_sign_in_is_one_line_naming_the_field_and_changes_nothing(
    signed_out: JupyterServer, body: Any, message: str
) -> None:
    before = len(signed_out.log_text())
    status, answer = signed_out.api("POST", "sessions", body)
    assert status == 400, answer
    assert message in answer["message"] and "\n" not in answer["message"]
    assert signed_out.api("GET", "sessions")[1]["sessions"] == []
    assert "Traceback" not in signed_out.log_text()[before:]


def test_use_forget_and_the_source(signed_out: JupyterServer) -> None:
    alice = federation(signed_out, "alice")
    bob = federation(signed_out, "bob", activate=False)
    assert bob["status"] == "standby"
    status, answer = signed_out.api("PUT", "active", {"label": bob["label"]})
    assert status == 200 and answer["active"] == bob["label"], answer
    assert signed_out.api("PUT", "active", {"label": None})[1]["active"] is None
    status, answer = signed_out.api("PUT", "active", {"label": "carol"})
    assert (status, answer) == (404, {"message": "no session labelled 'carol'"})
    assert signed_out.api("DELETE", f"sessions/{alice['label']}")[0] == 204
    assert signed_out.api("DELETE", f"sessions/{alice['label']}")[0] == 404
    labels = [r["label"] for r in signed_out.api("GET", "sessions")[1]["sessions"]]
    assert labels == [bob["label"]]


def test_a_session_renews_on_demand_and_an_mfa_one_asks_for_a_code(
    signed_out: JupyterServer, sandbox: Any
) -> None:
    dave = federation(signed_out, "dave")
    status, renewed = signed_out.api("POST", f"sessions/{dave['label']}/renew", {})
    assert status == 200, renewed
    assert renewed["label"] == dave["label"] and renewed["access_key"] != dave["access_key"]
    assert renewed["renewed_at"] is not None
    session = signed_out.api(
        "POST", "sessions", {"kind": "session", "token_code": sandbox.mfa_code()}
    )[1]
    status, answer = signed_out.api("POST", f"sessions/{session['label']}/renew", {})
    assert status == 400 and answer["message"].startswith("token_code: ")


# -- Jupyter's own checks --------------------------------------------------------------------


def test_without_the_servers_token_nothing_is_answered_nor_changed(
    signed_out: JupyterServer,
) -> None:
    assert signed_out.api("GET", "sessions", token=None)[0] == 403
    assert signed_out.api("GET", "sessions", token="wrong")[0] == 403
    status, _ = signed_out.api(
        "POST", "sessions", {"kind": "federation", "name": "eve"}, token=None
    )
    assert status == 403
    assert signed_out.api("GET", "sessions")[1]["sessions"] == []


def test_a_cookie_without_the_xsrf_header_or_from_another_origin_is_refused(
    signed_out: JupyterServer,
) -> None:
    import http.cookiejar
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    # a browser's first visit: the token in the URL, then cookies only
    opener.open(f"{signed_out.base}/api/status?token=stsmagic-test-token").close()
    opener.open(f"{signed_out.base}/login").close()  # a page: it sets the _xsrf cookie
    cookies = {c.name: c.value for c in jar}
    assert "_xsrf" in cookies and any(name.startswith("username-") for name in cookies)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())

    body = {"kind": "federation", "name": "mallory"}
    refused = signed_out.api("POST", "sessions", body, token=None, headers={"Cookie": cookie})
    assert refused[0] == 403
    foreign = {"Cookie": cookie, "X-XSRFToken": cookies["_xsrf"], "Origin": "http://evil.example"}
    # Jupyter's own origin check answers a cross-origin API request 404
    assert signed_out.api("POST", "sessions", body, token=None, headers=foreign)[0] == 404
    assert signed_out.api("GET", "sessions")[1]["sessions"] == []
    same = {"Cookie": cookie, "X-XSRFToken": cookies["_xsrf"]}
    status, row = signed_out.api("POST", "sessions", body, token=None, headers=same)
    assert status == 201, row


# -- every kernel and terminal of the server signs with its session ---------------------------


def test_a_kernel_without_load_ext_signs_with_the_servers_session_and_follows_a_switch(
    signed_out: JupyterServer,
) -> None:
    kernel = signed_out.start_kernel()
    federation(signed_out, "frank")
    assert signed_out.run(kernel, WHO).strip() == arn("frank")
    assert signed_out.run(
        kernel, "!aws sts get-caller-identity --query Arn --output text"
    ).strip() == arn("frank")
    federation(signed_out, "grace")
    assert signed_out.run(kernel, WHO_NOW).strip() == arn("grace")
    forget_all(signed_out)
    with pytest.raises(RuntimeError, match="NoActiveSession") as caught:
        signed_out.run(kernel, WHO_NOW)
    assert "sign in with the AWS item in JupyterLab's status bar" in str(caught.value)


def test_a_kernel_with_load_ext_signs_with_the_servers_session(signed_out: JupyterServer) -> None:
    kernel = signed_out.start_kernel()
    federation(signed_out, "heidi")
    out = signed_out.run(kernel, f"%load_ext stsmagic\n{WHO}")
    assert out.strip().splitlines()[-1] == arn("heidi")


def test_a_terminal_signs_with_the_servers_session(signed_out: JupyterServer) -> None:
    federation(signed_out, "ivan")
    screen = signed_out.terminal(
        f"{AWS} sts get-caller-identity --query Arn --output text", until=r"federated-user/ivan"
    )
    assert arn("ivan") in screen


def test_a_kernel_busy_in_a_long_c_call_does_not_stop_its_childs_fetch(
    signed_out: JupyterServer,
) -> None:
    kernel = signed_out.start_kernel()
    federation(signed_out, "judy")
    child = (
        "import boto3, time\n"
        "for _ in range(6):\n"
        "    sts = boto3.session.Session().client('sts')\n"
        "    print(sts.get_caller_identity()['Arn'], flush=True)\n"
        "    time.sleep(0.3)\n"
    )
    code = (
        "import subprocess, sys\n"
        f"child = subprocess.Popen([sys.executable, '-c', {child!r}],\n"
        "                         stdout=subprocess.PIPE, text=True)\n"
        "sum(range(12 * 10**7))  # one C call: holds the GIL for seconds\n"
        "out, _ = child.communicate(timeout=60)\n"
        "print(child.returncode, sorted(set(out.split())))"
    )
    assert signed_out.run(kernel, code).strip() == f"0 ['{arn('judy')}']"


def test_a_restarted_kernel_still_follows_the_server(signed_out: JupyterServer) -> None:
    kernel = signed_out.start_kernel()
    federation(signed_out, "ken")
    assert signed_out.run(kernel, WHO).strip() == arn("ken")
    signed_out.restart_kernel(kernel)
    federation(signed_out, "lena")
    assert signed_out.run(kernel, WHO_NOW).strip() == arn("lena")


# -- never serving, and a profile of its own keys ---------------------------------------------


def test_serve_never_leaves_kernels_with_the_profiles_own_keys(
    sandbox: Any, tmp_path: Path
) -> None:
    server = JupyterServer(tmp_path, environ(tmp_path, sandbox), ("--StsMagicServer.serve=never",))
    try:
        federation(server, "mike")
        assert server.api("GET", "sessions")[1]["serving"] is False
        kernel = server.start_kernel()
        assert server.run(kernel, WHO).strip() == "arn:aws:iam::123456789012:user/stsmagic-user"
    finally:
        server.stop()


def test_auto_serves_a_profile_with_its_own_keys_only_from_the_first_sign_in(
    sandbox: Any, tmp_path: Path
) -> None:
    env = environ(tmp_path, sandbox)
    config = Path(env["AWS_CONFIG_FILE"])
    config.write_text(re.sub(r"mfa_serial = .*\n", "", config.read_text()))
    server = JupyterServer(tmp_path, env)
    try:
        assert server.api("GET", "sessions")[1]["serving"] is False
        before = server.start_kernel()
        user = "arn:aws:iam::123456789012:user/stsmagic-user"
        assert server.run(before, WHO).strip() == user  # nothing changed for it
        federation(server, "nina")
        assert server.api("GET", "sessions")[1]["serving"] is True
        after = server.start_kernel()
        assert server.run(after, WHO).strip() == arn("nina")
        assert server.run(before, WHO).strip() == user  # started before: as it was
    finally:
        server.stop()
