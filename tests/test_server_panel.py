"""A joined kernel's ``%sts_panel`` shows the Jupyter server's sessions under its own: the
panel's columns, Use and Forget acting on the server, the line saying what the server's kernels
and terminals sign with, refreshed as soon as the server changes. Run where users run it: in a
kernel the real ``jupyter server`` (with the extension, against the sandbox) started.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers.jupyter_server import JupyterServer
from tests.test_server import federation

pytestmark = pytest.mark.server

# The panel, and what the section shows of it as JSON: {label: [cell texts]}, the line, the
# message line, and the server's part of _repr_html_.
PANEL = """\
%load_ext stsmagic
import json
from stsmagic.widgets.panel import shown_text
p = %sts_panel
def shown():
    s = p.server
    return json.dumps({
        "rows": {label: [shown_text(c.value) for c in view.cells]
                 for label, view in s.rows.items()},
        "line": shown_text(s.line.value),
        "message": shown_text(p.message.value),
        "html": p._repr_html_(),
        "text": p.text(),
    })
"""


def shown(server: JupyterServer, kernel: str, code: str = "") -> dict[str, Any]:
    out = server.run(kernel, f"{code}\nprint(shown())")
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_the_panel_shows_the_servers_sessions_and_what_its_kernels_sign_with(
    signed_out: JupyterServer,
) -> None:
    row = federation(signed_out, "alice")
    alice = row["label"]
    bob = federation(signed_out, "bob", activate=False)["label"]
    kernel = signed_out.start_kernel()
    seen = shown(signed_out, kernel, PANEL)
    assert list(seen["rows"]) == [alice, bob]  # the active first
    label, kind, status, left = seen["rows"][alice]
    assert (label, kind, status) == (alice, "federation", "● active")
    hours, minutes, seconds = (int(n) for n in left.split(":"))  # the kernel's countdown
    assert 0 <= row["remaining_seconds"] - (hours * 3600 + minutes * 60 + seconds) < 60, left
    assert seen["rows"][bob][:3] == [bob, "federation", "standby"]
    assert seen["line"] == f"The Jupyter server's kernels and terminals sign with {alice}."
    assert seen["message"] == ""
    # where no widget frontend exists: the same table in _repr_html_ and the text
    page = seen["html"]
    assert "On the Jupyter server" in page and page.count("<tr class=") == 2
    assert alice in page and bob in page
    assert "On the Jupyter server" in seen["text"] and "● active" in seen["text"]


def test_use_and_forget_on_a_server_row_act_on_the_server(signed_out: JupyterServer) -> None:
    alice = federation(signed_out, "alice")["label"]
    bob = federation(signed_out, "bob", activate=False)["label"]
    kernel = signed_out.start_kernel()
    signed_out.run(kernel, PANEL)
    seen = shown(signed_out, kernel, f"p.server.rows[{bob!r}].buttons['Use'].click()")
    assert seen["message"] == f"Using {bob} on the Jupyter server"
    assert signed_out.api("GET", "sessions")[1]["active"] == bob
    assert seen["rows"][bob][2] == "● active" and seen["rows"][alice][2] == "standby"
    assert seen["line"].endswith(f"sign with {bob}.")
    # the active row's Use is disabled, as in the kernel's table
    out = signed_out.run(kernel, f"print(p.server.rows[{bob!r}].buttons['Use'].disabled)")
    assert out.strip() == "True"

    seen = shown(signed_out, kernel, f"p.server.rows[{alice!r}].buttons['Forget'].click()")
    assert seen["message"] == f"Forgot {alice} on the Jupyter server"
    assert [r["label"] for r in signed_out.api("GET", "sessions")[1]["sessions"]] == [bob]
    assert list(seen["rows"]) == [bob]
    # what the server refuses is one line in the message line: a row forgot meanwhile
    signed_out.run(kernel, f"forget = p.server.rows[{bob!r}].buttons['Forget']")
    assert signed_out.api("DELETE", f"sessions/{bob}")[0] == 204
    seen = shown(signed_out, kernel, "forget.click()")
    assert seen["message"] == f"✗ no session labelled '{bob}'"
    assert seen["rows"] == {}


def test_a_change_in_the_server_shows_at_once_and_close_leaves_the_follower(
    signed_out: JupyterServer,
) -> None:
    kernel = signed_out.start_kernel()
    seen = shown(signed_out, kernel, PANEL)
    assert seen["rows"] == {}
    assert seen["line"].startswith("The Jupyter server's kernels and terminals have no session")
    follower = (
        "follower = next(c for c in get_ipython().configurables "
        "if type(c).__name__ == 'StsMagics')._server_follower\n"
    )
    out = signed_out.run(kernel, f"{follower}print(len(follower.listeners))")
    assert out.strip() == "1"
    carl = federation(signed_out, "carl")["label"]
    # heard from the follower, not asked at the timer's 30 s backstop
    out = signed_out.run(
        kernel,
        "import time\nend = time.monotonic() + 10\n"
        f"while {carl!r} not in p.server.rows and time.monotonic() < end:\n"
        "    time.sleep(0.05)\n"
        "print(list(p.server.rows))",
    )
    assert out.strip() == repr([carl])
    out = signed_out.run(kernel, "p.close()\nprint(len(follower.listeners))")
    assert out.strip() == "0"


def test_no_widget_state_of_the_panel_holds_a_secret(signed_out: JupyterServer) -> None:
    federation(signed_out, "dana")
    kernel = signed_out.start_kernel()
    out = signed_out.run(
        kernel,
        f"{PANEL}\nimport boto3\nfrom tests.helpers.widgets import widget_states\n"
        "c = boto3.session.Session().get_credentials().get_frozen_credentials()\n"
        "states = widget_states()\n"
        "print(len(p.server.rows), len(c.secret_key) > 20, c.secret_key in states, "
        "c.token in states, c.access_key in states, c.access_key[-4:] in states)",
    )
    assert out.split() == ["1", "True", "False", "False", "False", "True"]
